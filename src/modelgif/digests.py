"""sha256 of files, read in blocks, and of arrays: the one place evidence hashes are computed
and checked.

A model is more than its graph file: weights may live in external-data files beside it
(`model.onnx.data`). `external_data_digests` hashes those files, so
evidence tables and fingerprint subjects cover every byte.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from modelgif.safe_read import open_regular

__all__ = ["SHA256_HEX", "arrays_digest", "external_data_digests", "is_sha256", "sha256_file"]

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
"""A sha256 as modelgif writes it: 64 lowercase hex digits, nothing else (use fullmatch)."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (1 MiB blocks, so large models stay out of memory)."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:  # a FIFO or device never blocks
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrays_digest(arrays: Iterable[np.ndarray]) -> str:
    """"sha256:<hex>" over the C-order bytes of `arrays`, in order: what a manifest or a
    results file records to pin the exact data it was computed from."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"sha256:{digest.hexdigest()}"


def is_sha256(value: object) -> bool:
    """True for a str of exactly 64 lowercase hex digits."""
    return isinstance(value, str) and SHA256_HEX.fullmatch(value) is not None


def external_data_digests(path: str | Path) -> list[tuple[str, str]]:
    """(name, sha256) of an ONNX model's external-data files, by location beside the model.

    Empty for a self-contained model. Locations escaping the model's folder are refused
    (ModelLoadError), as on loading.
    """
    from modelgif.fingerprint.safe_onnx import external_data_files

    folder = Path(path).parent
    return [(name, sha256_file(folder / name)) for name in external_data_files(path)]
