"""Shared test setup: quiet exporters, a cache outside the home folder, `tests/` importable.

The zoo and the pretrained models are built on first use into $MODELGIF_CACHE. Tests never
write into the user's home or the repository: unless MODELGIF_CACHE is set, they use one
folder under the system's temporary directory, kept between runs so the zoo is built once.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore", module="torch.onnx")
os.environ.setdefault(
    "MODELGIF_CACHE", str(Path(tempfile.gettempdir()) / f"modelgif-test-cache-{os.getuid()}")
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding `slow` tests run first. Under the README's `-n 2 --dist loadfile` each
    file goes to one worker in this order, so the long ones start at once and the two
    workers end together instead of one waiting alone on the demo at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: order kept otherwise
