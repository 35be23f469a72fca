"""The demo's unlearning models: an original, references retrained without one class, and
two claimed unlearnings (an honest retrain and a logit-masking cheat), trained once.

Why a module of its own: training them is most of the demo's first run (13 models), so they
are kept in the zoo cache (`cached_folder`), keyed by the zoo, the libraries, this file and
the training code it calls. Editing the demo's words must not throw that work away, so the
key hashes this file, not the demo's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from modelgif.fingerprint.normalize import normalize
from modelgif.zoo.architectures import build_architecture
from modelgif.zoo.build import code_hash, library_versions
from modelgif.zoo.cache import cached_folder
from modelgif.zoo.manifest import ModelRecord, Zoo
from modelgif.zoo.training import TrainConfig, train
from modelgif.zoo.unlearners import unlearn

__all__ = ["CLAIMS", "FORGOTTEN_CLASS", "N_REFERENCES", "cached_unlearning_models"]

FORGOTTEN_CLASS = 3
N_REFERENCES = 10  # the unlearning benchmark's setting (BENCHMARKS.md)
MAX_EPOCHS = 15  # the training budget of each model (first run only; then cached)
CLAIMS = ("retrain", "mask-logit")
Bar = Callable[[str, int | None], AbstractContextManager[Callable[[int, int], None]]]


def _key(zoo: Zoo, source: ModelRecord) -> str:
    """Everything that decides the bytes of the models."""
    here = Path(__file__).parent
    sources = [here / name for name in ("demo_unlearning.py", "unlearners.py", "training.py",
                                        "architectures.py")]
    return json.dumps({
        "zoo": zoo.root.name, "zoo_code": code_hash(), "libraries": library_versions(),
        "source": source.id, "forgotten_class": FORGOTTEN_CLASS, "references": N_REFERENCES,
        "max_epochs": MAX_EPOCHS, "claims": CLAIMS,
        "code": [hashlib.sha256(path.read_bytes()).hexdigest() for path in sources],
    }, sort_keys=True)


def _train(out: Path, zoo: Zoo, source: ModelRecord, bar: Bar) -> None:
    """Train the original, the references and the claimed unlearnings into `out`."""
    data = zoo.data(source.dataset)
    x, y = data.owner.x, data.owner.y
    forget = y == FORGOTTEN_CLASS
    recipe = {f.name: source.recipe[f.name] for f in fields(TrainConfig)}
    config = TrainConfig(**{**recipe, "epochs": min(int(recipe["epochs"]), MAX_EPOCHS)})
    arch, dataset = source.architecture, source.dataset
    example = torch.from_numpy(x[:2])

    def save(name: str, module: torch.nn.Module) -> None:
        normalize(module, example, input_range=data.input_range).save(out / f"{name}.onnx")

    total = 1 + N_REFERENCES + len(CLAIMS)
    with bar("unlearning models trained (once)", total) as update:
        original = build_architecture(dataset, arch, 10, 101)
        train(original, x, y, config, 101)
        save("original", original)
        update(1, total)
        for i in range(N_REFERENCES):
            save(f"reference-{i}", unlearn("retrain", original, dataset, arch, x, y, forget,
                                           config, 200 + i))
            update(2 + i, total)
        for j, method in enumerate(CLAIMS):
            save(f"claimed-{method}", unlearn(method, original, dataset, arch, x, y, forget,
                                              config, 300, forgotten_class=FORGOTTEN_CLASS))
            update(2 + N_REFERENCES + j, total)
    np.save(out / "forget.npy", x[forget])
    np.save(out / "retain.npy", x[~forget])


def cached_unlearning_models(zoo: Zoo, source: ModelRecord, bar: Bar) -> Path:
    """The cached folder of original.onnx, reference-*.onnx, claimed-*.onnx, forget.npy and
    retain.npy for `source`, trained on first use (`bar` shows the progress)."""
    return cached_folder("demo-unlearning", _key(zoo, source),
                         lambda out: _train(out, zoo, source, bar))
