"""One seed of the unlearning benchmark: an original, retrained references, every unlearner.

    (setting, seed) ──> data split, original M0 trained on the owner's split
      for each scenario (a whole class forgotten | a random 10 % of the owner's split):
        R = M + 1 honest retrains without the forget set
        every other unlearner applied to M0 (approximate and cheats), its per-epoch
            snapshots scored on the way (the curve of distance to the original)
        paired cosines of every model at the scenario's secret forget / retain anchors
        audits: each retrain in turn is the honest claim, the other M its references
                (R honest runs for the price of R trainings); every other claim is
                audited against retrains 1..M (the same M references as an honest claim)

Why honest claims by rotation: a retrain with a fresh seed is exchangeable with the
references, so auditing each against the others is exactly "an honest provider's claim
against M references" and costs no extra training. The runs of one seed share M0 and are
therefore correlated; the report says so next to its intervals.

Everything is seeded: data split, initialisations, batch orders, random forget sets, and
the auditor key (derived from the seed; a benchmark key is not a secret).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from cryptography.hazmat.primitives.asymmetric import ed25519
from torch import nn

from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.verifiers.unlearning import (
    PairedScorer,
    UnlearningVerdict,
    assess_unlearning,
    audit_anchors,
)
from modelgif.zoo.architectures import ZooNet, build_architecture
from modelgif.zoo.data import ZooData, load_data
from modelgif.zoo.training import TrainConfig, predict_logits, train
from modelgif.zoo.unlearners import UNLEARNERS, unlearn

__all__ = [
    "SCENARIOS",
    "Claim",
    "RunConfig",
    "SeedResult",
    "bench_key",
    "forget_mask",
    "run_seed",
]

SCENARIOS = ("class", "random")
FORGET_FRACTION = 0.10
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RunConfig:
    """What one seed of one setting runs; echoed into the results."""

    dataset: str
    architecture: str
    n_references: int = 10
    n_anchors: int = 64
    n_steps: int = 8
    epochs: int = 30
    target_fpr: float = 0.01
    curves: bool = False

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.architecture}"


@dataclass(frozen=True)
class Claim:
    """One audited claim: who made it, what the audit said, and what the model does."""

    setting: str
    seed: int
    scenario: str
    unlearner: str
    decision: str
    forget_similarity: float
    retain_similarity: float | None
    t_forget: float | None
    p_forget: float | None
    p_retain: float | None
    forget_accuracy: float  # the claimed model's accuracy on the forget set (behaviour)
    test_accuracy: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class SeedResult:
    """The claims of one (setting, seed) and, when asked, the distance curves."""

    claims: list[Claim] = field(default_factory=list)
    # scenario -> unlearner -> [(epoch, distance to the original on the forget data)]
    curves: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    # scenario -> distances of the references (end of training)
    reference_distances: dict[str, list[float]] = field(default_factory=dict)


def bench_key(seed: int) -> ed25519.Ed25519PrivateKey:
    """The auditor key of one benchmark seed (deterministic)."""
    material = hashlib.sha256(f"modelgif/bench/unlearning/{seed}".encode()).digest()
    return ed25519.Ed25519PrivateKey.from_private_bytes(material)


def forget_mask(scenario: str, y: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.bool_]:
    """The forget set: class (seed mod 10), or exactly 10 % of the rows drawn from `seed`."""
    if scenario == "class":
        return np.asarray(y == seed % 10)
    rng = np.random.default_rng([seed, 7])
    mask = np.zeros(len(y), dtype=bool)
    mask[rng.choice(len(y), size=round(FORGET_FRACTION * len(y)), replace=False)] = True
    return mask


def _accuracy(model: nn.Module, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    return float(np.mean(predict_logits(model, x).argmax(dim=1).numpy() == y))


class _Scenario:
    """One scenario of one seed: its forget set, its scorers, and how to make a claim."""

    def __init__(self, config: RunConfig, seed: int, scenario: str, data: ZooData,
                 original: ZooNet, test_accuracy: float) -> None:
        x = data.owner.x
        self.config, self.seed, self.scenario = config, seed, scenario
        self.data, self.original, self.test_accuracy = data, original, test_accuracy
        self.forget = forget_mask(scenario, data.owner.y, seed)
        self.example = torch.from_numpy(x[:2])
        key = bench_key(seed)
        context = f"{config.name}/{seed}/{scenario}".encode()
        field_config = FieldConfig(n_steps=config.n_steps)
        reference = self.normalized(original)
        self.forget_scorer = PairedScorer(reference, audit_anchors(
            key, x[self.forget], "forget", config.n_anchors, context), field_config)
        self.retain_scorer = PairedScorer(reference, audit_anchors(
            key, x[~self.forget], "retain", config.n_anchors, context), field_config)

    def normalized(self, module: nn.Module) -> NormalizedModel:
        return normalize(module, self.example, input_range=self.data.input_range)

    def cosines(self, module: nn.Module) -> tuple[FloatArray, FloatArray]:
        model = self.normalized(module)
        return self.forget_scorer.cosines(model), self.retain_scorer.cosines(model)

    def distance(self, module: nn.Module) -> float:
        """The reference method's number on the forget anchors: mean(1 - cosine)."""
        return float(np.mean(1.0 - self.forget_scorer.cosines(self.normalized(module))))

    def make(self, method: str, method_seed: int,
             curve: bool) -> tuple[nn.Module, list[tuple[int, float]]]:
        """Apply `method`; with `curve`, score its snapshot after every epoch."""
        points: list[tuple[int, float]] = []

        def snapshot(epoch: int, model: nn.Module) -> None:
            points.append((epoch, self.distance(copy.deepcopy(model).eval())))

        by_class = self.scenario == "class"
        module = unlearn(method, self.original, self.config.dataset,
                         self.config.architecture, self.data.owner.x, self.data.owner.y,
                         self.forget, TrainConfig(epochs=self.config.epochs), method_seed,
                         forgotten_class=self.seed % 10 if by_class else None,
                         snapshot=snapshot if curve else None,
                         target_accuracy=None if by_class else self.test_accuracy)
        return module, points

    def claim(self, unlearner: str, verdict: UnlearningVerdict, module: nn.Module) -> Claim:
        owner, forget = self.data.owner, self.forget
        retain_p = None if verdict.retain_test is None else verdict.retain_test.p_value
        return Claim(self.config.name, self.seed, self.scenario, unlearner, verdict.decision,
                     verdict.forget_similarity, verdict.retain_similarity,
                     verdict.test.statistic, verdict.test.p_value, retain_p,
                     _accuracy(module, owner.x[forget], owner.y[forget]),
                     _accuracy(module, self.data.test.x, self.data.test.y))


