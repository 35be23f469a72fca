"""The text-model branch of the verify and calibrate workflows.

A fingerprint whose config has a "text" section was made of a transformer cut at its
token-embedding lookup (modelgif.fingerprint.text); its suspects and negatives are Hugging
Face folders or token-id ONNX files, compared by their field in the one-hot token space.
This module turns that comparison into the same Verdict and the same signed record as the
image path; the field itself is computed by modelgif.fingerprint.text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from modelgif.crypto.keys import PrivateKey, keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets
from modelgif.fingerprint.field import Progress
from modelgif.fingerprint.record import Fingerprint
from modelgif.fingerprint.text.fingerprint import calibrate_text, compare_text
from modelgif.fingerprint.text.hf_folder import is_hf_folder
from modelgif.fingerprint.text.model import load_text_model
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.ownership import Comparison, ownership_record
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = ["calibrate_text_negatives", "text_negatives", "verify_text"]


def verify_text(
    fingerprint_path: Path,
    made: Fingerprint,
    secrets: FingerprintSecrets,
    suspect_path: Path,
    key: PrivateKey,
    command: str,
    *,
    calibration_path: Path | None,
    calibrations: dict[str, Calibration] | None,
    backend: str,
    model_output: str | None,
    progress: Progress | None,
) -> tuple[Verdict, dict[str, Any], tuple[str, ...]]:
    """Verdict, record and the comparison's notes for one text suspect (folder or .onnx)."""
    suspect = load_text_model(suspect_path, int(made.config["text"]["length"]),
                              model_output or made.config.get("model_output"))
    compared = compare_text(made, secrets, suspect, backend, progress)
    calibration = (calibrations or {}).get(compared.sketch)
    verdict = compute_verdict(compared.cosines, calibration, compared={
        "owner": "sha256:" + made.model_digest, "suspect": compared.digest,
        "fingerprint_commitment": made.commitment, "estimator": compared.sketch})
    comparison = Comparison(compared.cosines, compared.sketch, compared.estimator,
                            compared.digest)
    normalized, hashed = suspect.normalized, suspect_path
    if suspect_path.is_dir():  # a folder: its weights file is what the evidence hashes
        hashed = suspect_path / "model.safetensors"
        normalized = replace(normalized, opset=cast(Any, None))  # not an ONNX file
    record = ownership_record(fingerprint_path, made, hashed, normalized, verdict, comparison,
                              keyid(key), command, calibration_path, calibrations)
    return verdict, record, tuple(compared.notes)


def text_negatives(items: Sequence[Path]) -> list[Path]:
    """Negatives for a text fingerprint: Hugging Face folders and token-id .onnx files; a
    folder that is not a model is searched one level down."""
    found: list[Path] = []
    for item in items:
        if is_hf_folder(item) or item.is_file():
            found.append(item)
        elif item.is_dir():
            found += sorted(p for p in item.iterdir()
                            if is_hf_folder(p) or (p.is_file() and p.suffix == ".onnx"))
        else:
            raise InputError(f"{item}: no such file or folder")
    if len(found) < 5:
        raise InputError(f"Calibration needs at least 5 negative models; got {len(found)}.")
    return found


def calibrate_text_negatives(
    made: Fingerprint, secrets: FingerprintSecrets, items: Sequence[Path], target_fpr: float,
    progress: Progress | None,
) -> tuple[dict[str, Calibration], list[Path]]:
    """The text null: (fitted calibrations, negative paths)."""
    files = text_negatives(items)
    fitted = calibrate_text(made, secrets, list(files), target_fpr, progress)
    return fitted, files
