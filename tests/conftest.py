"""Shared test setup: quiet exporters, and `tests/` importable for the model factory."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore", module="torch.onnx")
warnings.filterwarnings("ignore", category=DeprecationWarning)
