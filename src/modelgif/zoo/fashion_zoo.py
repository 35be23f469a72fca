"""A cached Fashion-MNIST zoo of teachers, distilled students, noise thieves and negatives.

Why this zoo: it asks whether a suspect was made FROM one teacher, when the suspect may be
a student that only ever saw the teacher's outputs, or a thief that fine-tuned the teacher
on its own data plus random-labelled uniform noise to scrub it off the data. The negatives
make "was distilled" or "was fine-tuned" useless as a cue: besides independent models
trained with true labels, every other teacher's students and thieves are negatives too.

Models (small CNNs of two architectures, `cnn` and `pool`; both end in Linear -> ReLU ->
Linear like every ZooNet):
- teachers: trained on the owner's data (labels), one per entry of `TEACHERS`;
- students of each teacher: trained on the attacker's own images labelled only by the
  teacher's outputs (soft probabilities, renormalised top-3 probabilities, or the top-1
  label), into either architecture, at two query budgets;
- thieves of each teacher: a copy of the teacher fine-tuned on attacker data (true labels)
  mixed with uniform noise in [0, 1] under random labels, over a grid of epochs x learning
  rate x noise share (noise share 0 is plain fine-tuning);
- independents: trained with true labels on the owner's or the attacker's data, several
  seeds, both architectures.

Every model is written once as ONNX (what a verifier sees) plus its logits on a fixed probe
bank and its top-1 on the test split (what the output statistics read), under a folder keyed
by the seed and `ZOO_VERSION`; each model's JSON records its recipe and a model whose
recorded recipe differs from the plan's is rebuilt, so a rerun reuses what exists, an
interrupted build resumes, and a larger plan (more independents) trains only what is new.
Teachers also keep their weights (numpy .npz, read without pickle) so thieves can be
rebuilt.
CPU cost of a full build: about 4 CPU-minutes on one thread (measured on this project's CI
machine, shared).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from torch import nn

from modelgif.errors import InputError
from modelgif.fingerprint.normalize import normalize
from modelgif.zoo.architectures import ZooNet
from modelgif.zoo.fashion import FashionData, load_fashion
from modelgif.zoo.plan import derive_seed
from modelgif.zoo.training import TrainConfig, predict_logits, train

__all__ = [
    "BANK_PARTS",
    "FashionModel",
    "FashionZoo",
    "build_fashion_zoo",
    "fashion_net",
    "plan",
]

FloatArray = npt.NDArray[np.float32]

OWNER_TRAIN = 12_000  # owner images a teacher or owner-data independent trains on
BANK_OWNER = (20_000, 22_000)  # owner images never trained on: the owner's probe pool
ATTACKER_TRAIN = 12_000  # attacker images an attacker-data independent trains on
BUDGETS = (2_000, 8_000)  # a student's queries (attacker images)
THIEF_DATA = 4_000  # attacker images a thief fine-tunes on
BANK_PARTS = ("owner", "noise", "cutmix", "mixup")
BANK_SYNTH = 512  # inputs per synthetic probe part

TEACHERS = (("t0", "cnn"), ("t1", "pool"), ("t2", "cnn"))
STUDENT_OUTPUTS = ("soft", "top3", "hard")
THIEF_EPOCHS = (1, 3)
THIEF_LRS = (1e-3, 4e-3)
THIEF_NOISE = (0.0, 0.3, 0.6)
INDEPENDENT_SEEDS = 3  # per architecture and data (owner / attacker): 12 independents
ZOO_VERSION = "v1"  # bump when anything that changes a trained model changes (training, data)

BASE = TrainConfig(optimizer="adam", lr=2e-3, epochs=4, batch_size=128)


def _cnn() -> ZooNet:
    return ZooNet(nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 49, 64), nn.ReLU(),
    ), nn.Linear(64, 10))  # fmt: skip


def _pool() -> ZooNet:
    return ZooNet(nn.Sequential(
        nn.Conv2d(1, 12, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(12, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(24 * 9, 64), nn.ReLU(),
    ), nn.Linear(64, 10))  # fmt: skip


_NETS: dict[str, Callable[[], ZooNet]] = {"cnn": _cnn, "pool": _pool}


def fashion_net(name: str, seed: int) -> ZooNet:
    """A fresh `name` network ("cnn" or "pool") with weights drawn from `seed`."""
    if name not in _NETS:
        raise InputError(f"Unknown Fashion-MNIST architecture {name!r}; use cnn or pool.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _NETS[name]()


@dataclass(frozen=True)
class FashionModel:
    """One model of the zoo and how it was made (`recipe` is JSON-ready)."""

    id: str
    category: str  # teacher | student | thief | independent
    architecture: str
    teacher: str | None  # the teacher it was made from (None: independent, teacher)
    recipe: dict[str, Any] = field(default_factory=dict)


def plan(seed: int, independent_seeds: int = INDEPENDENT_SEEDS) -> list[FashionModel]:
    """Every model of the zoo, teachers first (students and thieves need them).

    `independent_seeds` per architecture and data: more independents are more calibration
    negatives; the first ones keep their ids and seeds whatever the count."""
    out = [FashionModel(t, "teacher", arch, None, {"data": "owner", "seed": derive_seed(
        seed, f"fashion:{t}")}) for t, arch in TEACHERS]
    for t, _ in TEACHERS:
        for kind in STUDENT_OUTPUTS:
            for arch in _NETS:
                for budget in BUDGETS:
                    mid = f"{t}.student-{kind}-{arch}-{budget}"
                    out.append(FashionModel(mid, "student", arch, t, {
                        "outputs": kind, "budget": budget, "seed": derive_seed(seed, mid)}))
        arch = dict(TEACHERS)[t]
        for epochs in THIEF_EPOCHS:
            for lr in THIEF_LRS:
                for noise in THIEF_NOISE:
                    mid = f"{t}.thief-e{epochs}-lr{lr:g}-n{noise:g}"
                    out.append(FashionModel(mid, "thief", arch, t, {
                        "epochs": epochs, "lr": lr, "noise_share": noise,
                        "seed": derive_seed(seed, mid)}))
    for arch in _NETS:
        for data in ("owner", "attacker"):
            for k in range(independent_seeds):
                mid = f"ind-{arch}-{data}-{k}"
                out.append(FashionModel(mid, "independent", arch, None,
                                        {"data": data, "seed": derive_seed(seed, mid)}))
    return out


def _probe_bank(data: FashionData, seed: int) -> dict[str, FloatArray]:
    """The owner's probes: held-out owner images, uniform noise, CutMix and mixup pairs."""
    rng = np.random.default_rng(derive_seed(seed, "fashion:bank"))
    owner = data.owner.x[BANK_OWNER[0]:BANK_OWNER[1]]
    a = owner[rng.integers(0, len(owner), BANK_SYNTH)]
    b = owner[rng.integers(0, len(owner), BANK_SYNTH)]
    cut = a.copy()
    for i in range(BANK_SYNTH):  # a random box of b pasted into a (CutMix)
        h, w = rng.integers(8, 21, 2)
        r, c = rng.integers(0, 28 - h + 1), rng.integers(0, 28 - w + 1)
        cut[i, :, r:r + h, c:c + w] = b[i, :, r:r + h, c:c + w]
    lam = rng.uniform(0.3, 0.7, (BANK_SYNTH, 1, 1, 1)).astype(np.float32)
    noise = rng.uniform(0.0, 1.0, (BANK_SYNTH, 1, 28, 28)).astype(np.float32)
    return {"owner": owner, "noise": noise, "cutmix": cut,
            "mixup": (lam * a + (1 - lam) * b).astype(np.float32)}


