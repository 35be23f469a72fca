"""`modelgif.verify`: was this suspect derived from my model? One call, one signed record.

Why a workflow: a verdict needs six steps in a fixed order (the owner key, the fingerprint
checked under it, its secrets, the calibration checked against that fingerprint, the
suspect read at the fingerprint's output, the comparison) and then a record naming every
input by its sha256. The CLI, the demo and a Python user all need exactly that order; here
it is written once. Three roads lead to a verdict:
- the field (default): the suspect's gradient field at the secret anchors;
- within a query budget (`query_budget=`): its outputs at the secret probe points, from a
  local ONNX file or from a server (`remote=`), against a calibration bound to that budget;
- a text fingerprint: the suspect's field in the one-hot token space (workflows.text).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.crypto.keys import Passphrase, PrivateKey, keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets, open_secrets
from modelgif.fingerprint.field import Progress
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.fingerprint.text.fingerprint import is_text_fingerprint
from modelgif.remote import ClientLimits, InferenceClient, QueryLog, remote_oracle
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.ownership import SKETCHES, ownership_record, verify_suspect
from modelgif.verifiers.ownership import load_calibration as read_calibration
from modelgif.verifiers.probe_record import probe_record
from modelgif.verifiers.probe_verdict import (
    QueryPlan,
    bound_calibration,
    onnx_oracle,
    plan_queries,
    verify_with_probes,
)
from modelgif.verifiers.record import write_record
from modelgif.verifiers.verdict import Verdict
from modelgif.workflows.command import key_name, reproduce_command
from modelgif.workflows.keys import KeySource, owner_key
from modelgif.workflows.text import verify_text

__all__ = ["QueryUse", "RemoteSuspect", "VerifyResult", "verify"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RemoteSuspect:
    """A suspect behind a KServe v2 / Open Inference Protocol REST server.

    Every request attempt is logged to `query_log` (JSONL; replaced only with `force`), and
    that log's sha256 becomes an input of the signed record.
    """

    url: str
    model_name: str
    query_log: Path
    limits: ClientLimits = field(default_factory=ClientLimits)


@dataclass(frozen=True)
class QueryUse:
    """What a budgeted verdict spent: the plan (kind, probe points), the budget, the queries."""

    plan: QueryPlan
    budget: int
    spent: int


@dataclass(frozen=True)
class VerifyResult:
    """One verification: the Verdict and the record that is (or would be) signed.

    `record` is the dict `modelgif report` takes once signed; `output` is where it was
    written, None when nothing was. `queries` is set for a verdict within a query budget,
    `notes` holds what a text comparison noticed about the suspect.
    """

    verdict: Verdict
    record: dict[str, Any]
    suspect_name: str
    queries: QueryUse | None = None
    notes: tuple[str, ...] = ()
    output: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict record (what `modelgif verify --json` prints)."""
        return self.record


