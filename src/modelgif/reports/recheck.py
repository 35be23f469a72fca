"""Re-compute a report's ownership numbers from the files, with a reveal instead of the key.

Why: a signature proves who wrote the evidence, not that the numbers are right. An opposing
expert given the fingerprint, the suspect models and the fingerprint's reveal file (never the
owner's private key) re-derives every suspect's field at the revealed anchors, re-scores it
against the calibration recorded in the evidence, and compares statistic and decision with
what the report claims. Files are matched to the evidence table by sha256, so a substituted
model is caught before anything is computed.

A verdict made within a query budget (output agreement at the probe points) is recomputed
the same way when its suspect is a file; one made through an inference API cannot be: the
server's answers are not in the evidence, only the query log's hash, which `report verify
--files` checks. Such a finding is refused here in one line saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PublicKey
from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.fingerprint.reveal import Reveal
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.output_kinds import ESTIMATOR_PATTERN
from modelgif.verifiers.ownership import verify_suspect
from modelgif.verifiers.probe_verdict import QueryPlan, onnx_oracle, verify_with_probes

__all__ = ["TOLERANCE", "recheck_ownership"]

TOLERANCE = 1e-4  # relative; the same machine reproduces exactly, others to float rounding


def _file_for(sha256: str, files: list[Path]) -> Path | None:
    return next((path for path in files if sha256_file(path) == sha256), None)


def recheck_ownership(
    statement: dict[str, Any], public_key: PublicKey, reveal: Reveal, files: list[Path]
) -> list[dict[str, Any]]:
    """One row per ownership finding: reported vs recomputed statistic and decision."""
    rows = []
    for finding in statement["predicate"]["findings"]:
        if finding["kind"] != "ownership":
            continue
        inputs = {entry["role"]: entry for entry in finding["inputs"]}
        if "suspect" not in inputs:
            raise InputError(f"{finding['suspect']} was verified through an inference API: "
                             "its answers cannot be recomputed from files (re-hash its query "
                             "log with --files instead).")
        fingerprint_file = _file_for(inputs["fingerprint"]["sha256"], files)
        suspect_file = _file_for(inputs["suspect"]["sha256"], files)
        if fingerprint_file is None or suspect_file is None:
            raise InputError(f"Re-checking {finding['suspect']} needs its fingerprint and "
                             "suspect files (matched by sha256) among --files.")
        fingerprint = load_fingerprint(fingerprint_file, public_key)
        secrets = open_secrets(fingerprint, reveal=reveal)
        calibration = finding.get("calibration")
        fitted = ({finding["method"]["compared_sketch"]: Calibration.from_dict(calibration)}
                  if calibration else None)
        sketch = finding["method"]["compared_sketch"]
        if ESTIMATOR_PATTERN.fullmatch(sketch):
            estimator = finding["method"]["suspect_estimator"]
            plan = QueryPlan(estimator["output_kind"], int(estimator["probe_points"]),
                             int(estimator.get("top_k") or 5))
            model = normalize(suspect_file, output=recorded_output(fingerprint.config),
                              strict_output=False)
            verdict, _ = verify_with_probes(fingerprint, secrets,
                                            onnx_oracle(model, plan.kind, plan.top_k), plan,
                                            fitted, model.digest)
        else:
            verdict, _ = verify_suspect(fingerprint, secrets, suspect_file, fitted)
        reported = finding["verdict"]
        rows.append(_row(finding["suspect"], reported, verdict.to_dict()))
    return rows


def _row(suspect: str, reported: dict[str, Any], recomputed: dict[str, Any]) -> dict[str, Any]:
    key = "statistic" if reported.get("statistic") is not None else "mean_similarity"
    before, after = float(reported[key]), float(recomputed[key])
    close = abs(before - after) <= TOLERANCE * max(1.0, abs(before))
    return {"suspect": suspect, "quantity": key, "reported": before, "recomputed": after,
            "decision_reported": reported["decision"],
            "decision_recomputed": recomputed["decision"],
            "match": close and reported["decision"] == recomputed["decision"]}
