"""Model + owner key -> a signed .mgf fingerprint; and the secrets to use one again.

    model ──normalize──> NormalizedModel
    owner key + fresh fingerprint id ──HKDF──> anchor secret ──derive_anchors──> anchors
                                     └─HKDF──> anchor key (revealable) ──HKDF──> sketch secret
    NormalizedModel + anchors + sketch secret ──compute_field──> two owner sketches:
        "sketch"         the FieldConfig estimator (exact gradients by default)
        "sketch_coarse"  black-box central differences at the quantization-scale eps
    ──write_fingerprint──> signed .mgf (arrays, config echo, sealed anchors)

Why the sketch secret hangs off the revealable anchor key: a third party given a reveal must
be able to recompute a suspect's sketch, so the projection cannot depend on a secret the
reveal withholds; and since the anchor key is per fingerprint, revealing one fingerprint opens
nothing else of the owner's.

Why float16: a fingerprint stores the anchors and two sketches. The anchors are rounded to
float16 BEFORE any field is computed, so the sealed anchors, the commitment and the fields
all refer to exactly the same points; each sketch vector is scaled to unit norm (cosines do
not see the scale) and stored in float16, whose 1e-3 relative precision is far below the
spread of similarities between models. This halves the file (measured in BENCHMARKS.md).

Why synthetic anchors by default (OWNERSHIP_ANCHORS): uniform inputs inside the input's
value range, away from the data, where a model's function is set by its weights rather than
by the task, so a fine-tune keeps it and an independent model trained on the same data does
not. Chosen on two development zoos (seeds 0 and 1) and reported on a third (seed 2) that
informed no choice (BENCHMARKS.md, docs/STATISTICS.md). The same comparison left the field's
scalar at the own top-1 logit (OWNERSHIP_FIELD): log-sum-exp, which needs no class, won on
one development zoo and lost on the other. A pool still sets the value range;
`AnchorConfig(source="augmented")` gives data-like anchors.

Why two sketches: quantized models are piecewise constant, so their gradients are zero almost
everywhere and only finite differences at a coarse eps see their function; such a suspect is
compared with the owner's field measured by the same estimator (compare like with like: an
exact gradient and a coarse difference of the same function differ). Float suspects are
compared with the exact sketch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from modelgif.crypto.kdf import (
    RandomBytes,
    check_fingerprint_id,
    derive_anchor_key,
    derive_anchor_secret,
    new_fingerprint_id,
    sketch_secret,
)
from modelgif.crypto.keys import PrivateKey
from modelgif.digests import external_data_digests, sha256_file
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.backends.blackbox import (
    QUANTIZED_EPS,
    BlackBoxBackend,
    is_quantized_graph,
)
from modelgif.fingerprint.field import (
    FIELD_FORMAT_VERSION,
    FieldConfig,
    FieldResult,
    Progress,
    compute_field,
)
from modelgif.fingerprint.input_space import quantum, to_grid
from modelgif.fingerprint.model_output import CONFIG_KEY
from modelgif.fingerprint.normalize import NORMALIZATION_VERSION, NormalizedModel, normalize
from modelgif.fingerprint.probes import (
    MAX_PROBES,
    PROBE_SCALE,
    PROBE_STEP,
    PROBES_ARRAY,
    PROBES_KEY,
    probe_points,
    seal_outputs,
)
from modelgif.fingerprint.record import Fingerprint, write_fingerprint
from modelgif.fingerprint.reveal import Reveal, verify_reveal
from modelgif.validation import MAX_PATH_POINTS, check_int, check_work

__all__ = [
    "OWNERSHIP_ANCHORS",
    "OWNERSHIP_FIELD",
    "FingerprintSecrets",
    "at_least_a_quantum",
    "coarse_config",
    "compact_anchors",
    "compact_sketch",
    "create_fingerprint",
    "input_scale",
    "is_quantized",
    "open_secrets",
]

log = logging.getLogger(__name__)

OWNERSHIP_ANCHORS = AnchorConfig(source="synthetic")  # the defaults (module docstring: why)
OWNERSHIP_FIELD = FieldConfig()  # the own top-1 logit (log-sum-exp: see the docstring)


@dataclass(frozen=True)
class FingerprintSecrets:
    """What recomputing a suspect's field needs: the anchors and the sketch secret."""

    anchors: np.ndarray
    sketch_secret: bytes
    anchor_key: bytes = b""  # opens the probe set (probes.py); empty where not needed


