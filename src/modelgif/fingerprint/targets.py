"""The scalar output F whose input gradient forms the field.

Why a choice: the reference scalarises a classifier by its OWN top-1 logit at the anchor
("top1"; fixed along the whole path, and invariant to a relabelling of the outputs, which a
thief may apply), unlearning audits use a given class's logit ("class"), and "logsumexp"
(the log-partition of the logits) needs no class at all and is relabelling-invariant too.
"logprob" is the log-softmax of the own top-1 class: unlike a logit, it does not change
when a per-input constant is added to every logit, the one freedom a model distilled from
its teacher's probabilities keeps (softmax(z + c(x)) = softmax(z)), so the gradient of a
student's logit carries grad c(x), which says nothing about the teacher.
Defined once here, for torch (exact backend) and numpy (black-box backend) alike, so both
backends differentiate the same function.
"""

from __future__ import annotations

import numpy as np
import torch

from modelgif.errors import InputError

__all__ = ["TARGETS", "as_logits", "scalar_numpy", "scalar_torch", "target_classes"]

TARGETS: tuple[str, ...] = ("top1", "logsumexp", "class", "logprob")


def as_logits(outputs: np.ndarray) -> np.ndarray:
    """Model outputs as (B, C): (B,) -> (B, 1); (B, ...) flattened."""
    out = np.asarray(outputs)
    if out.ndim == 1:
        return out[:, None]
    return out.reshape(out.shape[0], -1)


def target_classes(logits: np.ndarray, target: str, target_class: int | None) -> np.ndarray:
    """The class index per anchor (int64, -1 where the target needs none)."""
    logits = as_logits(logits)
    if target in ("top1", "logprob"):
        return np.asarray(np.argmax(logits, axis=1), dtype=np.int64)
    if target == "class":
        if target_class is None or not 0 <= target_class < logits.shape[1]:
            raise InputError(
                f"target='class' needs target_class in [0, {logits.shape[1]}). "
                f"Got {target_class!r}."
            )
        return np.full(logits.shape[0], target_class, dtype=np.int64)
    return np.full(logits.shape[0], -1, dtype=np.int64)


def scalar_torch(outputs: torch.Tensor, target: str, classes: torch.Tensor) -> torch.Tensor:
    """F per row of a (B, ...) output tensor; `classes` (B,) int64."""
    logits = outputs.reshape(outputs.shape[0], -1)
    if target == "logsumexp":
        return torch.logsumexp(logits, dim=1)
    if target == "logprob":
        logits = torch.log_softmax(logits, dim=1)
    return logits.gather(1, classes.reshape(-1, 1).to(logits.device)).squeeze(1)


def scalar_numpy(outputs: np.ndarray, target: str, classes: np.ndarray) -> np.ndarray:
    """F per row, in float64, of a (B, ...) output array."""
    logits = as_logits(outputs).astype(np.float64)
    if target in ("logsumexp", "logprob"):
        top = logits.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        if target == "logsumexp":
            return np.asarray(lse[:, 0])
        logits = logits - lse
    return np.asarray(np.take_along_axis(logits, classes.reshape(-1, 1), axis=1)[:, 0])
