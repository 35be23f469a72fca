"""Fashion-MNIST for the distillation benchmark: 70,000 real 28x28 images, read from disk.

Why this dataset: on the built-in digits a teacher errs on 10 of 397 test images, so every
competent model agrees with every other and distillation is hard to tell from independent
training. Fashion-MNIST is harder (small CNNs reach ~85-90 %), so models differ where they
err and off the data, which is where a distilled student's resemblance to its teacher lives.

Where the files come from: Debian's `dataset-fashion-mnist` installs the four original IDX
files (gzip) under /usr/share/datasets/fashion-mnist. Nothing is downloaded at run time;
`load_fashion(path)` reads that folder (or another holding the same four files) and a
missing file is one clear error naming the package to install.

Splits (all seeded, disjoint): the 60,000 training images are dealt class-stratified into an
*owner* half and an *attacker* half (the thief's own data, never seen by the owner); the
official 10,000 test images are the *test* split. Inputs are float32 in [0, 1], shape
(N, 1, 28, 28).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from modelgif.digests import arrays_digest
from modelgif.errors import InputError
from modelgif.zoo.data import Split, _stratified

__all__ = [
    "DEFAULT_PATH",
    "FASHION_ENV",
    "FashionData",
    "default_path",
    "load_fashion",
]

DEFAULT_PATH = Path("/usr/share/datasets/fashion-mnist")
FASHION_ENV = "MODELGIF_FASHION_MNIST"
FILES = {
    "train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz",
}  # fmt: skip
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")  # fmt: skip
MAX_BYTES = 64 * 2**20  # the largest file unpacks to 47 MB
INPUT_SHAPE = (1, 28, 28)


class FashionData:
    """Owner, attacker and test splits of Fashion-MNIST (see the module docstring)."""

    def __init__(self, owner: Split, attacker: Split, test: Split, seed: int) -> None:
        self.owner, self.attacker, self.test, self.seed = owner, attacker, test, seed
        self.input_shape = INPUT_SHAPE
        self.input_range = (0.0, 1.0)
        self.num_classes = len(CLASSES)

    def digest(self) -> str:
        """sha256 over every array, so results pin the exact data they were computed from."""
        return arrays_digest(a for s in (self.owner, self.attacker, self.test)
                             for a in (s.x, s.y))


def default_path() -> Path:
    """$MODELGIF_FASHION_MNIST, else the Debian package's install location."""
    configured = os.environ.get(FASHION_ENV)
    return Path(configured) if configured else DEFAULT_PATH


def _read_idx(path: Path, magic: int, count: int | None = None) -> np.ndarray:
    """One gzip IDX file (magic 2049: labels, 2051: images) as a uint8 array."""
    if not path.is_file():
        raise InputError(
            f"Fashion-MNIST file {path} not found; install it with "
            "`apt-get install dataset-fashion-mnist` or set MODELGIF_FASHION_MNIST to a folder "
            "holding the four IDX .gz files."
        )
    with gzip.open(path, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES or len(raw) < 8:
        raise InputError(f"Fashion-MNIST file {path} has an unexpected size.")
    found, n = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")
    header = 8 if magic == 2049 else 16
    shape: tuple[int, ...] = (n,) if magic == 2049 else (n, 28, 28)
    if found != magic or len(raw) != header + int(np.prod(shape)) or (count and n != count):
        raise InputError(f"Fashion-MNIST file {path} is not the expected IDX file.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion(path: str | Path | None = None, seed: int = 0) -> FashionData:
    """Read the four IDX files under `path` (default: `default_path()`) and split them."""
    folder = Path(path) if path is not None else default_path()
    train_y = _read_idx(folder / FILES["train_y"], 2049).astype(np.int64)
    train_x = _read_idx(folder / FILES["train_x"], 2051, len(train_y))
    test_y = _read_idx(folder / FILES["test_y"], 2049).astype(np.int64)
    test_x = _read_idx(folder / FILES["test_x"], 2051, len(test_y))
    if train_y.max() >= len(CLASSES) or test_y.max() >= len(CLASSES):
        raise InputError(f"Fashion-MNIST labels under {folder} are outside 0-9.")

    def images(raw: np.ndarray) -> np.ndarray:
        return (raw.astype(np.float32) / 255.0).reshape(-1, *INPUT_SHAPE)

    x = images(train_x)
    half = len(train_y) // 2
    owner, attacker, _ = _stratified(x, train_y, (half, len(train_y) - half, 0),
                                     np.random.default_rng(seed))
    return FashionData(owner, attacker, Split(images(test_x), test_y), seed)