class FashionZoo:
    """The built zoo: models, their ONNX paths, bank logits and test predictions."""

    def __init__(self, root: Path, data: FashionData, seed: int,
                 independent_seeds: int = INDEPENDENT_SEEDS) -> None:
        self.root, self.data, self.seed = root, data, seed
        self.models = {m.id: m for m in plan(seed, independent_seeds)}
        self.bank = _probe_bank(data, seed)
        self._info: dict[str, dict[str, Any]] = {}

    def onnx_path(self, model_id: str) -> Path:
        return self.root / f"{model_id}.onnx"

    def logits(self, model_id: str) -> dict[str, FloatArray]:
        """The model's logits on every bank part."""
        with np.load(self.root / f"{model_id}.npz", allow_pickle=False) as stored:
            return {p: np.asarray(stored[f"bank_{p}"]) for p in BANK_PARTS}

    def test_top1(self, model_id: str) -> npt.NDArray[np.int64]:
        with np.load(self.root / f"{model_id}.npz", allow_pickle=False) as stored:
            return np.asarray(stored["test_top1"]).astype(np.int64)

    def teacher_net(self, model_id: str) -> ZooNet:
        """A built teacher as a torch module (its weights are kept; other models' are not)."""
        net = fashion_net(self.models[model_id].architecture, 0)
        _load_weights(net, self.root / f"{model_id}.weights.npz")
        net.eval()
        return net

    def info(self, model_id: str) -> dict[str, Any]:
        """Recipe, test accuracy, agreement with and share of its teacher's accuracy."""
        if model_id not in self._info:
            self._info[model_id] = json.loads((self.root / f"{model_id}.json").read_text())
        return self._info[model_id]


def _save_weights(model: nn.Module, path: Path) -> None:
    arrays = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _load_weights(model: nn.Module, path: Path) -> None:
    with np.load(path, allow_pickle=False) as stored:
        model.load_state_dict({k: torch.from_numpy(np.asarray(stored[k])) for k in stored.files})


def _student_targets(logits: FloatArray, kind: str) -> FloatArray | npt.NDArray[np.int64]:
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy().astype(np.float32)
    if kind == "soft":
        return probs
    if kind == "hard":
        hard: npt.NDArray[np.int64] = probs.argmax(1).astype(np.int64)
        return hard
    top = np.argsort(-probs, axis=1)[:, :3]  # the API returns the top-3 probabilities only
    kept = np.zeros_like(probs)
    np.put_along_axis(kept, top, np.take_along_axis(probs, top, axis=1), axis=1)
    renormalised: FloatArray = (kept / kept.sum(1, keepdims=True)).astype(np.float32)
    return renormalised


