"""`modelgif.calibrate_fused` and `modelgif.verify_fused`: ONE calibrated test over several
fingerprints of the same model.

Why a workflow: the fused test (verifiers/fused_verdict.py) only holds its false-positive
rate when every fingerprint is the owner's, of one model, read with the statistic it was
calibrated with, against negatives and a suspect normalized at the same output. This call
checks all of that in one place, signs the calibration bound to its fingerprints, and
writes the signed fused-verdict statement (every input file hashed) only when asked.

An option, not the default: it needs a second fingerprint (for example anchors on the
owner's own inputs, `--anchor-source subset`), and its gain was measured on one benchmark
(README, "Distillation and the noise thief").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.crypto.keys import Passphrase, PrivateKey, keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.verifiers.fused import Rule
from modelgif.verifiers.fused_calibration_file import (
    load_fused_calibration,
    save_fused_calibration,
)
from modelgif.verifiers.fused_verdict import (
    STATISTICS,
    FusedCalibration,
    FusedComponent,
    Statistic,
    fused_verdict,
)
from modelgif.verifiers.fused_verdict import calibrate_fused as fit_fused_calibration
from modelgif.verifiers.record import environment, file_entry, now_utc
from modelgif.verifiers.signed_file import write_signed
from modelgif.verifiers.verdict import Verdict
from modelgif.workflows.calibrate import negative_files
from modelgif.workflows.command import key_name, reproduce_command
from modelgif.workflows.keys import KeySource, owner_key

__all__ = [
    "FUSED_VERDICT_SCHEMA",
    "FUSED_VERDICT_TYPE",
    "FusedCalibrationResult",
    "FusedVerifyResult",
    "calibrate_fused",
    "statistics_for",
    "verify_fused",
]

PathLike = str | os.PathLike[str]
MAX_COMPONENTS = 8
FUSED_VERDICT_SCHEMA = "modelgif.fused-verdict/v1"
FUSED_VERDICT_TYPE = "https://modelgif.dev/fused-verdict/v1"


@dataclass(frozen=True)
class FusedCalibrationResult:
    """The fused null, the negatives it was measured on, and where it was written."""

    calibration: FusedCalibration
    negatives: tuple[Path, ...]
    fingerprints: tuple[Path, ...]
    output: Path

    def to_dict(self) -> dict[str, Any]:
        """What `modelgif calibrate --fused-with ... --json` prints."""
        return {"file": str(self.output), "negatives": len(self.negatives),
                "method": self.calibration.method,
                "threshold": self.calibration.null.null.threshold,
                "fingerprints": [str(p) for p in self.fingerprints]}


@dataclass(frozen=True)
class FusedVerifyResult:
    """The fused verdict and the statement that is (or would be) signed."""

    verdict: Verdict
    record: dict[str, Any]
    rule: str
    output: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The statement's predicate: what `modelgif verify --fused-with ... --json` prints."""
        return self.record


def statistics_for(names: str | Sequence[str] | None, k: int) -> list[Statistic]:
    """One statistic per fingerprint: `names` as a list or "S1,S2"; default log-agreement."""
    if names is None:
        return ["log-agreement"] * k
    given = [s.strip() for s in (names.split(",") if isinstance(names, str) else names)]
    if len(given) != k or any(n not in STATISTICS for n in given):
        raise InputError(f"--fused-statistics needs {k} names among {', '.join(STATISTICS)}; "
                         f"got {','.join(given)!r}.")
    return [n for s in given for n in STATISTICS if n == s]


def _components(fingerprints: Sequence[PathLike], key: PrivateKey,
                statistics: str | Sequence[str] | None
                ) -> tuple[list[Path], list[FusedComponent]]:
    """The owner's fingerprints, verified with the key, of one model, each with its statistic."""
    paths = [Path(p) for p in fingerprints]
    if not 2 <= len(paths) <= MAX_COMPONENTS or len(set(paths)) != len(paths):
        raise InputError(f"Give 2 to {MAX_COMPONENTS} distinct fingerprints to fuse.")
    chosen = statistics_for(statistics, len(paths))
    loaded = [load_fingerprint(p, key.public_key()) for p in paths]
    if len({f.model_digest for f in loaded}) != 1:
        raise InputError("The fused fingerprints must all be of the same model.")
    components = [FusedComponent(f, open_secrets(f, key), s)
                  for f, s in zip(loaded, chosen, strict=True)]
    return paths, components