def verify(
    fingerprint: PathLike,
    suspect: PathLike | None = None,
    *,
    key: KeySource,
    passphrase: Passphrase = None,
    calibration: PathLike | None = None,
    backend: str = "auto",
    model_output: str | None = None,
    query_budget: int | None = None,
    output_kind: str = "probabilities",
    top_k: int = 5,
    remote: RemoteSuspect | None = None,
    command: str | None = None,
    output: PathLike | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> VerifyResult:
    """The verdict on `suspect` (an ONNX file; for a text fingerprint also a Hugging Face
    folder) or on a `remote` suspect, against the owner's `fingerprint`.

    `key`: the owner's private key, loaded or a file (opened with `passphrase`). Without
    `calibration` the verdict is uncalibrated and says so. `query_budget=N` compares outputs
    at N secret probe points as an API of `output_kind` answers (fingerprints made with
    probes; the calibration must be made for the same kind and N). `command` is what the
    record says reproduces it (default: the equivalent `modelgif verify` line). With
    `output`, the record is signed with `key` and written there (checked before any work;
    an existing file is replaced only with `force`). Bad input raises InputError; a
    fingerprint or calibration that fails its checks raises IntegrityError or InputError.
    """
    if (suspect is None) == (remote is None):
        raise InputError("Give the suspect's file or a remote suspect, not both or neither.")
    if remote is not None and query_budget is None:
        raise InputError("A suspect behind a server is verified within a query budget: "
                         "give query_budget.")
    if output is not None:
        check_output(output, force)
    private = owner_key(key, passphrase)
    suspect_path = None if suspect is None else Path(suspect)
    if command is None:
        command = _command(Path(fingerprint), suspect_path, key, passphrase, calibration,
                           backend, model_output, query_budget, output_kind, top_k, remote,
                           output)
    owner = _open(Path(fingerprint), private, calibration, command)
    if is_text_fingerprint(owner.fingerprint):
        if query_budget is not None or suspect_path is None:
            raise InputError("A text fingerprint verifies a suspect file or folder by its "
                             "field; --query-budget and --suspect-url are for image "
                             "fingerprints made with --probes.")
        verdict, record, notes = verify_text(
            owner.path, owner.fingerprint, owner.secrets, suspect_path, private, command,
            calibration_path=owner.calibration_path, calibrations=owner.calibrations,
            backend=backend, model_output=model_output, progress=progress)
        result = VerifyResult(verdict, record, suspect_path.name, notes=notes)
    elif query_budget is not None:
        plan = plan_queries(owner.fingerprint, query_budget, output_kind, top_k)
        bound_calibration(plan, owner.calibrations)  # before a log is opened or a query spent
        result = _verify_budgeted(owner, suspect_path, remote, plan, query_budget,
                                  model_output, force)
    else:
        assert suspect_path is not None  # only a budgeted verdict takes a remote suspect
        result = _verify_field(owner, suspect_path, backend, model_output, progress)
    if output is not None:
        written = write_record(Path(output), result.record, private, force)
        result = replace(result, output=written)
    return result


@dataclass(frozen=True)
class _Owner:
    """The owner's side, opened once: what each road needs to compare and to record."""

    path: Path
    fingerprint: Fingerprint
    secrets: FingerprintSecrets
    key: PrivateKey
    command: str
    calibration_path: Path | None
    calibrations: dict[str, Calibration] | None


def _open(path: Path, key: PrivateKey, calibration: PathLike | None, command: str) -> _Owner:
    """The fingerprint checked under the key, its secrets, the calibration bound to it."""
    made = load_fingerprint(path, key.public_key())
    secrets = open_secrets(made, key)
    calibration_path = None if calibration is None else Path(calibration)
    calibrations = (read_calibration(calibration_path, made, key.public_key())
                    if calibration_path is not None else None)
    return _Owner(path, made, secrets, key, command, calibration_path, calibrations)


def _read_suspect(path: Path, made: Fingerprint, model_output: str | None) -> NormalizedModel:
    """The suspect normalized and read at the fingerprint's output (or the one named)."""
    wanted = model_output or recorded_output(made.config)
    return normalize(path, output=wanted, strict_output=model_output is not None)


def _verify_field(owner: _Owner, suspect_path: Path, backend: str, model_output: str | None,
                  progress: Progress | None) -> VerifyResult:
    """The field's verdict: the suspect's gradient field at the secret anchors."""
    if owner.calibrations is not None and not set(owner.calibrations) & set(SKETCHES):
        raise InputError(f"{owner.calibration_path} was made for "
                         f"{', '.join(sorted(owner.calibrations))}, not for the field; pass "
                         "the same --output-kind and --query-budget")
    model = _read_suspect(suspect_path, owner.fingerprint, model_output)
    verdict, comparison = verify_suspect(owner.fingerprint, owner.secrets, model,
                                         owner.calibrations, backend, progress)
    record = ownership_record(owner.path, owner.fingerprint, suspect_path, model, verdict,
                              comparison, keyid(owner.key), owner.command,
                              owner.calibration_path, owner.calibrations)
    return VerifyResult(verdict, record, suspect_path.name)


def _verify_budgeted(owner: _Owner, suspect_path: Path | None, remote: RemoteSuspect | None,
                     plan: QueryPlan, budget: int, model_output: str | None, force: bool
                     ) -> VerifyResult:
    """The output-agreement verdict of a local ONNX file or of a server, within `budget`."""
    made = owner.fingerprint
    suspect: NormalizedModel | None = None
    server: dict[str, Any] | None = None
    if remote is None:
        assert suspect_path is not None
        suspect = _read_suspect(suspect_path, made, model_output)
        verdict, comparison = verify_with_probes(
            made, owner.secrets, onnx_oracle(suspect, plan.kind, plan.top_k), plan,
            owner.calibrations, suspect.digest)
        name = suspect_path.name
    else:
        spec = made.config["input_spec"]
        with QueryLog(remote.query_log, force) as log:
            client = InferenceClient(remote.url, remote.model_name, remote.limits, log)
            oracle = remote_oracle(client, plan.kind, tuple(spec["shape"][1:]),
                                   str(spec["dtype"]), int(made.config["probes"]["classes"]),
                                   plan.top_k, model_output)
            verdict, comparison = verify_with_probes(made, owner.secrets, oracle, plan,
                                                     owner.calibrations)
        server = {"url": remote.url, "model_name": remote.model_name,
                  "requests": client.requests, "retries": client.retries}
        name = f"{remote.model_name} at {remote.url}"
    record = probe_record(owner.path, made, verdict, comparison, keyid(owner.key),
                          owner.command, budget, suspect_path=suspect_path, suspect=suspect,
                          query_log=remote.query_log if remote else None, server=server,
                          calibration_path=owner.calibration_path,
                          calibrations=owner.calibrations)
    return VerifyResult(verdict, record, name, queries=QueryUse(plan, budget, comparison.queries))


def _command(fingerprint: Path, suspect: Path | None, key: KeySource, passphrase: Passphrase,
             calibration: PathLike | None, backend: str, model_output: str | None,
             budget: int | None, kind: str, top_k: int, remote: RemoteSuspect | None,
             output: PathLike | None) -> str:
    """The `modelgif verify` line that computes this verdict from the same files."""
    budgeted = budget is not None
    return reproduce_command("verify", [fingerprint] + ([suspect] if suspect else []), {
        "--suspect-url": remote.url if remote else None,
        "--model-name": remote.model_name if remote else None,
        "--query-log": remote.query_log if remote else None,
        "--key": key_name(key), "--passphrase": passphrase is not None,
        "--calibration": calibration,
        "--backend": backend if backend != "auto" else None,
        "--model-output": model_output,
        "--query-budget": budget,
        "--output-kind": kind if budgeted else None,
        "--top-k": top_k if budgeted and kind == "topk" else None,
        "-o": output,
    })
