"""The budgeted workflow on the command line, against a real local v2 server: fingerprint
with probes, calibrate for one output kind and budget, verify through the URL, report, and
re-hash the query log with `report verify --files`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgif.cli import main
from modelgif.crypto.keys import generate_key, save_keypair
from modelgif.zoo import Zoo, cached_small_zoo
from remote.v2_server import V2Server


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def owner_with_probes(tmp_path: Path, capsys: pytest.CaptureFixture[str], probes: int,
                      *extra: str) -> tuple[Zoo, Path, Path, Path, Path, list[Path]]:
    """The small zoo's source fingerprinted with `probes` probe points by the owner's new key:
    (zoo, key, pub, fingerprint, where its calibration goes, the independent negatives)."""
    zoo = cached_small_zoo()
    source = zoo.sources()[0]
    key, pub = save_keypair(generate_key(), tmp_path / "owner")
    mgf, cal = tmp_path / "owner.mgf", tmp_path / "cal.json"
    assert run(capsys, "fingerprint", zoo.path(source), "--key", key, "--anchors-count", 8,
               "--steps", 4, "--probes", probes, "-o", mgf, *extra)[0] == 0
    return zoo, key, pub, mgf, cal, [zoo.path(m) for m in zoo.independents(source.dataset)]


def test_verify_through_a_server_then_report_and_rehash_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo, key, pub, mgf, cal, negatives = owner_with_probes(tmp_path, capsys, 256, "--json")
    code, out, _ = run(capsys, "calibrate", mgf, "--negatives", *negatives, "--key", key,
                       "--output-kind", "labels", "--query-budget", 128, "-o", cal, "--json")
    assert code == 0 and json.loads(out)["negatives"] == len(negatives)
    copy = next(m for m in zoo.models if m.category == "reexported")
    log, verdict = tmp_path / "q.jsonl", tmp_path / "verdict.json"
    with V2Server(zoo.model_bytes(copy), mode="labels") as server:
        remote = ["--suspect-url", server.url, "--model-name", server.name,
                  "--query-budget", 128, "--query-log", log, "--key", key,
                  "--calibration", cal, "--batch-size", 50]
        code, out, _ = run(capsys, "verify", mgf, *remote, "--output-kind", "labels",
                           "-o", verdict, "--json", "--fail-on", "derived")
        assert code == 1  # derived, as asked to fail on
        record = json.loads(out)
        assert record["verdict"]["decision"] == "derived"
        estimator = record["method"]["suspect_estimator"]
        assert estimator["queries_spent"] == 128 and estimator["output_kind"] == "labels"
        assert estimator["server"]["requests"] == 4  # metadata + 50 + 50 + 28
        assert [i["role"] for i in record["inputs"]] == ["fingerprint", "query-log",
                                                          "calibration"]
        # the same calibration for another kind is refused before any query is spent,
        # and before the log is touched (even with --force)
        before, requests = log.read_bytes(), server.requests
        code, _, err = run(capsys, "verify", mgf, *remote, "--output-kind", "probabilities",
                           "--force")
        assert code == 2 and "no null for probe:probabilities:128" in err
        assert log.read_bytes() == before and server.requests == requests
    code, _, err = run(capsys, "verify", mgf, zoo.path(copy), "--key", key,
                       "--calibration", cal)
    assert code == 2 and "not for the field" in err
    case = tmp_path / "case"
    assert run(capsys, "report", verdict, "--key", key, "-o", case)[0] == 0
    files = ["--files", mgf, cal, log]
    code, out, _ = run(capsys, "report", "verify", case, "--pub", pub, *files, "--json")
    assert code == 0 and log.name in json.loads(out)["files_rehashed"]
    with log.open("a") as handle:
        handle.write('{"seq": 99}\n')  # an edited log no longer matches the signed record
    code, _, err = run(capsys, "report", "verify", case, "--pub", pub, *files)
    assert code == 2 and "integrity check failed" in err


def test_a_budgeted_verdict_of_a_file_is_recomputed_from_a_reveal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo, key, pub, mgf, cal, negatives = owner_with_probes(tmp_path, capsys, 64)
    budget = ["--output-kind", "topk", "--top-k", 3, "--query-budget", 64]
    assert run(capsys, "calibrate", mgf, "--negatives", *negatives, "--key", key, *budget,
               "-o", cal)[0] == 0
    suspect = zoo.path(next(m for m in zoo.models if m.category == "finetune-a"))
    verdict = tmp_path / "verdict.json"
    code, out, _ = run(capsys, "verify", mgf, suspect, "--key", key, "--calibration", cal,
                       *budget, "-o", verdict, "--json")
    assert code == 0
    method = json.loads(out)["method"]
    assert method["compared_sketch"] == "probe:topk3:64"
    assert method["suspect_estimator"]["queries_spent"] == 64
    case, reveal = tmp_path / "case", tmp_path / "owner.reveal"
    assert run(capsys, "report", verdict, "--key", key, "-o", case)[0] == 0
    assert run(capsys, "reveal", mgf, "--key", key, "-o", reveal)[0] == 0
    code, out, _ = run(capsys, "report", "verify", case, "--pub", pub, "--files", mgf, cal,
                       suspect, "--reveal", reveal, "--json")
    assert code == 0
    (row,) = json.loads(out)["recomputed"]
    assert row["match"] and row["quantity"] == "statistic"
