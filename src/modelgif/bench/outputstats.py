"""Output-only similarity statistics between a teacher and a suspect, at the owner's probes.

Why: a distilled student copies its teacher through outputs alone, so its gradient field at
far-away anchors need not resemble the teacher's; what it inherits is the teacher's output
*distribution*: its soft probabilities, its mistakes, and its behaviour off the data where
the student was trained to imitate it (or, for a noise thief, where it was not scrubbed).
Each function maps (teacher logits, suspect logits) at the same probe inputs to one number,
higher = more similar, on a scale where independent models spread roughly Gaussian
(log for divergences, logit for agreement rates), so the benchmark's scalar null applies.

- `neg_log_js`: minus log of the mean Jensen-Shannon divergence of the softmax outputs;
- `logit_agreement`: logit of the smoothed top-1 agreement rate;
- `sac_score`: SAC (Guan et al., 2022, "Are you stealing my model? Sample correlation for
  fingerprinting deep neural networks"), reimplemented from the paper's description: the
  model's outputs on a set of samples give a sample-by-sample correlation matrix (cosine
  similarity of output vectors); the distance of two models is the mean absolute difference
  of their matrices. SAC-w takes samples the teacher misclassifies, SAC-m CutMix samples.
  Returned negated (higher = more similar).
- `idiosyncratic_points`: where a teacher is idiosyncratic: its errors and its lowest-margin
  (boundary) inputs among the owner's labelled probes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["idiosyncratic_points", "logit_agreement", "neg_log_js", "sac_score", "softmax"]

FloatArray = npt.NDArray[np.float64]


def softmax(logits: npt.ArrayLike) -> FloatArray:
    """Row-wise softmax in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def neg_log_js(teacher: npt.ArrayLike, suspect: npt.ArrayLike) -> float:
    """-log(mean_i JS(p_i, q_i)) of the two models' softmax outputs (natural log, JS <= ln 2)."""
    p, q = softmax(teacher), softmax(suspect)
    m = 0.5 * (p + q)
    eps = 1e-12

    def kl(a: FloatArray, b: FloatArray) -> FloatArray:
        out: FloatArray = np.sum(a * (np.log(a + eps) - np.log(b + eps)), axis=1)
        return out

    js = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    return -math.log(max(float(np.mean(js)), 1e-9))


def logit_agreement(teacher: npt.ArrayLike, suspect: npt.ArrayLike) -> float:
    """logit of (agreeing top-1 + 0.5) / (n + 1): bounded, finite at 0 % and 100 %."""
    a = np.asarray(teacher).argmax(axis=1)
    b = np.asarray(suspect).argmax(axis=1)
    rate = (float(np.sum(a == b)) + 0.5) / (a.size + 1.0)
    return math.log(rate / (1.0 - rate))


def _correlation(logits: npt.ArrayLike) -> FloatArray:
    out = softmax(logits)
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    gram: FloatArray = out @ out.T
    return gram


def sac_score(teacher: npt.ArrayLike, suspect: npt.ArrayLike) -> float:
    """Minus the SAC distance: mean |C_teacher - C_suspect| of the sample correlation
    matrices (cosine similarity of softmax outputs between every pair of samples)."""
    return -float(np.mean(np.abs(_correlation(teacher) - _correlation(suspect))))


def idiosyncratic_points(
    teacher: npt.ArrayLike, labels: npt.ArrayLike, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(indices of the teacher's errors, indices of its n lowest-margin inputs).

    Margin: top-1 minus top-2 probability. Both are the owner's own knowledge (its model and
    its labelled data); at most n errors are returned, in input order.
    """
    p = softmax(teacher)
    wrong = np.flatnonzero(p.argmax(axis=1) != np.asarray(labels))[:n]
    top2 = np.sort(p, axis=1)[:, -2:]
    boundary = np.argsort(top2[:, 1] - top2[:, 0], kind="stable")[:n]
    return wrong.astype(np.int64), np.sort(boundary).astype(np.int64)
