"""Probe points and the owner's sealed outputs there: what a cheap black-box verdict compares.

Why: a field through an inference API costs about 130 forward passes per path point (the
black-box backend's 2(k + 1) differences), some 133,000 queries per verdict at the default
64 anchors x 16 steps, at float inputs no pixel-grid API accepts. A verdict that compares
OUTPUTS costs one query per point. So a fingerprint made with `probes=P` also stores the
owner's outputs at P secret probe points:

    anchor key ──HKDF──> probe secret ──derive_anchors (synthetic) + secret signs──>
                                          P/2 pairs of probe points (x, x + d)
               └─HKDF──> probe key ──AES-256-GCM──> the owner's outputs there (sealed)

Why pairs: what a fine-tune keeps best is the local shape of the function, not its values
(the field's own lesson). The change of the outputs across a pair, a finite difference
with a step of 2 % of the value range (at least a grey level, so it survives the pixel
grid), separated fine-tunes from independent models by about 5 null spreads on the
development zoo, where output values alone gave 3 to 4 (BENCHMARKS.md).

The points are synthetic like the default anchors: uniform in a box around the centre of the
input's value range, a quarter of its width (PROBE_SCALE; chosen on a development zoo,
BENCHMARKS.md), where a model's outputs are set by its weights rather than by the task and
are not yet saturated; rounded to float16 and then
to the input space's grid (whole grey levels for uint8 images), so a request to a deployed
model carries exactly the point the owner measured. They are never stored: the probe secret
re-derives them. The outputs (float32, the model output the fingerprint names) are sealed
like the anchors: the ciphertext is an ordinary array of the fingerprint (`probes_sealed`),
so the signature and its digest cover it, and the config echo says how many points there
are. Both secrets hang off the revealable anchor key, so a third party given a reveal can
open them too; nothing of them is public.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelgif.crypto.kdf import RandomBytes, check_fingerprint_id, probe_key, probe_secret
from modelgif.crypto.keystream import KeyStream
from modelgif.crypto.sealing import canonical_array_bytes, parse_canonical_array
from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.input_space import to_grid
from modelgif.validation import check_int

__all__ = [
    "MAX_PROBES",
    "PROBES_ARRAY",
    "PROBES_KEY",
    "PROBE_SCALE",
    "PROBE_STEP",
    "ProbeSet",
    "open_probes",
    "probe_points",
    "seal_outputs",
]

PROBES_ARRAY = "probes_sealed"
PROBES_KEY = "probes"  # the config echo: {"count", "classes", "scale", "step", "source"}
MAX_PROBES = 65536
PROBE_SCALE = 0.25  # the box's width as a fraction of the value range
PROBE_STEP = 0.02  # a pair's offset per coordinate, as a fraction of the value range
_AAD = b"modelgif/v1 sealed-probe-outputs "
_NONCE = 12
_OPAQUE = "The fingerprint's probe outputs do not open: wrong key, or the file was altered."


@dataclass(frozen=True)
class ProbeSet:
    """The secret probe points (P, *input shape), float32, and the owner's outputs (P, C)."""

    points: np.ndarray
    owner: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])


def probe_points(
    anchor_key: bytes,
    count: int,
    input_shape: tuple[int, ...],
    value_range: tuple[float, float],
    dtype: str,
    scale: float = PROBE_SCALE,
    step: float = PROBE_STEP,
) -> np.ndarray:
    """The first `count` probe points (an even number: pairs) of this anchor key's set.

    Points 2i and 2i + 1 are a pair: a base x_i, uniform in the box, and x_i + d_i, with
    d_i = +-`step` x (value-range width) on every coordinate (secret signs). A prefix is a
    prefix: the first n pairs of a larger set are the n-pair set, so one stored set serves
    every query budget up to its size.
    """
    check_int(count, "count", "probe_points()", 2, MAX_PROBES)
    if count % 2:
        raise InputError(f"Probe points come in pairs; got an odd count {count}.")
    low, high = value_range
    centre, half = (low + high) / 2.0, scale * (high - low) / 2.0
    secret = probe_secret(anchor_key)
    bases = derive_anchors(secret, AnchorConfig(n_anchors=count // 2, source="synthetic"),
                           input_shape=input_shape, value_range=(centre - half, centre + half)
                           ).inputs.astype(np.float64)
    signs = KeyStream(secret, "probe-directions").rademacher(bases.size).reshape(bases.shape)
    moved = np.clip(bases + signs * step * (high - low), low, high)
    drawn = np.stack([bases, moved], axis=1).reshape(count, *bases.shape[1:])
    rounded = drawn.astype(np.float16)
    stored = rounded if np.all(np.isfinite(rounded)) else drawn
    return to_grid(stored.astype(np.float32), dtype)


def seal_outputs(
    outputs: np.ndarray,
    anchor_key: bytes,
    fingerprint_id: bytes,
    random_bytes: RandomBytes = os.urandom,
) -> np.ndarray:
    """The owner's float32 outputs (P, C) sealed with the probe key, as a uint8 array."""
    values = np.ascontiguousarray(outputs, dtype=np.float32)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise InputError("The owner's probe outputs must be a finite (points, classes) array.")
    nonce = random_bytes(_NONCE)
    aad = _AAD + check_fingerprint_id(fingerprint_id)
    blob = nonce + AESGCM(probe_key(anchor_key)).encrypt(
        nonce, canonical_array_bytes(values), aad)
    return np.frombuffer(blob, dtype=np.uint8).copy()


def open_probes(
    config: dict[str, Any],
    arrays: Any,
    anchor_key: bytes,
    fingerprint_id: bytes,
) -> ProbeSet | None:
    """The probe set of a fingerprint (its config echo and arrays), None if it has none.

    IntegrityError (one opaque line) when the sealed outputs do not open or disagree with
    the signed count; the caller has verified the fingerprint's signature already.
    """
    echo = config.get(PROBES_KEY)
    if echo is None:
        return None
    try:
        count, classes = int(echo["count"]), int(echo["classes"])
        blob = bytes(np.asarray(arrays[PROBES_ARRAY], dtype=np.uint8))
        spec = config["input_spec"]
        shape = tuple(int(d) for d in spec["shape"][1:])
        low, high = (float(v) for v in config["anchors"]["value_range"])
        dtype = str(spec["dtype"])
        scale, step = float(echo["scale"]), float(echo["step"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(_OPAQUE) from None
    if (not 2 <= count <= MAX_PROBES or count % 2 or not 0.0 < scale <= 1.0
            or not 0.0 < step <= 1.0 or len(blob) < _NONCE + 16):
        raise IntegrityError(_OPAQUE)
    try:
        plain = AESGCM(probe_key(anchor_key)).decrypt(
            blob[:_NONCE], blob[_NONCE:], _AAD + check_fingerprint_id(fingerprint_id))
    except InvalidTag:
        raise IntegrityError(_OPAQUE) from None
    owner = parse_canonical_array(plain, max_bytes=len(plain))
    if owner.dtype != np.float32 or owner.shape != (count, classes):
        raise IntegrityError(_OPAQUE)
    points = probe_points(anchor_key, count, shape, (low, high), dtype, scale, step)
    return ProbeSet(points=points, owner=np.array(owner))
