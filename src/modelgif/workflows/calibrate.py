"""`modelgif.calibrate`: the null of "independent", measured on independent models.

Why a workflow: a calibration is only worth its negatives, and only valid for the test it
was measured with. This call reads the negatives exactly as `verify` reads suspects (at the
fingerprint's output; for a budget, queried at the same probe points as an API of the same
kind), fits the null, and signs the result bound to that one fingerprint, so `verify`
refuses it for any other fingerprint or test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.crypto.keys import Passphrase
from modelgif.errors import InputError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.field import Progress
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.fingerprint.text.fingerprint import is_text_fingerprint
from modelgif.validation import check_float
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.ownership import calibrate as calibrate_field
from modelgif.verifiers.ownership import save_calibration
from modelgif.verifiers.probe_verdict import calibrate_probes, plan_queries
from modelgif.workflows.keys import KeySource, owner_key
from modelgif.workflows.text import calibrate_text_negatives

__all__ = ["CalibrationResult", "calibrate", "negative_files"]

PathLike = str | os.PathLike[str]
MIN_NEGATIVES = 5


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted nulls (one per sketch, or one per query plan) and what they came from."""

    calibrations: dict[str, Calibration]
    negatives: tuple[Path, ...]
    target_fpr: float
    output: Path | None = None

    @property
    def main(self) -> Calibration:
        """The calibration a default verdict uses: the field's sketch, else the only one."""
        return self.calibrations.get("sketch") or next(iter(self.calibrations.values()))

    def to_dict(self) -> dict[str, Any]:
        """What `modelgif calibrate --json` prints: the file, the count, each threshold."""
        head: dict[str, Any] = {} if self.output is None else {"file": str(self.output)}
        return {**head, "negatives": len(self.negatives),
                **{name: {"threshold": c.threshold, "fpr_bound": c.fpr_bound,
                          "fpr_bound_empirical": c.fpr_bound_empirical}
                   for name, c in self.calibrations.items()}}


def negative_files(items: Sequence[Path]) -> list[Path]:
    """Expand folders to their .onnx files (sorted); refuse anything else."""
    files: list[Path] = []
    for item in items:
        if item.is_dir():
            files += sorted(item.glob("*.onnx"))
        elif item.is_file():
            files.append(item)
        else:
            raise InputError(f"{item}: no such file or folder")
    if len(files) < MIN_NEGATIVES:
        raise InputError(f"Calibration needs at least {MIN_NEGATIVES} negative models; got "
                         f"{len(files)}.")
    return files


def calibrate(
    fingerprint: PathLike,
    negatives: Sequence[PathLike],
    *,
    key: KeySource,
    passphrase: Passphrase = None,
    target_fpr: float = 0.01,
    query_budget: int | None = None,
    output_kind: str = "probabilities",
    top_k: int = 5,
    model_output: str | None = None,
    output: PathLike | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Fit the null of `fingerprint` from independent `negatives` (ONNX files or folders of
    them; for a text fingerprint also Hugging Face folders), at `target_fpr`.

    The negatives must be made WITHOUT the owner's model and must never be the models a
    verdict is later evaluated on. `query_budget=N` (with `output_kind`, `top_k`) fits the
    null of the output-agreement test for that kind and N instead of the field's. With
    `output`, the calibration is signed with `key` and written there (checked before any
    work; replaced only with `force`).
    """
    if output is not None:
        check_output(output, force)
    check_float(target_fpr, "target_fpr", "calibrate()", 1e-6, 0.5)
    private = owner_key(key, passphrase)
    made = load_fingerprint(fingerprint, private.public_key())
    secrets = open_secrets(made, private)
    items = [Path(n) for n in negatives]
    if is_text_fingerprint(made):
        if query_budget is not None:
            raise InputError("--query-budget is for image fingerprints made with --probes; "
                             "a text fingerprint is calibrated on its field.")
        fitted, files = calibrate_text_negatives(made, secrets, items, target_fpr, progress)
    else:
        files = negative_files(items)
        wanted = model_output or recorded_output(made.config)
        models = [normalize(f, output=wanted, strict_output=model_output is not None)
                  for f in files]
        if query_budget is not None:
            plan = plan_queries(made, query_budget, output_kind, top_k)
            fitted = calibrate_probes(made, secrets, models, plan, target_fpr)
        else:
            fitted = calibrate_field(made, secrets, models, target_fpr, progress=progress)
    written = None
    if output is not None:
        written = save_calibration(Path(output), made, fitted, [f.name for f in files], private,
                                   force)
    return CalibrationResult(fitted, tuple(files), target_fpr, written)
