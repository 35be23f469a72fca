"""The distillation / noise-thief benchmark on Fashion-MNIST: protocol, statistics, tables.

Question: for each teacher, is a suspect one of ITS students or thieves? Positives are the
teacher's students (distilled through soft outputs, top-3 outputs or hard labels, into
either architecture, at two query budgets) and its thieves (fine-tuned on the thief's data,
with or without random-labelled uniform noise). Negatives are every model NOT made from
this teacher: independents trained with true labels (both architectures, owner or attacker
data), the other teachers, and the other teachers' students and thieves, so neither "was
distilled" nor "was fine-tuned" can be what a test detects.

Protocol (the rules of `bench ip`):
- every model gets a negative role by a seeded hash deal stratified by category,
  architecture and lineage: "selection" (development only) or cross-fitting fold 0-3; each
  teacher's positives are dealt into "selection" (25 %) and "evaluation", stratified by
  kind (student output type, thief with or without noise);
- held out: fold k's negatives are scored under the null fitted on the OTHER folds'
  negatives (of this teacher), every evaluation positive under each fold's null; nothing
  scored is ever in the null that scores it;
- development: selection positives and selection negatives, each under the null of all
  fold negatives; every choice (which output statistic enters the fusion) is made there;
- a flag is the calibrated decision at target FPR 1 % (the library's verdict "derived" for
  the field; the same tolerance rule on a scalar otherwise, verifiers/fused.py); scores for AUC
  are null-standardised z's, pooled over (teacher, fold) groups.

Nulls (`NULLS`): "pooled" (all calibration negatives), "matched" (only those whose ONNX graph
has the suspect's structure, `graph_signature`) and "matched-data" (those, and trained on
data other than the owner's). "matched-data" answers a narrower question: "is the suspect
one of the teacher's, or a model its maker trained on data of its own?" Its false positives
are counted on negatives inside that claim (`in_claim`); negatives trained on the owner's
own data are scored too, and their flags reported apart, as what the narrower null costs.

Methods, each under every null:
- "modelgif": the library's field verdict (defaults: secret synthetic anchors, log-agreement);
- "reference": ModelGiF's setting, minus the mean cosine distance (the paper has no
  threshold; here the scalar rule gives it one);
- "sac-w", "sac-m": SAC on 100 of the teacher's errors / 50 CutMix probes (outputstats.py);
- "agree-cae": top-1 agreement with the target class at conferrable adversarial probes
  (Lukas et al. 2021, conferrable.py), crafted with the owner's own shadow students and
  reference models;
- output statistics at secret probes: "js-*" (-log JS of soft outputs), "agree-*"
  (logit top-1 agreement) on uniform noise, the owner's held-out images, the teacher's
  errors and lowest-margin points, CutMix and mixup of owner images;
- fusions (`Fusion`: a rule and two or more of the statistics above): the max (or the mean)
  of the statistics standardised by the calibration negatives, with its own leave-one-out
  null (verifiers/fused.py); which fusion is reported is chosen on development data.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from modelgif.bench.conferrable import conferrable_probes, suspect_logits
from modelgif.bench.distill_fields import TeacherFingerprint, field_cosines, teacher_fingerprint
from modelgif.bench.metrics import rate, with_ci
from modelgif.bench.outputstats import (
    idiosyncratic_points,
    logit_agreement,
    neg_log_js,
    sac_score,
)
from modelgif.bench.splits import split_models
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.fused import Rule, fit_fused, fit_scalar, fused_score
from modelgif.verifiers.matched_null import graph_signature
from modelgif.verifiers.similarity import log_distance, mean_cosine_distance, per_anchor_similarity
from modelgif.verifiers.verdict import compute_verdict
from modelgif.zoo.fashion_zoo import FashionModel, FashionZoo

__all__ = [
    "FOLDS",
    "NULLS",
    "DistillScores",
    "Fusion",
    "graph_signature",
    "in_claim",
    "kind",
    "roles",
    "score_zoo",
    "summarise",
    "suspect_features",
    "training_data",
]

FOLDS = ("fold-0", "fold-1", "fold-2", "fold-3")
NULLS = ("pooled", "matched", "matched-data")
NEGATIVE_DEAL = ("fold-0", "fold-1", "selection", "fold-2", "fold-3")
POSITIVE_DEAL = ("evaluation", "evaluation", "selection", "evaluation")
N_SECRET = 256  # secret probes per synthetic bank part
SAC_W, SAC_M = 100, 50  # samples SAC-w / SAC-m correlate
N_IDIO = 200  # teacher errors / boundary points used as probes
OUTPUT_STATS = ("js-noise", "js-owner", "js-errors", "js-boundary", "js-cutmix", "js-mixup",
                "agree-noise", "agree-errors", "agree-owner", "sac-w", "sac-m", "agree-cae")
SCALAR_METHODS = ("modelgif-T", "reference", *OUTPUT_STATS)
SALT = "modelgif-bench-distill"  # this benchmark's own seeded deal (splits.py)
Fusion = tuple[Rule, tuple[str, ...]]  # (rule, the statistics it fuses)


def kind(model: FashionModel) -> str:
    """The table row a positive belongs to."""
    if model.category == "student":
        return f"student-{model.recipe['outputs']}"
    if model.category == "thief":
        return "noise-thief" if model.recipe["noise_share"] > 0 else "finetune"
    return model.category


def training_data(model: FashionModel) -> str:
    """Whose images a model was trained on: teachers and owner-data independents the owner's;
    students, thieves and attacker-data independents the attacker's."""
    if model.category in ("teacher", "independent"):
        return str(model.recipe["data"])
    return "attacker"