def _train_model(zoo: FashionZoo, model: FashionModel, teachers: dict[str, ZooNet]) -> ZooNet:
    data, seed = zoo.data, int(model.recipe["seed"])
    if model.category in ("teacher", "independent"):
        split = data.owner if model.recipe["data"] == "owner" else data.attacker
        n = OWNER_TRAIN if model.recipe["data"] == "owner" else ATTACKER_TRAIN
        net = fashion_net(model.architecture, seed)
        return _zoonet(train(net, split.x[:n], split.y[:n], BASE, seed))
    assert model.teacher is not None
    teacher = teachers[model.teacher]
    if model.category == "student":
        budget = int(model.recipe["budget"])
        x = data.attacker.x[:budget]
        target = _student_targets(predict_logits(teacher, x).numpy(), model.recipe["outputs"])
        epochs = 4 * BUDGETS[-1] // budget // 2  # same number of steps per budget, halved
        config = TrainConfig(optimizer="adam", lr=2e-3, epochs=max(4, epochs), batch_size=128)
        net = fashion_net(model.architecture, seed)
        return _zoonet(train(net, x, target, config, seed))
    rng = np.random.default_rng(seed)
    x, y = data.attacker.x[:THIEF_DATA], data.attacker.y[:THIEF_DATA]
    share = float(model.recipe["noise_share"])
    n_noise = round(len(x) * share / (1.0 - share))
    noise = rng.uniform(0.0, 1.0, (n_noise, *x.shape[1:])).astype(np.float32)
    inputs = np.concatenate([x, noise]).astype(np.float32)
    labels = np.concatenate([y, rng.integers(0, 10, n_noise)]).astype(np.int64)
    config = TrainConfig(optimizer="adam", lr=float(model.recipe["lr"]),
                         epochs=int(model.recipe["epochs"]), batch_size=128)
    return _zoonet(train(copy.deepcopy(teacher), inputs, labels, config, seed))


def _zoonet(model: nn.Module) -> ZooNet:
    if not isinstance(model, ZooNet):
        raise InputError(f"Expected a ZooNet, got {type(model).__name__}.")
    return model


def _built(root: Path, model: FashionModel) -> bool:
    """True when `model` was written under `root` with the plan's recipe."""
    path = root / f"{model.id}.json"
    if not path.is_file():
        return False
    stored = json.loads(path.read_text())
    return bool(stored.get("recipe") == model.recipe)


def build_fashion_zoo(
    cache_dir: Path, seed: int = 0, data_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    independent_seeds: int = INDEPENDENT_SEEDS,
) -> FashionZoo:
    """Build (or reuse) the zoo under `cache_dir`/fashion-zoo-s<seed>-<ZOO_VERSION>."""
    torch.set_num_threads(1)
    data = load_fashion(data_path, seed)
    root = cache_dir / f"fashion-zoo-s{seed}-{ZOO_VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    zoo = FashionZoo(root, data, seed, independent_seeds)
    teachers: dict[str, ZooNet] = {}
    teacher_acc: dict[str, float] = {}
    teacher_top1: dict[str, npt.NDArray[np.int64]] = {}
    for model in zoo.models.values():
        done = _built(root, model)
        if model.category == "teacher":
            net = zoo.teacher_net(model.id) if done else _train_model(zoo, model, teachers)
            teachers[model.id] = net
        if done:
            if model.category == "teacher":
                teacher_acc[model.id] = zoo.info(model.id)["test_accuracy"]
                teacher_top1[model.id] = zoo.test_top1(model.id)
            continue
        if progress is not None:
            progress(model.id)
        if model.category != "teacher":
            net = _train_model(zoo, model, teachers)
        top1 = predict_logits(net, data.test.x).argmax(1).numpy().astype(np.int64)
        accuracy = float(np.mean(top1 == data.test.y))
        info: dict[str, Any] = {"id": model.id, "category": model.category,
                                "architecture": model.architecture, "teacher": model.teacher,
                                "recipe": model.recipe, "test_accuracy": accuracy}
        if model.category == "teacher":
            teacher_acc[model.id], teacher_top1[model.id] = accuracy, top1
            _save_weights(net, root / f"{model.id}.weights.npz")
        elif model.teacher is not None:
            info["share_of_teacher_accuracy"] = accuracy / teacher_acc[model.teacher]
            info["agreement_with_teacher"] = float(np.mean(top1 == teacher_top1[model.teacher]))
        normalized = normalize(net, torch.zeros(1, 1, 28, 28), input_range=(0.0, 1.0))
        tmp = root / f".{model.id}.tmp.onnx"
        onnx.save(normalized.model, str(tmp))
        os.replace(tmp, zoo.onnx_path(model.id))
        bank = {f"bank_{p}": predict_logits(net, x).numpy() for p, x in zoo.bank.items()}
        np.savez(root / f"{model.id}.npz", test_top1=top1.astype(np.uint8),
                 **bank)  # type: ignore[arg-type]
        (root / f".{model.id}.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        os.replace(root / f".{model.id}.json", root / f"{model.id}.json")  # written last
    return zoo
