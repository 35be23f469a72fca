"""Verdicts through a REAL inference server (tests/remote/v2_server.py) on the small zoo.

The owner (the zoo's source) is fingerprinted with sealed probe outputs; the calibration is
made from ten of the zoo's independents queried as an API of the same kind and budget; the
suspects are served by an onnxruntime session behind the Open Inference Protocol, and the
client talks to it over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from modelgif.crypto.keys import PrivateKey, generate_key
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import FingerprintSecrets, create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import Fingerprint
from modelgif.remote import ClientLimits, InferenceClient, QueryLog, RemoteError, remote_oracle
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.probe_verdict import (
    QueryPlan,
    calibrate_probes,
    onnx_oracle,
    plan_queries,
    probe_suspect,
    verify_with_probes,
)
from modelgif.zoo import Zoo, cached_small_zoo
from remote.v2_server import V2Server

BUDGET = 128


@dataclass
class Case:
    zoo: Zoo
    key: PrivateKey
    fingerprint: Fingerprint
    secrets: FingerprintSecrets
    path: Path
    held_out: str  # an independent kept out of every calibration
    calibrations: dict[str, dict[str, Calibration]]


def _plan(case: Case, kind: str) -> QueryPlan:
    return plan_queries(case.fingerprint, BUDGET, kind, top_k=3)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    zoo = cached_small_zoo()
    folder = tmp_path_factory.mktemp("remote")
    key = generate_key()
    source = zoo.sources()[0]
    path = folder / "owner.mgf"
    fingerprint = create_fingerprint(zoo.path(source), key, path,
                                     anchor_config=AnchorConfig(n_anchors=8),
                                     field_config=FieldConfig(n_steps=4), probes=256)
    secrets = open_secrets(fingerprint, key)
    independents = sorted(zoo.independents(source.dataset), key=lambda m: m.id)
    negatives = [normalize(zoo.path(m)) for m in independents[:-1]]
    calibrations = {}
    for kind in ("probabilities", "labels", "topk", "logits"):
        plan = plan_queries(fingerprint, BUDGET, kind, top_k=3)
        calibrations[kind] = calibrate_probes(fingerprint, secrets, negatives, plan)
    return Case(zoo, key, fingerprint, secrets, path, independents[-1].id, calibrations)


def _model(case: Case, category: str) -> bytes:
    model = next(m for m in case.zoo.models if m.category == category)
    return case.zoo.model_bytes(model)


def _verify(case: Case, server: V2Server, kind: str, log: Path,
            limits: ClientLimits | None = None):  # type: ignore[no-untyped-def]
    plan = _plan(case, kind)
    spec = case.fingerprint.config["input_spec"]
    with QueryLog(log) as query_log:
        client = InferenceClient(server.url, server.name, limits or ClientLimits(batch_size=32),
                                 query_log)
        oracle = remote_oracle(client, kind, tuple(spec["shape"][1:]), spec["dtype"], 10, 3)
        verdict, comparison = verify_with_probes(case.fingerprint, case.secrets, oracle, plan,
                                                 case.calibrations[kind])
    return verdict, comparison, client


def _log(path: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"schema": "modelgif.query-log/v1"}
    return lines[1:]


@pytest.mark.parametrize("kind", ["probabilities", "logits", "topk", "labels"])
def test_a_served_copy_is_derived_and_an_independent_is_not(case: Case, kind: str,
                                                            tmp_path: Path) -> None:
    with V2Server(_model(case, "reexported"), mode=kind) as server:
        verdict, comparison, client = _verify(case, server, kind, tmp_path / "copy.jsonl")
        assert server.samples == BUDGET  # one query per probe point, nothing more
    assert verdict.decision == "derived"
    assert comparison.queries == BUDGET and verdict.n_anchors == BUDGET // 2  # pairs
    entries = _log(tmp_path / "copy.jsonl")
    assert len(entries) == client.requests == 1 + BUDGET // 32  # metadata + infer requests
    assert all(e["status"] == 200 and len(str(e["response_sha256"])) == 64 for e in entries)
    held_out = case.zoo.model_bytes(case.zoo.get(case.held_out))
    with V2Server(held_out, mode=kind) as server:
        verdict, _, _ = _verify(case, server, kind, tmp_path / "independent.jsonl")
    assert verdict.decision != "derived"


def test_the_server_answers_what_a_local_session_computes(case: Case, tmp_path: Path) -> None:
    """The HTTP path changes nothing: the same similarities as the model run in-process."""
    model = next(m for m in case.zoo.models if m.category == "finetune-a")
    plan = _plan(case, "probabilities")
    local = probe_suspect(case.fingerprint, case.secrets,
                          onnx_oracle(normalize(case.zoo.path(model)), "probabilities"), plan)
    with V2Server(case.zoo.model_bytes(model), mode="probabilities") as server:
        _, remote, _ = _verify(case, server, "probabilities", tmp_path / "q.jsonl")
    np.testing.assert_allclose(remote.similarities, local.similarities, atol=1e-5)


def test_rate_limited_server_still_answers_and_the_log_shows_the_retries(
        case: Case, tmp_path: Path) -> None:
    with V2Server(_model(case, "reexported"), mode="probabilities", limit_per_s=3) as server:
        verdict, _, client = _verify(case, server, "probabilities", tmp_path / "q.jsonl",
                                     ClientLimits(batch_size=16, backoff_s=0.05))
        assert server.rejected > 0
    assert verdict.decision == "derived"
    entries = _log(tmp_path / "q.jsonl")
    refused = [e for e in entries if e["status"] == 429]
    assert refused and all(e["retry_after"] == 1.0 for e in refused)
    assert client.retries == len(refused)
    assert sum(int(str(e["samples"])) for e in entries if e["status"] == 200) == BUDGET


def test_client_side_rate_limit_spaces_requests(case: Case, tmp_path: Path) -> None:
    """With the client's own limit under the server's, the server never has to refuse."""
    with V2Server(_model(case, "reexported"), mode="labels", limit_per_s=6) as server:
        _verify(case, server, "labels", tmp_path / "q.jsonl",
                ClientLimits(batch_size=16, rate_per_s=4.0))
        assert server.rejected == 0


def test_nested_data_is_read_row_major(case: Case, tmp_path: Path) -> None:
    with V2Server(_model(case, "reexported"), mode="probabilities", misbehave="nested") as server:
        verdict, comparison, _ = _verify(case, server, "probabilities", tmp_path / "q.jsonl")
    assert verdict.decision == "derived" and comparison.similarities.min() > 0.999


def test_transient_errors_are_retried(case: Case, tmp_path: Path) -> None:
    with V2Server(_model(case, "reexported"), mode="probabilities", misbehave="flaky") as server:
        verdict, _, client = _verify(case, server, "probabilities", tmp_path / "q.jsonl",
                                     ClientLimits(batch_size=64, backoff_s=0.01))
    assert verdict.decision == "derived" and client.retries >= 1
    assert any(e["status"] == 503 for e in _log(tmp_path / "q.jsonl"))


@pytest.mark.parametrize(("misbehave", "message"), [
    ("huge", "larger than"), ("nan", "not JSON"), ("shape", "malformed shape"),
    ("slow", "TimeoutError"),
])
def test_a_hostile_server_is_one_error(case: Case, tmp_path: Path, misbehave: str,
                                       message: str) -> None:
    limits = ClientLimits(batch_size=64, max_response_bytes=1 << 20,
                          timeout_s=0.5 if misbehave == "slow" else 10.0,
                          max_retries=1, backoff_s=0.01)
    with V2Server(_model(case, "reexported"), mode="probabilities",
                  misbehave=misbehave) as server, pytest.raises(RemoteError, match=message):
        _verify(case, server, "probabilities", tmp_path / "q.jsonl", limits)


def test_a_calibration_for_another_kind_or_budget_is_refused(case: Case) -> None:
    def oracle(points: np.ndarray) -> None:
        raise AssertionError("no query may be spent before the calibration is checked")

    labels = _plan(case, "labels")
    with pytest.raises(InputError, match="no null for probe:labels:128"):
        verify_with_probes(case.fingerprint, case.secrets, oracle, labels,  # type: ignore[arg-type]
                           case.calibrations["probabilities"])
    smaller = plan_queries(case.fingerprint, 64, "probabilities")
    with pytest.raises(InputError, match="probe:probabilities:64"):
        verify_with_probes(case.fingerprint, case.secrets, oracle, smaller,  # type: ignore[arg-type]
                           case.calibrations["probabilities"])


def test_budget_is_capped_by_the_stored_probes_and_old_files_refuse_it(case: Case) -> None:
    assert plan_queries(case.fingerprint, 10_000, "labels").queries == 256
    fixture = Path(__file__).parents[1] / "fingerprint" / "data" / "fingerprint_v1.mgf"
    from modelgif.fingerprint.record import read_fingerprint_unverified

    old = read_fingerprint_unverified(fixture)
    with pytest.raises(InputError, match="stores no probe outputs"):
        plan_queries(old, 1000, "probabilities")


def test_probe_outputs_are_sealed(case: Case) -> None:
    """The stored outputs are ciphertext: not the owner's outputs in any dtype."""
    from modelgif.fingerprint.probes import PROBES_ARRAY, open_probes

    sealed = np.asarray(case.fingerprint.arrays[PROBES_ARRAY])
    probes = open_probes(case.fingerprint.config, case.fingerprint.arrays,
                         case.secrets.anchor_key, case.fingerprint.fingerprint_id)
    assert probes is not None and probes.owner.shape == (256, 10)
    assert probes.owner.astype(np.float32).tobytes() not in sealed.tobytes()
    from modelgif.errors import IntegrityError

    with pytest.raises(IntegrityError):
        open_probes(case.fingerprint.config, case.fingerprint.arrays, bytes(32),
                    case.fingerprint.fingerprint_id)
