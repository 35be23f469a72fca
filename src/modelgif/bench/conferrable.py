"""Conferrable probes: inputs a teacher's students inherit and independent models do not.

Why: a distilled student copies its teacher only through outputs on the attacker's data, so
the question is which inputs carry a teacher-specific decision across distillation. Lukas et
al. (ICLR 2021, "Deep neural network fingerprinting by conferrable adversarial examples")
answer it with the owner's own surrogates: the owner distills its model into a few shadow
students and trains a few reference models with true labels, then crafts small
perturbations of its images that the teacher and the shadow students put in a target class
while the references do not. A suspect that also picks the target is evidence of lineage.
This is a reimplementation from the paper's idea, simplified: PGD towards the teacher's
second choice on  log p_teacher(t) + mean log p_shadow(t) + mean log(1 - p_reference(t)),
then the K probes with the highest conferrability  mean p_shadow(t) (1 - mean p_reference(t))
among those the teacher itself puts in t.

Everything the owner trains here uses owner images no zoo model trains on or probes with
(`HELD_BACK`), seeds derived from the zoo seed and the teacher, one thread: a rerun rebuilds
the same probes. The probes are cached per teacher under the zoo folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch
from torch import nn

from modelgif.zoo.fashion_zoo import BANK_OWNER, BASE, FashionZoo, fashion_net
from modelgif.zoo.training import TrainConfig, predict_logits, train

__all__ = ["EPSILON", "N_PROBES", "conferrable_probes", "suspect_logits"]

HELD_BACK = (22_000, 30_000)  # owner images past the probe bank: shadows and references
SHADOW_QUERIES = 4_000  # held-back images a shadow student is distilled on
EPSILON = 0.2  # L-infinity radius of a perturbation (inputs in [0, 1])
STEPS, STEP_SIZE = 40, 0.01
CANDIDATES = 600  # owner bank images perturbed
N_PROBES = 100  # kept: the most conferrable


def _seed(zoo: FashionZoo, purpose: str) -> int:
    digest = hashlib.sha256(f"modelgif-bench-conferrable:{zoo.seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _owner_models(zoo: FashionZoo, teacher_id: str, teacher: nn.Module
                  ) -> tuple[list[nn.Module], list[nn.Module]]:
    """(shadow students: soft and hard labels into both architectures; references: two
    seeds of each architecture on the held-back images with true labels)."""
    x = zoo.data.owner.x[HELD_BACK[0]:HELD_BACK[1]]
    y = zoo.data.owner.y[HELD_BACK[0]:HELD_BACK[1]]
    probs = torch.softmax(predict_logits(teacher, x[:SHADOW_QUERIES]), 1).numpy()
    targets = {"soft": probs.astype(np.float32), "hard": probs.argmax(1).astype(np.int64)}
    shadows, references = [], []
    for arch in ("cnn", "pool"):
        for kind, target in targets.items():
            seed = _seed(zoo, f"{teacher_id}:shadow:{arch}:{kind}")
            shadows.append(train(fashion_net(arch, seed), x[:SHADOW_QUERIES], target,
                                 TrainConfig("adam", 2e-3, 4, 128), seed))
        for k in range(2):
            seed = _seed(zoo, f"{teacher_id}:reference:{arch}:{k}")
            references.append(train(fashion_net(arch, seed), x, y, BASE, seed))
    return shadows, references


def _p(models: list[nn.Module], x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean probability of `target` over `models`, per input."""
    return torch.stack([torch.softmax(m(x), 1).gather(1, target[:, None])[:, 0]
                        for m in models]).mean(0)


def conferrable_probes(zoo: FashionZoo, teacher_id: str, teacher: nn.Module
                       ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(N_PROBES inputs, the target class of each), cached under the zoo folder."""
    recipe = (HELD_BACK, SHADOW_QUERIES, EPSILON, STEPS, STEP_SIZE, CANDIDATES, N_PROBES)
    tag = hashlib.sha256(repr(recipe).encode()).hexdigest()[:10]  # another recipe: rebuilt
    path = zoo.root / "conferrable" / f"{teacher_id}.{tag}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            return np.asarray(stored["x"]), np.asarray(stored["target"])
    torch.set_num_threads(1)
    shadows, references = _owner_models(zoo, teacher_id, teacher)
    for model in (teacher, *shadows, *references):
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    rng = np.random.default_rng(_seed(zoo, f"{teacher_id}:candidates"))
    bank = zoo.data.owner.x[BANK_OWNER[0]:BANK_OWNER[1]]
    base = torch.from_numpy(bank[np.sort(rng.choice(len(bank), CANDIDATES, replace=False))])
    with torch.no_grad():
        target = torch.softmax(teacher(base), 1).argsort(1, descending=True)[:, 1]
    x = base.clone()
    for _ in range(STEPS):
        x.requires_grad_(True)
        objective = (torch.log_softmax(teacher(x), 1).gather(1, target[:, None])[:, 0]
                     + torch.stack([torch.log_softmax(m(x), 1).gather(1, target[:, None])[:, 0]
                                    for m in shadows]).mean(0)
                     + torch.log1p(-_p(references, x, target).clamp(max=1.0 - 1e-6)))
        (gradient,) = torch.autograd.grad(objective.sum(), x)
        with torch.no_grad():
            x = (x + STEP_SIZE * gradient.sign()).clamp(base - EPSILON, base + EPSILON)
            x = x.clamp(0.0, 1.0)
    with torch.no_grad():
        hit = teacher(x).argmax(1) == target
        score = _p(shadows, x, target) * (1.0 - _p(references, x, target)) * hit
    keep = torch.sort(torch.argsort(score, descending=True)[:N_PROBES]).values
    probes = x[keep].numpy().astype(np.float32)
    targets = target[keep].numpy().astype(np.int64)
    _save(path, probes, targets)
    return probes, targets


def _save(path: Path, x: npt.NDArray[np.float32], target: npt.NDArray[np.int64]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, x=x, target=target)
    tmp.replace(path)


def suspect_logits(zoo: FashionZoo, model_id: str, x: npt.NDArray[np.float32]
                   ) -> npt.NDArray[np.float64]:
    """The suspect's logits at the probes, from its ONNX file (what a verifier holds)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(zoo.onnx_path(model_id)), options,
                                   providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    return np.asarray(out, dtype=np.float64)