def input_scale(anchors: np.ndarray) -> float:
    """Root-mean-square size of an anchor coordinate (sets finite-difference steps)."""
    return float(np.sqrt(np.mean(np.square(anchors.astype(np.float64)))) or 1.0)


def coarse_config(config: FieldConfig, anchors: np.ndarray) -> FieldConfig:
    """The black-box estimator at the quantization-scale eps, else identical settings."""
    return replace(config, backend="blackbox", fd_eps=QUANTIZED_EPS * input_scale(anchors))


def open_secrets(
    fingerprint: Fingerprint,
    private_key: PrivateKey | None = None,
    reveal: Reveal | None = None,
) -> FingerprintSecrets:
    """Open a fingerprint's anchors and sketch secret with the owner key or a reveal."""
    if private_key is not None:
        anchors = fingerprint.decrypt_anchors(private_key)
        anchor_key = derive_anchor_key(private_key, fingerprint.fingerprint_id)
    elif reveal is not None:
        anchors = verify_reveal(fingerprint, reveal)
        anchor_key = reveal.anchor_key
    else:
        raise InputError("Opening a fingerprint needs the owner's private key or a reveal file.")
    return FingerprintSecrets(np.asarray(anchors, dtype=np.float32), sketch_secret(anchor_key),
                              anchor_key)


def compact_anchors(anchors: np.ndarray) -> np.ndarray:
    """float16 anchors when they fit (finite after rounding), else float32 as they are."""
    rounded = anchors.astype(np.float16)
    return rounded if np.all(np.isfinite(rounded)) else anchors.astype(np.float32)


def compact_sketch(sketch: np.ndarray) -> np.ndarray:
    """Each (anchor, step) vector scaled to unit norm, in float16 (cosines are unchanged)."""
    norms = np.linalg.norm(sketch.astype(np.float64), axis=-1, keepdims=True)
    unit = sketch / np.where(norms > 0, norms, 1.0)
    return unit.astype(np.float16)


def at_least_a_quantum(config: FieldConfig, dtype: str) -> FieldConfig:
    """Black-box steps of at least one grey level on integer input spaces (input_space.py)."""
    step = quantum(dtype)
    if step is None or (config.fd_eps is not None and config.fd_eps >= step):
        return config
    return replace(config, fd_eps=step)


def _field_summary(result: FieldResult) -> dict[str, Any]:
    return {"config": result.config.to_dict(), "estimator": result.estimator,
            "completeness": result.completeness.summary()}


