"""Fingerprint + suspect -> cosines -> Verdict: "was this suspect derived from my model?".

    fingerprint (.mgf, verified) + owner key or reveal ──open_secrets──> anchors, sketch secret
    suspect: ONNX file | NormalizedModel | callable (an inference API)
        ──compare_suspect──> per-(anchor, step) cosines with the owner's sketch
            float ONNX        exact gradients (or black-box at the fine eps)  vs "sketch"
            callable          black-box at the fine eps                       vs "sketch"
            quantized ONNX    black-box at the coarse eps                     vs "sketch_coarse"
        ──calibrate (independent negatives) / compute_verdict──> Verdict

The suspect's field is always recomputed with the settings read from the fingerprint, never
with this installation's defaults, so a fingerprint made by another version still compares
like with like. Calibration files are bound to one fingerprint (its id and anchor commitment)
and list the negatives' digests, so the evaluation can prove it never scored a negative
against a null that contains it (the reference code's leak).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend, default_eps
from modelgif.fingerprint.create import FingerprintSecrets, input_scale, is_quantized
from modelgif.fingerprint.field import FieldConfig, Progress, compute_field, field_cosines
from modelgif.fingerprint.input_space import quantum
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.calibration_file import (
    CALIBRATION_SCHEMA,
    load_calibration,
    save_calibration,
)
from modelgif.verifiers.record import file_entry, make_record
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = [
    "CALIBRATION_SCHEMA",
    "Comparison",
    "Suspect",
    "calibrate",
    "compare_suspect",
    "load_calibration",
    "ownership_record",
    "save_calibration",
    "verify_suspect",
]

log = logging.getLogger(__name__)

SKETCHES = ("sketch", "sketch_coarse")
Suspect = NormalizedModel | str | Path | Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Comparison:
    """One suspect against one fingerprint: cosines (N, S) and how they were measured."""

    cosines: np.ndarray
    sketch: str  # which owner sketch it was compared with
    estimator: dict[str, Any]
    digest: str  # the suspect's normalized digest, or "callable"


def _suspect_model(
    suspect: Suspect, output: str | None
) -> NormalizedModel | Callable[[np.ndarray], np.ndarray]:
    if isinstance(suspect, str | Path):  # read at the output of the same role (model_output.py)
        return normalize(Path(suspect), output=output, strict_output=False)
    return suspect


def compare_suspect(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    suspect: Suspect,
    backend: str = "auto",
    progress: Progress | None = None,
) -> Comparison:
    """Recompute the suspect's field with the fingerprint's settings and compare sketches."""
    model = _suspect_model(suspect, recorded_output(fingerprint.config))
    config = FieldConfig.from_dict(dict(fingerprint.config["field"]["config"]))
    anchors = secrets.anchors
    fine_eps = config.fd_eps or default_eps(input_scale(anchors), quantized=False)
    fine_eps = max(fine_eps, quantum(str(fingerprint.config["input_spec"]["dtype"])) or 0.0)
    digest = model.digest if isinstance(model, NormalizedModel) else "callable"
    if isinstance(model, NormalizedModel):
        expected = tuple(fingerprint.config["input_spec"]["shape"][1:])
        if tuple(model.input_spec.shape[1:]) != expected:
            raise InputError(
                f"The suspect's input shape {model.input_spec.shape[1:]} differs "
                f"from the fingerprinted model's {expected}."
            )
    if isinstance(model, NormalizedModel) and is_quantized(model):
        coarse = FieldConfig.from_dict(dict(fingerprint.config["field_coarse"]["config"]))
        engine = BlackBoxBackend.from_onnx(model.model, eps=coarse.fd_eps)
        result = compute_field(
            model, anchors, secrets.sketch_secret, coarse, backend=engine, progress=progress
        )
        sketch = "sketch_coarse"
    elif isinstance(model, NormalizedModel):
        chosen = replace(
            config, backend=backend, fd_eps=fine_eps if backend == "blackbox" else config.fd_eps
        )
        result = compute_field(model, anchors, secrets.sketch_secret, chosen, progress=progress)
        sketch = "sketch"
    else:
        engine = BlackBoxBackend(model, eps=fine_eps)
        chosen = replace(config, backend="blackbox", fd_eps=fine_eps)
        result = compute_field(
            model, anchors, secrets.sketch_secret, chosen, backend=engine, progress=progress
        )
        sketch = "sketch"
    cosines = field_cosines(np.asarray(fingerprint.arrays[sketch]), result.sketch, "suspect")
    return Comparison(cosines, sketch, result.estimator, digest)


def verify_suspect(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    suspect: Suspect,
    calibrations: dict[str, Calibration] | None = None,
    backend: str = "auto",
    progress: Progress | None = None,
) -> tuple[Verdict, Comparison]:
    """The verdict for one suspect; uncalibrated when no calibration fits its estimator."""
    comparison = compare_suspect(fingerprint, secrets, suspect, backend, progress)
    calibration = (calibrations or {}).get(comparison.sketch)
    compared = {
        "owner": "sha256:" + fingerprint.model_digest,
        "suspect": comparison.digest,
        "fingerprint_commitment": fingerprint.commitment,
        "estimator": comparison.sketch,
    }
    verdict = compute_verdict(comparison.cosines, calibration, compared=compared)
    return verdict, comparison


def calibrate(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    negatives: Sequence[str | Path | NormalizedModel],
    target_fpr: float = 0.01,
    sketches: Sequence[str] = SKETCHES,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Calibration]:
    """Fit a null for each owner sketch from independent negative models."""
    output = recorded_output(fingerprint.config)
    models = [n if isinstance(n, NormalizedModel)
              else normalize(Path(n), output=output, strict_output=False) for n in negatives]
    digests = [m.digest for m in models]
    if len(set(digests)) != len(digests):
        raise InputError("Two calibration negatives compute the same function (same digest).")
    owner = "sha256:" + fingerprint.model_digest
    if owner in digests:
        raise InputError("The fingerprinted model itself is among the negatives.")
    result: dict[str, Calibration] = {}
    for sketch in sketches:
        cosines = []
        for index, model in enumerate(models):
            cosines.append(_negative_cosines(fingerprint, secrets, model, sketch))
            if progress is not None:
                progress(
                    index + 1 + len(models) * list(sketches).index(sketch),
                    len(models) * len(sketches),
                )
        result[sketch] = fit_calibration(
            np.stack(cosines),
            digests,
            target_fpr=target_fpr,
            anchor_commitment=fingerprint.commitment,
        )
    return result


def _negative_cosines(
    fingerprint: Fingerprint, secrets: FingerprintSecrets, model: NormalizedModel, sketch: str
) -> np.ndarray:
    key = "field" if sketch == "sketch" else "field_coarse"
    config = FieldConfig.from_dict(dict(fingerprint.config[key]["config"]))
    engine = (
        BlackBoxBackend.from_onnx(model.model, eps=config.fd_eps)
        if sketch == "sketch_coarse"
        else None
    )
    result = compute_field(model, secrets.anchors, secrets.sketch_secret, config, backend=engine)
    return field_cosines(np.asarray(fingerprint.arrays[sketch]), result.sketch,
                         f"negative {model.digest[:19]}")


def ownership_record(
    fingerprint_path: Path,
    fingerprint: Fingerprint,
    suspect_path: Path,
    suspect: NormalizedModel,
    verdict: Verdict,
    comparison: Comparison,
    examiner_keyid: str,
    command: str,
    calibration_path: Path | None = None,
    calibrations: dict[str, Calibration] | None = None,
) -> dict[str, Any]:
    """The verdict record of one verification (input of `modelgif report`)."""
    inputs = [
        file_entry("fingerprint", fingerprint_path, "sha256:" + fingerprint.model_digest),
        file_entry("suspect", suspect_path, suspect.digest, suspect.opset),
    ]
    if calibration_path is not None:
        inputs.append(file_entry("calibration", calibration_path))
    fitted = (calibrations or {}).get(comparison.sketch)
    record = make_record(
        "ownership", verdict.to_dict(), inputs,
        {"fingerprint_config": fingerprint.config, "anchor_commitment": fingerprint.commitment,
         "fingerprint_id": fingerprint.fingerprint_id.hex(),
         "compared_sketch": comparison.sketch, "suspect_estimator": comparison.estimator},
        [{"at": fingerprint.created_at, "event": "fingerprint made", "by": fingerprint.keyid}],
        command,
        calibration=fitted.to_dict() if fitted else None,
    )
    record["custody"].append({"at": record["created_at"], "event": "suspect verified",
                              "by": examiner_keyid})
    return record
