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

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore", module="torch.onnx")
os.environ.setdefault(
    "MODELGIF_CACHE", str(Path(tempfile.gettempdir()) / f"modelgif-test-cache-{os.getuid()}")
)