def create_fingerprint(
    model: NormalizedModel | str | Path | torch.nn.Module,
    private_key: PrivateKey,
    output: str | Path,
    *,
    example_input: torch.Tensor | None = None,
    pool: np.ndarray | str | Path | None = None,
    anchor_config: AnchorConfig | None = None,
    field_config: FieldConfig | None = None,
    input_range: tuple[float, float] | None = None,
    progress: Progress | None = None,
    created_at: datetime | None = None,
    overwrite: bool = False,
    output_name: str | None = None,
    fingerprint_id: bytes | None = None,
    random_bytes: RandomBytes = os.urandom,
    probes: int = 0,
) -> Fingerprint:
    """Normalize `model`, derive secret anchors, compute both sketches, sign and write.

    `output_name` picks the model output the field is taken of (default: the first); it is
    recorded, and suspects are read at the output of that name (else their first).
    `fingerprint_id` (16 bytes) and `random_bytes` are drawn from os.urandom unless given:
    pinning them makes a fingerprint reproducible (benchmarks, golden files); a real owner
    never pins the id, since anchors are derived from it.
    `probes` > 0 also seals the owner's outputs at that many secret probe points (probes.py),
    for verdicts through an inference API at a small query budget.
    """
    data_files: tuple[tuple[str, str], ...] = ()
    work = {"anchors": (anchor_config or OWNERSHIP_ANCHORS).n_anchors,
            "steps": (field_config or OWNERSHIP_FIELD).n_steps}
    check_work("path points", work, MAX_PATH_POINTS)  # before any anchor is derived
    if isinstance(model, NormalizedModel):
        normalized, name = model, "model.onnx"
        original_sha256 = model.source_sha256 or model.digest.split(":", 1)[1]
    else:
        normalized = normalize(model, example_input, input_range=input_range,
                               output=output_name)
        if isinstance(model, str | Path):
            name, original_sha256 = Path(model).name, sha256_file(Path(model))
            data_files = tuple(external_data_digests(model))
        else:
            name = f"{type(model).__name__}.onnx"
            original_sha256 = normalized.digest.split(":", 1)[1]
    spec = normalized.input_spec
    anchor_config = anchor_config or OWNERSHIP_ANCHORS
    if fingerprint_id is None:
        fingerprint_id = new_fingerprint_id(random_bytes)
    check_fingerprint_id(fingerprint_id)
    anchor_secret = derive_anchor_secret(private_key, fingerprint_id)
    secret = sketch_secret(derive_anchor_key(private_key, fingerprint_id))
    anchors = derive_anchors(
        anchor_secret, anchor_config, pool=pool,
        input_shape=tuple(d for d in spec.shape[1:] if d is not None),
        value_range=spec.value_range,
    )
    stored = compact_anchors(to_grid(anchors.inputs, spec.dtype))  # uint8: whole grey levels
    anchors = replace(anchors, inputs=stored.astype(np.float32))
    config = at_least_a_quantum(field_config or OWNERSHIP_FIELD, spec.dtype)
    if config.version != FIELD_FORMAT_VERSION:
        raise InputError(
            f"Field config version {config.version} is read-only (its sketch could be the exact "
            f"field); new fingerprints use version {FIELD_FORMAT_VERSION}."
        )
    fine = compute_field(normalized, anchors, secret, config, progress=progress)
    coarse_cfg = at_least_a_quantum(coarse_config(fine.config, anchors.inputs), spec.dtype)
    coarse = compute_field(normalized, anchors, secret, coarse_cfg,
                           backend=BlackBoxBackend.from_onnx(normalized.model,
                                                              eps=coarse_cfg.fd_eps),
                           progress=progress)
    log.info("fingerprint fields: %s; completeness %s", fine.estimator["name"],
             fine.completeness.summary())
    echo = {
        "anchors": {**anchors.config.to_dict(), "value_range": list(anchors.value_range),
                    "pool_sha256": anchors.pool_digest},
        "field": _field_summary(fine),
        "field_coarse": _field_summary(coarse),
        "input_spec": spec.to_dict(),
        "output_spec": normalized.output_spec.to_dict(),
        "opset": normalized.opset,
        "normalization_version": NORMALIZATION_VERSION,
        CONFIG_KEY: normalized.output_name,
    }
    arrays = {"sketch": compact_sketch(fine.sketch),
              "sketch_coarse": compact_sketch(coarse.sketch),
              "classes": fine.classes.astype(np.int32)}
    if probes:
        arrays[PROBES_ARRAY], echo[PROBES_KEY] = _probe_outputs(
            normalized, derive_anchor_key(private_key, fingerprint_id), fingerprint_id, probes,
            anchors.value_range, random_bytes)
    return write_fingerprint(
        output,
        arrays=arrays,
        anchors=stored,
        config=echo,
        model_digest=normalized.digest.split(":", 1)[1],
        original_name=name,
        original_sha256=original_sha256,
        private_key=private_key,
        fingerprint_id=fingerprint_id,
        created_at=created_at,
        random_bytes=random_bytes,
        overwrite=overwrite,
        data_files=data_files,
    )


def _probe_outputs(
    normalized: NormalizedModel, anchor_key: bytes, fingerprint_id: bytes, count: int,
    value_range: tuple[float, float], random_bytes: RandomBytes,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The owner's outputs at `count` probe points, sealed, and their config echo."""
    check_int(count, "probes", "create_fingerprint()", 2, MAX_PROBES)
    count += count % 2  # pairs
    spec = normalized.input_spec
    shape = tuple(int(d) for d in spec.shape[1:] if d is not None)
    points = probe_points(anchor_key, count, shape, value_range, spec.dtype)
    outputs = BlackBoxBackend.from_onnx(normalized.model).outputs(points)
    outputs = outputs.reshape(len(points), -1).astype(np.float32)
    if not np.all(np.isfinite(outputs)):
        raise InputError("The model answers NaN/Inf at a probe point; probes need finite "
                         "outputs.")
    sealed = seal_outputs(outputs, anchor_key, fingerprint_id, random_bytes)
    return sealed, {"count": count, "classes": int(outputs.shape[1]), "scale": PROBE_SCALE,
                    "step": PROBE_STEP, "source": "synthetic"}


def is_quantized(model: object) -> bool:
    """True for an ONNX graph with quantization ops (compared by the coarse estimator)."""
    proto = model.model if isinstance(model, NormalizedModel) else model
    return isinstance(proto, onnx.ModelProto) and is_quantized_graph(proto)
