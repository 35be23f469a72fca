"""The verdict record of an output-agreement verification (ONNX file or inference server).

Like ownership_record (ownership.py), with what the query budget adds: the estimator's
name binds it to its calibration (`probe:<kind>:<points>`), the method records the budget
asked for and the queries actually spent, and a suspect behind a server is represented by
its query log (role `query-log`), whose sha256 is an in-toto subject of the signed record,
so `modelgif report verify --files` re-hashes it. The server's URL and model name are
recorded as the examiner typed them; they say where the answers came from, not who runs
the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelgif.fingerprint.normalize import NormalizedModel
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.probe_verdict import ProbeComparison
from modelgif.verifiers.record import file_entry, make_record
from modelgif.verifiers.verdict import Verdict

__all__ = ["probe_record"]


def probe_record(
    fingerprint_path: Path,
    fingerprint: Fingerprint,
    verdict: Verdict,
    comparison: ProbeComparison,
    examiner_keyid: str,
    command: str,
    budget: int,
    *,
    suspect_path: Path | None = None,
    suspect: NormalizedModel | None = None,
    query_log: Path | None = None,
    server: dict[str, Any] | None = None,
    calibration_path: Path | None = None,
    calibrations: dict[str, Calibration] | None = None,
) -> dict[str, Any]:
    """The signed-record dict of one budgeted verification (input of `modelgif report`)."""
    inputs = [file_entry("fingerprint", fingerprint_path, "sha256:" + fingerprint.model_digest)]
    if suspect_path is not None and suspect is not None:
        inputs.append(file_entry("suspect", suspect_path, suspect.digest, suspect.opset))
    if query_log is not None:
        inputs.append(file_entry("query-log", query_log))
    if calibration_path is not None:
        inputs.append(file_entry("calibration", calibration_path))
    fitted = (calibrations or {}).get(comparison.sketch)
    estimator = {**comparison.estimator, "query_budget": budget}
    if server is not None:
        estimator["server"] = server
    record = make_record(
        "ownership", verdict.to_dict(), inputs,
        {"fingerprint_config": fingerprint.config, "anchor_commitment": fingerprint.commitment,
         "fingerprint_id": fingerprint.fingerprint_id.hex(),
         "compared_sketch": comparison.sketch, "suspect_estimator": estimator},
        [{"at": fingerprint.created_at, "event": "fingerprint made", "by": fingerprint.keyid}],
        command,
        calibration=fitted.to_dict() if fitted else None,
    )
    event = "suspect queried through its inference API" if query_log else "suspect verified"
    record["custody"].append({"at": record["created_at"], "event": event,
                              "by": examiner_keyid})
    return record
