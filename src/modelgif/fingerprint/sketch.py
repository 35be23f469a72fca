"""Secret random projections ("sketches") of field vectors.

Why: a full ModelGiF field is N anchors x S steps x D floats (157 MB per CIFAR model in the
reference); a random projection to k dimensions keeps every (anchor, step) cosine within the
Johnson-Lindenstrauss error while shrinking storage by D/k. The projection is derived from
the owner's secret (purpose "sketch"), so a thief cannot target the sketched subspace, and
both models of a comparison are projected by the same matrix.

Never the identity, even when D <= k (then P is D x k and the sketch is k long): a sketch
that is the exact normalized field lets anyone holding the stolen model and a shared .mgf
read the secret anchors back (the first step's field is the anchor times a gradient the
thief can compute), median cosine 0.995 on 10-64-input models. Under an unknown P that
reading, and fitting candidate anchors to the sketch, fall to chance
(tests/fingerprint/test_sketch_attack.py). What stays public is the sketch's geometry: the
cosines between sketch vectors approximate those between field vectors, which is what the
comparison needs.

Version-1 field configs (fingerprints written before this rule) kept the exact field when
D <= k; make_projection(version=1) rebuilds that identity so they keep verifying, and
nothing new is written with it (fingerprint.create refuses version-1 configs).

The projection also tells the black-box backend what to measure: the sketch of the field
phi = (x - x0) * G is P^T phi, whose i-th entry is the directional derivative of the
integrated gradient along u_i = P[:, i] * (x - x0), so k finite differences per point suffice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from modelgif.crypto.keystream import KeyStream
from modelgif.validation import check_choice, check_float, check_int

__all__ = ["IDENTITY_VERSION", "KINDS", "Projection", "jl_cosine_error", "make_projection"]

KINDS: tuple[str, ...] = ("gaussian", "rademacher")
IDENTITY_VERSION = 1
"""The last field-config version whose sketch was the identity for D <= k (read only)."""


@dataclass(frozen=True)
class Projection:
    """x (..., D) -> x @ matrix (..., k); `matrix` is None only for a version-1 identity."""

    dim: int
    k: int
    kind: str  # "gaussian" | "rademacher" | "identity" (version 1, D <= k)
    matrix: np.ndarray | None = field(default=None, repr=False)

    @property
    def is_identity(self) -> bool:
        return self.matrix is None

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Project the last axis (length D) to length k."""
        if self.matrix is None:
            return np.asarray(vectors)
        return np.asarray(np.asarray(vectors) @ self.matrix)

    def directions(self) -> np.ndarray:
        """(k, D): the rows are the directions whose inner products form the sketch."""
        if self.matrix is None:
            return np.eye(self.dim, dtype=np.float32)
        return np.ascontiguousarray(self.matrix.T)


def make_projection(
    secret: bytes, dim: int, k: int = 64, kind: str = "gaussian", version: int = 2
) -> Projection:
    """The secret D x k projection (entries N(0, 1/k) or +-1/sqrt(k)), whatever D is.

    `version` is the field config's: version 1 with D <= k gives the identity that version-1
    fingerprints were written with (module docstring); the matrix for D > k is the same in
    every version.
    """
    check_int(dim, "dim", "make_projection()", 1, 1 << 31)
    check_int(k, "k", "make_projection()", 1, 1 << 16)
    check_choice(kind, "kind", "make_projection()", KINDS)
    check_int(version, "version", "make_projection()", IDENTITY_VERSION, 1 << 16)
    if dim <= k and version <= IDENTITY_VERSION:
        return Projection(dim=dim, k=dim, kind="identity")
    stream = KeyStream(secret, f"sketch/{kind}/{dim}x{k}")
    raw = stream.normal(dim * k) if kind == "gaussian" else stream.rademacher(dim * k)
    matrix = (raw.reshape(dim, k) / math.sqrt(k)).astype(np.float32)
    matrix.setflags(write=False)
    return Projection(dim=dim, k=k, kind=kind, matrix=matrix)


def jl_cosine_error(k: int, n_pairs: int, delta: float = 1e-3) -> float:
    """A bound on |cos(Pu, Pv) - cos(u, v)| holding for all `n_pairs` pairs w.p. 1 - delta.

    Gaussian JL (Dasgupta & Gupta): P(| |Px|^2/|x|^2 - 1 | > e) <= 2 exp(-k (e^2/2 - e^3/3) / 2).
    Preserving |u|, |v|, |u+v|, |u-v| for unit u, v within e keeps <u, v> within e and each
    norm within sqrt(1 +- e), so the cosine moves by at most (1 + |cos|) e / (1 - e) <= 2e/(1-e).
    Returns 2 (vacuous) where no e < 1 achieves the probability.
    """
    check_int(k, "k", "jl_cosine_error()", 1, 1 << 20)
    check_int(n_pairs, "n_pairs", "jl_cosine_error()", 1, 1 << 40)
    check_float(delta, "delta", "jl_cosine_error()", 1e-300, 1.0)
    target = math.log(2 * 4 * n_pairs / delta) * 2 / k
    lo, hi = 0.0, 1.0
    if hi**2 / 2 - hi**3 / 3 < target:
        return 2.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if mid**2 / 2 - mid**3 / 3 >= target:
            hi = mid
        else:
            lo = mid
    return min(2.0, 2 * hi / (1 - hi)) if hi < 1 else 2.0
