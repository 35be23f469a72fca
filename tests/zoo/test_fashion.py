"""The Fashion-MNIST reader: real IDX framing, splits, and one clear error when missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.zoo.fashion import FILES, load_fashion


def _write_idx(folder: Path, n_train: int, n_test: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        header = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (folder / FILES[f"{prefix}_x"]).write_bytes(gzip.compress(header + images.tobytes()))
        header = (2049).to_bytes(4, "big") + n.to_bytes(4, "big")
        (folder / FILES[f"{prefix}_y"]).write_bytes(gzip.compress(header + labels.tobytes()))


def test_reads_idx_files_into_disjoint_stratified_splits(tmp_path: Path) -> None:
    _write_idx(tmp_path, 200, 50, 0)
    data = load_fashion(tmp_path, seed=1)
    assert (len(data.owner), len(data.attacker), len(data.test)) == (100, 100, 50)
    assert data.owner.x.shape == (100, 1, 28, 28) and data.owner.x.dtype == np.float32
    assert data.owner.x.min() >= 0.0 and data.owner.x.max() <= 1.0
    assert np.bincount(data.owner.y).tolist() == [10] * 10
    owner = {a.tobytes() for a in data.owner.x}
    assert not owner & {a.tobytes() for a in data.attacker.x}
    assert load_fashion(tmp_path, seed=1).digest() == data.digest()
    assert load_fashion(tmp_path, seed=2).digest() != data.digest()


def test_missing_or_corrupt_files_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        load_fashion(tmp_path / "absent")
    _write_idx(tmp_path, 20, 10, 0)
    (tmp_path / FILES["test_y"]).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(20)))
    with pytest.raises(InputError, match="not the expected IDX"):
        load_fashion(tmp_path)