def _run_scenario(run: _Scenario, result: SeedResult, step: Callable[[str], None]) -> None:
    config, seed, scenario = run.config, run.seed, run.scenario
    curves: dict[str, list[tuple[int, float]]] = {}
    step(f"{config.name} seed {seed} {scenario}: {config.n_references + 1} retrains")
    retrains = []
    for i in range(config.n_references + 1):
        module, points = run.make("retrain", 10_000 + 100 * seed + i, config.curves and i == 0)
        retrains.append(module)
        if points:
            curves["retrain"] = points
    scored = [run.cosines(m) for m in retrains]
    for i, module in enumerate(retrains):
        others = scored[:i] + scored[i + 1:]
        verdict = assess_unlearning(scored[i][0], [f for f, _ in others], scored[i][1],
                                    [r for _, r in others], target_fpr=config.target_fpr)
        result.claims.append(run.claim("retrain", verdict, module))
    references = scored[1:]
    result.reference_distances[scenario] = [float(np.mean(1.0 - f)) for f, _ in references]
    for method in UNLEARNERS:
        if method == "retrain" or (method == "mask-logit" and scenario != "class"):
            continue
        step(f"{config.name} seed {seed} {scenario}: {method}")
        module, points = run.make(method, 20_000 + seed, config.curves)
        if points:
            curves[method] = points
        forget_cos, retain_cos = run.cosines(module)
        verdict = assess_unlearning(forget_cos, [f for f, _ in references], retain_cos,
                                    [r for _, r in references], target_fpr=config.target_fpr)
        result.claims.append(run.claim(method, verdict, module))
    result.curves[scenario] = curves


def run_seed(config: RunConfig, seed: int,
             step: Callable[[str], None] = lambda _: None) -> SeedResult:
    """Run every scenario and unlearner of one seed (module docstring)."""
    data = load_data(config.dataset, seed, "small")
    step(f"{config.name} seed {seed}: original")
    original = build_architecture(config.dataset, config.architecture, 10, seed)
    train(original, data.owner.x, data.owner.y, TrainConfig(epochs=config.epochs), seed)
    test_accuracy = _accuracy(original, data.test.x, data.test.y)
    result = SeedResult()
    for scenario in SCENARIOS:
        _run_scenario(_Scenario(config, seed, scenario, data, original, test_accuracy),
                      result, step)
    return result