def calibrate_fused(fingerprints: Sequence[PathLike], negatives: Sequence[PathLike], *,
                    key: KeySource, output: PathLike, passphrase: Passphrase = None,
                    rule: Rule = "max", statistics: str | Sequence[str] | None = None,
                    target_fpr: float = 0.01, model_output: str | None = None,
                    force: bool = False) -> FusedCalibrationResult:
    """Fit the fused null on independent `negatives` and write it signed to `output`."""
    out = Path(output)
    check_output(out, force)  # before any work
    private = owner_key(key, passphrase)
    paths, components = _components(fingerprints, private, statistics)
    files = negative_files([Path(n) for n in negatives])
    wanted = model_output or recorded_output(components[0].fingerprint.config)
    models = [normalize(f, output=wanted, strict_output=False) for f in files]
    calibration = fit_fused_calibration(components, models, rule, target_fpr)
    save_fused_calibration(out, [c.fingerprint for c in components], calibration, private, force)
    return FusedCalibrationResult(calibration, tuple(files), tuple(paths), out)


def verify_fused(fingerprints: Sequence[PathLike], suspect: PathLike, *, key: KeySource,
                 calibration: PathLike, passphrase: Passphrase = None,
                 statistics: str | Sequence[str] | None = None, backend: str = "auto",
                 model_output: str | None = None, command: str | None = None,
                 output: PathLike | None = None, force: bool = False) -> FusedVerifyResult:
    """The fused verdict on `suspect`; the signed statement is written to `output` if given.

    `command` is the command line the statement repeats (the CLI passes the argv it ran);
    without it, the equivalent `modelgif verify ... --fused-with ...` is written.
    """
    out = None if output is None else Path(output)
    if out is not None:
        check_output(out, force)
    private = owner_key(key, passphrase)
    paths, components = _components(fingerprints, private, statistics)
    cal_path = Path(calibration)
    fused = load_fused_calibration(cal_path, [c.fingerprint for c in components],
                                   private.public_key())
    wanted = model_output or recorded_output(components[0].fingerprint.config)
    model = normalize(Path(suspect), output=wanted, strict_output=False)
    verdict = fused_verdict(components, model, fused, backend)
    inputs = [file_entry("fingerprint", p, "sha256:" + c.fingerprint.model_digest)
              for p, c in zip(paths, components, strict=True)]
    inputs += [file_entry("suspect", Path(suspect), model.digest, model.opset),
               file_entry("calibration", cal_path)]
    if command is None:
        command = reproduce_command("verify", [paths[0], Path(suspect)], {
            "--key": key_name(key), "--fused-with": paths[1:], "--calibration": cal_path,
            "--fused-statistics": ",".join(c.statistic for c in components),
            "--backend": backend if backend != "auto" else None,
            "--model-output": model_output})
    record = {
        "schema": FUSED_VERDICT_SCHEMA, "created_at": now_utc(), "verdict": verdict.to_dict(),
        "inputs": inputs, "calibration": fused.to_dict(), "command": command,
        "environment": environment(),
        "custody": [*({"at": c.fingerprint.created_at, "event": "fingerprint made",
                       "by": c.fingerprint.keyid} for c in components),
                    {"at": now_utc(), "event": "suspect verified", "by": keyid(private)}],
    }
    if out is not None:
        subjects = [{"name": e["name"], "digest": {"sha256": e["sha256"]}} for e in inputs]
        write_signed(out, subjects, FUSED_VERDICT_TYPE, record, private, force)
    return FusedVerifyResult(verdict, record, fused.rule, out)
