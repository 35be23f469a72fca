"""What a zoo contains, decided before anything is trained: sizes, recipes, seeds, lineage.

Why a plan as plain data: the list of jobs is the zoo's ground truth *before* it is built,
so it can be counted (progress bars), listed and tested without training anything, and the
builder is a small interpreter of it. Every job's seed is derived from the zoo seed and the
job's id, so a model's randomness does not depend on the order or the set of jobs built.

Per dataset, the plan is (N = the size's count per category):

    sources (owner data) ─┬─ Finetune-A xN, Finetune-L xN        (attacker data, true labels)
                          ├─ fine-pruned xN, increasing rates    (attacker data)
                          ├─ Extract-P / Extract-L x(4 archs)    (queries: attacker data)
                          │     └─ Extract-Adv                    (PGD training of Extract-L)
                          ├─ Transfer xN                          (attacker data, regrouped labels)
                          ├─ Quantized: dynamic + static QDQ of the source and of Finetune-A
                          └─ Re-exported: dynamo export of the source and of fine-tunes
    independents: source and student architectures, own seeds, owner or attacker data
    independent transfer models: the same regroupings, trained from scratch
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

from modelgif.errors import InputError
from modelgif.zoo.architectures import SOURCE_ARCHITECTURES, STUDENT_ARCHITECTURES
from modelgif.zoo.attacks import LABEL_MAPS
from modelgif.zoo.data import DATASETS
from modelgif.zoo.training import TrainConfig

__all__ = ["SIZES", "Job", "Recipe", "SizeSpec", "derive_seed", "plan_zoo"]


def derive_seed(seed: int, purpose: str) -> int:
    """A 32-bit seed for `purpose`, derived from the zoo seed (independent streams)."""
    digest = hashlib.sha256(f"modelgif-zoo:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Recipe:
    """How one model was made; echoed into zoo.json (fields that are None are left out)."""

    method: str
    seed: int
    data_split: str | None = None
    train: TrainConfig | None = None
    teacher: str | None = None
    prune_rate: float | None = None
    adversary_eps: float | None = None
    adversary_steps: int | None = None
    calibration_split: str | None = None
    calibration_samples: int | None = None
    exporter: str = "legacy"

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict: the training config is inlined as optimizer, lr, ..."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, TrainConfig):
                out.update(value.as_dict())
            elif value is not None:
                out[f.name] = value
        return out


@dataclass(frozen=True)
class Job:
    """One model to make. `source` is the ground truth: the source it derives from, or None."""

    id: str
    dataset: str
    category: str
    parent: str | None
    source: str | None
    architecture: str
    label_map: str | None
    recipe: Recipe


@dataclass(frozen=True)
class SizeSpec:
    """How many models of each kind a zoo size holds, and how long they train."""

    name: str
    datasets: tuple[str, ...]
    sources: int
    finetune_a: int
    finetune_l: int
    prune_rates: tuple[float, ...]
    students: int
    extract_per_arch: int
    adversarial_per_arch: int
    transfer: int
    quantized_finetunes: int
    reexported: int
    # (architecture role, data split, count); roles: "src0", "src1", "stu0".."stu3"
    independents: tuple[tuple[str, str, int], ...]
    independent_transfer: int
    epochs: int
    finetune_epochs: int
    calibration_samples: int


_FULL_INDEPENDENTS = (
    ("src0", "owner", 2), ("src0", "attacker", 2),
    ("src1", "owner", 2), ("src1", "attacker", 2),
    ("stu0", "owner", 1), ("stu0", "attacker", 2),
    ("stu1", "owner", 1), ("stu1", "attacker", 2),
    ("stu2", "owner", 1), ("stu2", "attacker", 2),
    ("stu3", "owner", 1), ("stu3", "attacker", 2),
)  # fmt: skip

SIZES: dict[str, SizeSpec] = {
    "full": SizeSpec(
        name="full", datasets=DATASETS, sources=2, finetune_a=10, finetune_l=10,
        prune_rates=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
        students=4, extract_per_arch=3, adversarial_per_arch=3, transfer=10,
        quantized_finetunes=4, reexported=10, independents=_FULL_INDEPENDENTS,
        independent_transfer=10, epochs=40, finetune_epochs=5, calibration_samples=512,
    ),
    "small": SizeSpec(
        name="small", datasets=("mnist1d",), sources=1, finetune_a=2, finetune_l=2,
        prune_rates=(0.5, 0.9), students=2, extract_per_arch=1, adversarial_per_arch=1,
        transfer=2, quantized_finetunes=0, reexported=1,
        # 11 independents, most of the source's own architecture (the hardest negatives):
        # enough for a calibrated demo verdict with one held out
        independents=(
            ("src0", "owner", 3), ("src0", "attacker", 3), ("src1", "owner", 1),
            ("src1", "attacker", 1), ("stu0", "attacker", 1), ("stu1", "attacker", 1),
            ("stu2", "attacker", 1),
        ),
        independent_transfer=2, epochs=30, finetune_epochs=5, calibration_samples=256,
    ),
}  # fmt: skip
"""The zoo sizes: `full` for benchmarks, `small` for tests and the demo."""

# Digits has 700 training samples per split (MNIST-1D: 1,500 or 4,000): more epochs.
_EPOCH_SCALE = {"mnist1d": 1, "digits": 3}
# PGD radius for Extract-Adv, in input units (MNIST-1D is standardised, digits in [0, 1]).
_ADVERSARY_EPS = {"mnist1d": 0.3, "digits": 0.1}
_ADVERSARY_STEPS = 3


def plan_zoo(size: str, seed: int, datasets: tuple[str, ...] | None = None) -> list[Job]:
    """Every job of the zoo `size` for `seed`, in an order where parents come first."""
    if size not in SIZES:
        raise InputError(f"Unknown zoo size {size!r}; use {' or '.join(SIZES)}.")
    spec = SIZES[size]
    chosen = spec.datasets if datasets is None else datasets
    for name in chosen:
        if name not in DATASETS:
            raise InputError(f"Unknown dataset {name!r}; use one of {', '.join(DATASETS)}.")
    jobs: list[Job] = []
    for dataset in chosen:
        jobs += _DatasetPlanner(spec, seed, dataset).jobs()
    return jobs


class _DatasetPlanner:
    """Builds the job list of one dataset (see the module docstring for its shape)."""

    def __init__(self, spec: SizeSpec, seed: int, dataset: str) -> None:
        self.spec, self.seed, self.ds = spec, seed, dataset
        scale = _EPOCH_SCALE[dataset]
        self.epochs = spec.epochs * scale
        self.ft_epochs = spec.finetune_epochs * scale
        self.students = STUDENT_ARCHITECTURES[dataset][: spec.students]

    def jobs(self) -> list[Job]:
        out: list[Job] = []
        for arch in SOURCE_ARCHITECTURES[self.ds][: self.spec.sources]:
            source = self._job(f"src-{arch}", "source", None, None, arch, "train",
                               data_split="owner", train=TrainConfig(lr=2e-3, epochs=self.epochs))
            out += [source, *self._derivatives(source)]
        out += self._independents()
        return out

    def _job(self, name: str, category: str, parent: Job | None, source: Job | None,
             arch: str, method: str, *, label_map: str | None = None, full_id: str | None = None,
             **recipe: Any) -> Job:
        job_id = full_id or (f"{parent.id}.{name}" if parent else f"{self.ds}.{name}")
        seed = derive_seed(self.seed, job_id)
        return Job(job_id, self.ds, category, parent.id if parent else None,
                   source.id if source else None, arch, label_map,
                   Recipe(method=method, seed=seed, **recipe))

    def _derivatives(self, src: Job) -> list[Job]:
        spec, ft = self.spec, self.ft_epochs
        fta = [self._job(f"fta-{i}", "finetune-a", src, src, src.architecture, "finetune-all",
                         data_split="attacker",
                         train=TrainConfig(lr=(1e-3, 5e-4)[i % 2], epochs=ft * (1, 2)[i // 2 % 2]))
               for i in range(spec.finetune_a)]
        ftl = [self._job(f"ftl-{i}", "finetune-l", src, src, src.architecture, "finetune-last",
                         data_split="attacker",
                         train=TrainConfig(lr=(1e-3, 3e-3)[i % 2], epochs=2 * ft))
               for i in range(spec.finetune_l)]
        pruned = [self._job(f"prune-{round(rate * 100):02d}", "pruned", src, src,
                            src.architecture, "fine-prune", data_split="attacker",
                            prune_rate=rate, train=TrainConfig(lr=5e-4, epochs=2 * ft))
                  for rate in spec.prune_rates]
        extp: list[Job] = []
        extl: list[Job] = []
        adv: list[Job] = []
        for arch in self.students:
            for k in range(spec.extract_per_arch):
                for kind, method, bucket in (
                    ("p", "extract-soft", extp), ("l", "extract-hard", extl)
                ):
                    bucket.append(self._job(
                        f"ext{kind}-{arch}-{k}", f"extract-{kind}", src, src, arch, method,
                        data_split="attacker", teacher=src.id,
                        train=TrainConfig(lr=2e-3, epochs=self.epochs)))
                if k < spec.adversarial_per_arch:
                    student = extl[-1]
                    adv.append(self._job(
                        "adv", "extract-adv", student, src, arch, "adversarial",
                        data_split="attacker", teacher=src.id,
                        adversary_eps=_ADVERSARY_EPS[self.ds], adversary_steps=_ADVERSARY_STEPS,
                        train=TrainConfig(lr=5e-4, epochs=2 * ft)))
        maps = tuple(LABEL_MAPS)
        transfer = [self._job(f"transfer-{maps[i % len(maps)]}-{i}", "transfer", src, src,
                              src.architecture, "transfer", label_map=maps[i % len(maps)],
                              data_split="attacker", train=TrainConfig(lr=1e-3, epochs=2 * ft))
                    for i in range(spec.transfer)]
        quantized = []
        for target in [src, *fta[: spec.quantized_finetunes]]:
            quantized.append(self._job("qdyn", "quantized", target, src, target.architecture,
                                       "quantize-dynamic-int8"))
            quantized.append(self._job("qdq", "quantized", target, src, target.architecture,
                                       "quantize-static-qdq-int8", calibration_split="owner",
                                       calibration_samples=spec.calibration_samples))
        reexported = [self._job("dynamo", "reexported", target, src, target.architecture,
                                "reexport", exporter="dynamo")
                      for target in [src, *fta, *ftl][: spec.reexported]]
        return [*fta, *ftl, *pruned, *extp, *extl, *adv, *transfer, *quantized, *reexported]

    def _independents(self) -> list[Job]:
        roles = {f"src{i}": a for i, a in enumerate(SOURCE_ARCHITECTURES[self.ds])}
        roles |= {f"stu{i}": a for i, a in enumerate(STUDENT_ARCHITECTURES[self.ds])}
        config = TrainConfig(lr=2e-3, epochs=self.epochs)
        out = []
        for role, split, count in self.spec.independents:
            for k in range(count):
                arch = roles[role]
                out.append(self._job(f"ind-{arch}-{split}-{k}", "independent", None, None, arch,
                                     "train", data_split=split, train=config))
        maps, archs = tuple(LABEL_MAPS), tuple(roles.values())
        for i in range(self.spec.independent_transfer):
            label_map, arch = maps[i % len(maps)], archs[(i // len(maps)) % len(archs)]
            split = ("attacker", "owner")[(i // len(maps)) % 2]
            out.append(self._job(f"indtr-{label_map}-{arch}-{i}", "independent-transfer", None,
                                 None, arch, "train", label_map=label_map, data_split=split,
                                 train=config))
        return out