def in_claim(rows: list[dict[str, Any]], null: str) -> list[dict[str, Any]]:
    """The rows a null's false-positive rate speaks for: under "matched-data", positives and
    the negatives not trained on the owner's data; under the other nulls, all of them."""
    if null != "matched-data":
        return rows
    return [r for r in rows if r["positive"] or r["data"] != "owner"]


def _lineage(m: FashionModel) -> str:
    return f"{m.category}/{m.architecture}/{m.teacher or m.recipe.get('data')}"


def roles(zoo: FashionZoo) -> tuple[dict[str, str], dict[str, str]]:
    """(negative role per model id, positive role per derived model id)."""
    models = list(zoo.models.values())
    negative = split_models(models, zoo.seed, NEGATIVE_DEAL, _lineage, SALT)
    derived = [m for m in models if m.teacher is not None]
    positive = split_models(derived, zoo.seed, POSITIVE_DEAL,
                            lambda m: f"{m.teacher}/{kind(m)}", SALT)
    return negative.roles, positive.roles


def suspect_features(zoo: FashionZoo, teacher: str, fields: dict[str, TeacherFingerprint],
                     model_id: str, conferrable: tuple[np.ndarray, np.ndarray]
                     ) -> dict[str, Any]:
    """Every statistic of `model_id` against `teacher` (field cosines kept for the verdict).
    `conferrable`: the teacher's conferrable probes and their target classes."""
    ours, theirs = zoo.logits(teacher), zoo.logits(model_id)
    labels = zoo.data.owner.y[slice(*_bank_owner())]
    errors, boundary = idiosyncratic_points(ours["owner"], labels, N_IDIO)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(
        f"modelgif-bench-distill:{zoo.seed}:probes:{teacher}".encode()).digest()[:4], "big"))
    secret = {p: np.sort(rng.choice(len(ours[p]), N_SECRET, replace=False))
              for p in ("noise", "cutmix", "mixup")}

    def at(part: str, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ours[part][index], theirs[part][index]

    cos = {s: field_cosines(zoo, fp, model_id) for s, fp in fields.items()}
    return {
        "cosines": cos["modelgif"],
        "modelgif-T": -float(log_distance(per_anchor_similarity(cos["modelgif"]))),
        "reference": -mean_cosine_distance(cos["reference"]) if "reference" in cos
        else math.nan,
        "js-noise": neg_log_js(*at("noise", secret["noise"])),
        "js-owner": neg_log_js(ours["owner"], theirs["owner"]),
        "js-errors": neg_log_js(*at("owner", errors)),
        "js-boundary": neg_log_js(*at("owner", boundary)),
        "js-cutmix": neg_log_js(*at("cutmix", secret["cutmix"])),
        "js-mixup": neg_log_js(*at("mixup", secret["mixup"])),
        "agree-noise": logit_agreement(*at("noise", secret["noise"])),
        "agree-errors": logit_agreement(*at("owner", errors)),
        "agree-owner": logit_agreement(ours["owner"], theirs["owner"]),
        "sac-w": sac_score(*at("owner", errors[:SAC_W])),
        "sac-m": sac_score(*at("cutmix", secret["cutmix"][:SAC_M])),
        "agree-cae": logit_agreement(np.eye(10)[conferrable[1]],  # the targets, one-hot
                                     suspect_logits(zoo, model_id, conferrable[0])),
    }


def _bank_owner() -> tuple[int, int]:
    from modelgif.zoo.fashion_zoo import BANK_OWNER
    return BANK_OWNER


@dataclass
class DistillScores:
    """Scored rows: one per (method, null, teacher, fold, model, split)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)


def _score_one(method: str, null: str, calibrators: list[str], suspect: str,
               features: dict[str, dict[str, Any]], sig: dict[str, str], data: dict[str, str],
               fusion: dict[str, Fusion], fits: dict[tuple[str, ...], Any]
               ) -> tuple[float, bool, int, float]:
    """(z, flagged, null size, threshold as a z) of `suspect` under the null of
    `calibrators` (matched: only those of the suspect's graph signature; matched-data: and
    not trained on the owner's data). `fits` memoises each null by (method, its negatives):
    every fit is deterministic."""
    cal = calibrators if null == "pooled" else [c for c in calibrators if sig[c] == sig[suspect]]
    if null == "matched-data":
        cal = [c for c in cal if data[c] != "owner"]
    key = (method, *cal)
    if method == "modelgif":
        if key not in fits:
            fits[key] = fit_calibration(np.stack([features[c]["cosines"] for c in cal]), cal,
                                        n_bootstrap=500)
        calibration = fits[key]
        verdict = compute_verdict(features[suspect]["cosines"], calibration,
                                  compared={"suspect": suspect})
        assert verdict.statistic is not None and verdict.threshold is not None
        z = (verdict.statistic - calibration.null_mean) / calibration.null_sd
        bar = (verdict.threshold - calibration.null_mean) / calibration.null_sd
        return z, verdict.decision == "derived", len(cal), bar
    if method in fusion:
        rule, parts = fusion[method]
        if key not in fits:
            fits[key] = fit_fused(np.array([[features[c][p] for p in parts] for c in cal]),
                                  rule=rule)
        value = fused_score(fits[key], [features[suspect][p] for p in parts])
        scalar = fits[key].null
    else:
        if key not in fits:
            fits[key] = fit_scalar([features[c][method] for c in cal])
        scalar = fits[key]
        value = float(features[suspect][method])
    return scalar.z(value), scalar.flags(value), len(cal), scalar.z(scalar.threshold)


def score_zoo(
    zoo: FashionZoo, settings: Sequence[str], fusion_candidates: dict[str, Fusion],
    progress: Callable[[str], None] | None = None,
) -> DistillScores:
    """Score every teacher's development and held-out pairs with every method and null."""
    negative, positive = roles(zoo)
    out = DistillScores()
    for mid in zoo.models:
        out.signatures[mid] = graph_signature(onnx.load(str(zoo.onnx_path(mid))))
    methods = ["modelgif", *[m for m in SCALAR_METHODS
                             if m != "reference" or "reference" in settings],
               *fusion_candidates]
    data = {mid: training_data(m) for mid, m in zoo.models.items()}
    teachers = [m for m in zoo.models.values() if m.category == "teacher"]
    for teacher in teachers:
        if progress is not None:
            progress(teacher.id)
        fields = {s: teacher_fingerprint(zoo, teacher.id, s) for s in settings}
        probes = conferrable_probes(zoo, teacher.id, zoo.teacher_net(teacher.id))
        features = {mid: suspect_features(zoo, teacher.id, fields, mid, probes)
                    for mid in zoo.models if mid != teacher.id}
        mine = {mid for mid, m in zoo.models.items() if m.teacher == teacher.id}
        negatives = {mid: r for mid, r in negative.items() if mid not in mine
                     and mid != teacher.id}
        jobs: list[tuple[str, list[str], str, str]] = []  # (fold, calibrators, suspect, split)
        in_folds = sorted(mid for mid, r in negatives.items() if r in FOLDS)
        for fold in FOLDS:
            cal = sorted(mid for mid in in_folds if negatives[mid] != fold)
            jobs += [(fold, cal, mid, "held-out") for mid in sorted(mine)
                     if positive[mid] == "evaluation"]
            jobs += [(fold, cal, mid, "held-out") for mid in in_folds if negatives[mid] == fold]
        jobs += [("all", in_folds, mid, "development") for mid in sorted(mine)
                 if positive[mid] == "selection"]
        jobs += [("all", in_folds, mid, "development") for mid, r in sorted(negatives.items())
                 if r == "selection"]
        fits: dict[tuple[str, ...], Any] = {}  # per teacher: its features
        for method in methods:
            for null in NULLS:
                for fold, cal, mid, split in jobs:
                    z, flagged, n_null, bar = _score_one(method, null, cal, mid, features,
                                                         out.signatures, data,
                                                         fusion_candidates, fits)
                    model = zoo.models[mid]
                    info = zoo.info(mid)
                    out.rows.append({
                        "method": method, "null": null, "teacher": teacher.id, "fold": fold,
                        "model": mid, "split": split, "positive": mid in mine,
                        "kind": kind(model), "data": data[mid], "z": z,
                        "flagged": bool(flagged),
                        "n_null": n_null, "threshold_z": bar,
                        "same_architecture": model.architecture == teacher.architecture,
                        "share": info.get("share_of_teacher_accuracy", math.nan),
                        "accuracy": info["test_accuracy"],
                    })
    return out


def _fast_grouped_auc(pos: np.ndarray, pos_groups: np.ndarray, neg: np.ndarray,
                      neg_groups: np.ndarray) -> float:
    """`metrics.grouped_auc` by broadcasting (the bootstrap calls it thousands of times)."""
    same = pos_groups[:, None] == neg_groups[None, :]
    pairs = int(same.sum())
    if pairs == 0:
        return math.nan
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return float((wins * same).sum() / pairs)


def summarise(rows: list[dict[str, Any]], positives: Callable[[dict[str, Any]], bool],
              seed: int = 0, n_boot: int = 500) -> dict[str, Any]:
    """AUC (grouped by teacher and fold) and TPR at the calibrated threshold, with 95 %
    bootstrap intervals (none when n_boot is 0), plus the realised FPR of the same rows'
    negatives."""
    pos = [r for r in rows if r["positive"] and positives(r)]
    neg = [r for r in rows if not r["positive"]]
    if not pos or not neg:
        return {"n_pos": len(pos), "n_neg": len(neg)}
    ps = np.array([r["z"] for r in pos])
    ns = np.array([r["z"] for r in neg])
    names = {g: i for i, g in enumerate(sorted({(r["teacher"], r["fold"]) for r in rows}))}
    pg = np.array([names[r["teacher"], r["fold"]] for r in pos])
    ng = np.array([names[r["teacher"], r["fold"]] for r in neg])
    flags = np.array([r["flagged"] for r in pos], dtype=np.float64)

    def auc(p: np.ndarray, n: np.ndarray) -> float:
        pi, ni = p.astype(int), n.astype(int)
        return _fast_grouped_auc(ps[pi], pg[pi], ns[ni], ng[ni])

    def tpr(p: np.ndarray) -> float:
        return rate(flags[p.astype(int)])

    samples = [np.arange(len(pos), dtype=np.float64), np.arange(len(neg), dtype=np.float64)]
    if n_boot:
        got_auc, got_tpr = with_ci(auc, samples, seed, n_boot), with_ci(tpr, samples[:1],
                                                                         seed + 1, n_boot)
    else:
        got_auc, got_tpr = (auc(*samples), math.nan, math.nan), (tpr(samples[0]), math.nan,
                                                                   math.nan)
    return {
        "n_pos": len(pos), "n_neg": len(neg),
        "n_pos_models": len({(r["teacher"], r["model"]) for r in pos}),
        "auc": got_auc, "tpr": got_tpr,
        "fpr": rate([r["flagged"] for r in neg]),
        "false_positives": int(sum(r["flagged"] for r in neg)),
    }
