"""A scan of real suspects on local worker processes: a crash and a hang are error lines,
every other verdict is the one `modelgif verify` gives; then the same scan on local Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile_models import crashing_work
from scan_case import CRASH, HANG, SUSPECTS, Case

from modelgif.cli import main
from modelgif.crypto.keys import load_private_key
from modelgif.scan import ScanSettings, list_suspects, read_scan, scan
from modelgif.scan.jobs import open_jobs

pytestmark = pytest.mark.slow  # trains or scans whole zoos: scheduled first

TIMEOUT_S = 25.0  # normal pairs take ~1-3 s here; the hanging suspect never ends


def _jobs(case: Case) -> list[Any]:
    return open_jobs([case.calibrated, case.plain], load_private_key(case.key),
                     [case.calibration])


def _comparable(pairs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Pairs by (fingerprint, suspect), without what differs between runs (time spent)."""
    return {(p["fingerprint"], p["suspect"]["name"]):
            {k: v for k, v in p.items() if k not in ("seconds", "decided_at")} for p in pairs}


@pytest.fixture(scope="module")
def pool_scan(case: Case) -> Path:
    output = case.folder / "pool.jsonl"
    outcome = scan(_jobs(case), list_suspects(case.suspects), output,
                   ScanSettings(workers=2, timeout_s=TIMEOUT_S), work=crashing_work)
    assert outcome.decided == 2 * (len(SUSPECTS) + 2) and outcome.skipped == 0
    return output


def test_crash_and_hang_are_error_lines(case: Case, pool_scan: Path) -> None:
    header, pairs = read_scan(pool_scan)
    assert [f["name"] for f in header["fingerprints"]] == ["a.mgf", "b.mgf"]
    errors = {p["suspect"]["name"]: p["error"] for p in pairs if p["decision"] == "error"}
    assert set(errors) == {CRASH, HANG}
    assert "crashed (signal SIGABRT)" in errors[CRASH]
    assert f"timed out after {TIMEOUT_S:g} s" in errors[HANG]
    crashed = next(p for p in pairs if p["suspect"]["name"] == CRASH)
    assert len(crashed["suspect"]["sha256"]) == 64  # still names the file it could not decide


def test_verdicts_match_single_verify_runs(case: Case, pool_scan: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    header, pairs = read_scan(pool_scan)
    fingerprints = {f["id"]: f for f in header["fingerprints"]}
    decided = [p for p in pairs if p["decision"] != "error"]
    assert len(decided) == 2 * len(SUSPECTS)
    for pair in decided:
        mgf = case.folder / fingerprints[pair["fingerprint"]]["name"]
        calibration = ["--calibration", str(case.calibration)] if mgf == case.calibrated else []
        suspect = case.suspects / pair["suspect"]["name"]
        assert main(["verify", str(mgf), str(suspect), "--key", str(case.key), "--json",
                     *calibration]) == 0
        record = json.loads(capsys.readouterr().out)
        assert pair["verdict"] == record["verdict"], pair["suspect"]["name"]
        inputs = {i["role"]: i for i in record["inputs"]}
        assert pair["suspect"]["sha256"] == inputs["suspect"]["sha256"]
        assert pair["suspect"]["digest"] == inputs["suspect"]["digest"]
        assert pair["compared_sketch"] == record["method"]["compared_sketch"]
    assert any(p["verdict"]["calibrated"] for p in decided)
    assert all(not p["verdict"]["calibrated"] for p in decided
               if fingerprints[p["fingerprint"]]["name"] == "b.mgf")


def test_a_rerun_decides_nothing_and_other_fingerprints_are_refused(
        case: Case, pool_scan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = pool_scan.read_bytes()
    outcome = scan(_jobs(case), list_suspects(case.suspects), pool_scan,
                   ScanSettings(workers=1, timeout_s=TIMEOUT_S), work=crashing_work)
    assert (outcome.decided, outcome.skipped) == (0, 2 * (len(SUSPECTS) + 2))
    code = main(["scan", "--fingerprints", str(case.plain), "--suspects", str(case.suspects),
                 "--key", str(case.key), "-o", str(pool_scan)])
    err = capsys.readouterr().err
    assert code == 2 and "made for other fingerprints" in err and err.count("\n") == 1
    assert pool_scan.read_bytes() == before


def test_the_same_scan_on_local_ray(case: Case, pool_scan: Path, tmp_path: Path) -> None:
    import ray  # in the test extra
    listing = case.suspects / "ray.list"  # a LIST, without the two hostile suspects
    listing.write_text("\n".join(SUSPECTS) + "\n")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        output = tmp_path / "ray.jsonl"
        outcome = scan(_jobs(case), list_suspects(listing), output,
                       ScanSettings(ray=True, timeout_s=TIMEOUT_S))
    finally:
        ray.shutdown()
    assert outcome.decided == 2 * len(SUSPECTS)
    ray_header, ray_pairs = read_scan(output)
    pool_header, pool_pairs = read_scan(pool_scan)
    assert ray_header["fingerprints"] == pool_header["fingerprints"]
    expected = {k: v for k, v in _comparable(pool_pairs).items() if k[1] in SUSPECTS}
    assert _comparable(ray_pairs) == expected


def test_report_takes_the_scan_file(case: Case, pool_scan: Path, tmp_path: Path) -> None:
    _, pairs = read_scan(pool_scan)
    derived = [p for p in pairs if p["decision"] == "derived"]
    assert any(p["suspect"]["name"] == "a-copy.onnx" for p in derived)  # an exact copy
    folder = tmp_path / "case"
    assert main(["report", str(pool_scan), "--key", str(case.key), "-o", str(folder)]) == 0
    evidence = json.loads((folder / "evidence.json").read_text())
    findings = evidence["predicate"]["findings"]
    assert len(findings) == len(derived)
    names = {e["name"] for e in evidence["predicate"]["evidence"]}
    assert pool_scan.name in names and {p["suspect"]["name"] for p in derived} <= names
    assert main(["report", "verify", str(folder), "--pub", str(case.pub)]) == 0


def test_the_cache_normalizes_a_suspect_once(case: Case, pool_scan: Path,
                                             tmp_path: Path) -> None:
    from modelgif.scan.work import decide_suspect

    job = _jobs(case)[:1]
    suspect = case.suspects / "b-quantized.onnx"
    runs = [list(decide_suspect(job, suspect.name, str(suspect), cache=str(tmp_path)))
            for _ in range(2)]
    cached = list(tmp_path.glob("*.onnx"))
    assert [p.stem for p in cached] == [runs[0][0]["suspect"]["sha256"]]
    _, pairs = read_scan(pool_scan)
    scanned = _comparable(pairs)[(job[0].fingerprint_id, suspect.name)]
    for lines in runs:  # fresh, then from the cache: the line the scan wrote
        assert _comparable([lines[1]])[(job[0].fingerprint_id, suspect.name)] == scanned


def test_each_worker_holds_its_share_of_the_cores(case: Case) -> None:
    """N workers on C cores use C // N math threads each (at least one), torch and
    onnxruntime alike, so two workers do not spin against each other."""
    import os

    from hostile_models import thread_report_work

    from modelgif.scan.pool import Task, run_local

    suspect = str(case.suspects / next(iter(SUSPECTS)))
    jobs = _jobs(case)
    ids = (jobs[0].fingerprint_id,)
    lines = list(run_local(jobs, [Task("a", suspect, ids), Task("b", suspect, ids)],
                           workers=2, memory_gb=None, work=thread_report_work))
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert [(line["torch_threads"], line["ort_threads"]) for line in lines] == [
        (expected, expected)] * 2
