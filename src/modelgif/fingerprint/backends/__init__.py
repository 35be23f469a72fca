"""Gradient backends: exact (reverse mode through TorchGraph) and black-box (finite differences).

Both implement `Backend` (base.py); `select_backend` picks one, exact when it verifiably
works, and says why.
"""

from __future__ import annotations

from modelgif.fingerprint.backends.base import Backend, PointGradients
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend, default_eps
from modelgif.fingerprint.backends.exact import ExactBackend, default_device
from modelgif.fingerprint.backends.select import BACKENDS, as_onnx, select_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "BlackBoxBackend",
    "ExactBackend",
    "PointGradients",
    "as_onnx",
    "default_device",
    "default_eps",
    "select_backend",
]
