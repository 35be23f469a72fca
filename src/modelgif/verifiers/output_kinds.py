"""What an inference API answers, and how far one answer is from the owner's at a probe pair.

Why one per-pair similarity per output kind, all fed to the same log-agreement statistic
(calibration.py): an API returns logits, probabilities, its top-k classes with their
probabilities, or only a label. Each kind gives s_n in [-1, 1] at probe pair n (points
x_n and x_n + d_n, fingerprint/probes.py); the verdict's T = -mean_n log max(1 - s_n, 1e-4)
is then calibrated against independent models queried the SAME way (same kind, same k,
same number of points), so no kind borrows another's null.

    logits         cosine of the centred change of the log-softmax across the pair, owner
                   vs suspect: the local shape of the function, blind to a per-input shift
                   of all logits (the freedom softmax throws away)
    probabilities  the same on log(max(p, 1e-30)), with the owner's probabilities rounded
                   to float32 like a served softmax: log-probabilities are logits up to that
                   shift, so a probability API is as good as a logit one until float32
                   probabilities underflow
    topk           the same over the classes the suspect reports at both points of the pair
                   (the owner's log-probabilities at those classes); fewer than 2 such
                   classes fall back to label agreement
    labels         the fraction of the pair's two points where the suspect's label is the
                   owner's top-1 class (T is then 9.21 x the agreement rate: a
                   decision-based test)

The change across a pair, the pair's step and the points' spread (probes.py) were chosen
on a development zoo (seed 0) and are reported on zoos that informed no choice
(BENCHMARKS.md). The owner's side is always the full output stored in the fingerprint, so
the owner is never degraded to the suspect's kind; only the suspect's answer is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from modelgif.errors import InputError

__all__ = ["ESTIMATOR_PATTERN", "OUTPUT_KINDS", "Answers", "answers_from_outputs",
           "probe_similarity"]

OUTPUT_KINDS = ("logits", "probabilities", "topk", "labels")
ESTIMATOR_PATTERN = re.compile(
    r"probe:(logits|probabilities|labels|topk[1-9][0-9]?):[1-9][0-9]{0,4}")
"""Names of output-agreement estimators (probe_verdict.QueryPlan.estimator): the key that
binds a calibration to one output kind and one number of probe points."""
_TINY = 1e-30


@dataclass(frozen=True)
class Answers:
    """A suspect's answers at P points. `values`: logits or probabilities (P, C), top-k
    scores (P, k), or labels (P,); `classes`: the top-k class indices (P, k), else None."""

    kind: str
    values: np.ndarray
    classes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise InputError(f"Output kind must be one of {', '.join(OUTPUT_KINDS)}; got "
                             f"{self.kind!r}.")
        want = 1 if self.kind == "labels" else 2
        if self.values.ndim != want:
            raise InputError(f"{self.kind} answers must have {want} dimensions; got shape "
                             f"{self.values.shape}.")
        if self.kind == "topk" and (self.classes is None
                                    or self.classes.shape != self.values.shape):
            raise InputError("top-k answers need one class index per score.")
        finite = np.isfinite(self.values.reshape(len(self.values), -1)).all(axis=1)
        if not np.all(finite):
            raise InputError(f"suspect returns NaN/Inf at {int(np.sum(~finite))} of "
                             f"{len(finite)} probe points: its answers are not evidence")

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    out: np.ndarray = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return out


def _centred_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    dot = np.sum(a * b, axis=-1)
    out: np.ndarray = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), np.nan)
    return out


def answers_from_outputs(outputs: np.ndarray, kind: str, top_k: int = 5) -> Answers:
    """What an API of `kind` would return for a model whose raw outputs (logits) these are.

    Probabilities are computed in float32, as a served softmax would be (so they underflow
    where a real one does); top-k keeps the k most probable classes, best first.
    """
    logits = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if kind == "logits":
        return Answers(kind, logits)
    probs = np.exp(_log_softmax(logits)).astype(np.float32).astype(np.float64)
    if kind == "probabilities":
        return Answers(kind, probs)
    if kind == "labels":
        return Answers(kind, np.argmax(logits, axis=1).astype(np.int64))
    if kind == "topk":
        k = min(top_k, logits.shape[1])
        order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
        return Answers(kind, np.take_along_axis(probs, order, axis=1), order.astype(np.int64))
    raise InputError(f"Output kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}.")


def _pairs_cosine(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Centred cosine of the change across each pair (rows 2i, 2i + 1); 0 where either
    side does not change at all."""
    sims = _centred_cosine(mine[1::2] - mine[0::2], theirs[1::2] - theirs[0::2])
    out: np.ndarray = np.clip(np.nan_to_num(sims, nan=0.0), -1.0, 1.0)
    return out


def probe_similarity(owner: np.ndarray, answers: Answers) -> np.ndarray:
    """Per-pair similarity s_n in [-1, 1] of the suspect's answers to the owner's outputs.

    `owner` are the owner's raw outputs (2n, C) at the same points, in pairs.
    """
    owner = np.asarray(owner, dtype=np.float64)
    if len(owner) != len(answers) or len(owner) % 2:
        raise InputError(f"{len(answers)} answers for {len(owner)} probe points (in pairs).")
    owner_lp = _log_softmax(owner)
    top1 = np.argmax(owner, axis=1)
    if answers.kind == "labels":
        agree: np.ndarray = (answers.values.astype(np.int64) == top1).astype(np.float64)
        pairs: np.ndarray = agree.reshape(-1, 2).mean(axis=1)
        return pairs
    if answers.kind in ("logits", "probabilities"):
        if answers.values.shape[1] != owner.shape[1]:
            raise InputError(f"The suspect answers {answers.values.shape[1]} classes; the "
                             f"owner has {owner.shape[1]}.")
        if answers.kind == "logits":
            return _pairs_cosine(owner_lp, answers.values)
        mine = np.log(np.maximum(np.exp(owner_lp).astype(np.float32), _TINY))
        return _pairs_cosine(mine, np.log(np.maximum(answers.values, _TINY)))
    assert answers.classes is not None
    classes = answers.classes.astype(np.int64)
    if np.any(classes < 0) or np.any(classes >= owner.shape[1]):
        raise InputError(f"The suspect names a class outside 0..{owner.shape[1] - 1}.")
    logs = np.log(np.maximum(answers.values, _TINY))
    label = (classes[:, 0] == top1).astype(np.float64).reshape(-1, 2).mean(axis=1)
    out = np.empty(len(owner) // 2)
    for n in range(len(out)):
        at_x, at_y = list(classes[2 * n]), list(classes[2 * n + 1])
        common = [c for c in at_x if c in at_y]
        if len(common) < 2:
            out[n] = label[n]
            continue
        theirs = np.stack([logs[2 * n][[at_x.index(c) for c in common]],
                           logs[2 * n + 1][[at_y.index(c) for c in common]]])
        out[n] = _pairs_cosine(owner_lp[2 * n:2 * n + 2][:, common], theirs)[0]
    return out
