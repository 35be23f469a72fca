"""The command-line workflow a user runs, through `main()`: exit codes, JSON, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelgif.cli import main
from modelgif.crypto.keys import load_private_key
from modelgif.verifiers.record import load_record, write_record
from workflow import Scenario, build_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build_scenario(tmp_path_factory.mktemp("cli"), kind="mlp", negatives=8)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_owner_workflow(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    folder = scenario.folder
    key, pub, mgf, cal = folder / "o.key", folder / "o.pub", folder / "o.mgf", folder / "c.json"
    assert run(capsys, "keygen", "--out", folder / "o")[0] == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    code, out, _ = run(capsys, "fingerprint", scenario.owner, "--key", key, "-o", mgf,
                       "--anchors-count", "24", "--steps", "6", "--json")
    meta = json.loads(out)
    assert code == 0 and meta["bytes"] == mgf.stat().st_size
    assert "anchors" not in json.dumps(meta.get("subject", ""))
    assert run(capsys, "calibrate", mgf, "--negatives", folder / "negatives", "--key", key,
               "-o", cal)[0] == 0
    code, out, err = run(capsys, "verify", mgf, scenario.tuned, "--key", key, "--calibration",
                         cal, "--fail-on", "derived", "-o", folder / "tuned.json")
    assert code == 1 and "DERIVED" in out, out + err
    code, out, _ = run(capsys, "verify", mgf, scenario.independent, "--key", key,
                       "--calibration", cal, "--fail-on", "derived", "--json",
                       "-o", folder / "independent.json")
    record = json.loads(out)  # stdout is pure JSON
    assert code == 0 and record["verdict"]["decision"] != "derived"
    assert record["command"] == (
        f"modelgif verify {mgf} {scenario.independent} --key {key} --calibration {cal} "
        f"--fail-on derived --json -o {folder / 'independent.json'}")  # main's argv
    assert record["verdict"]["p_value_method"].endswith("log-agreement statistics")
    assert {i["role"] for i in record["inputs"]} == {"fingerprint", "suspect", "calibration"}
    code, _, _ = run(capsys, "report", folder / "tuned.json", folder / "independent.json",
                     "--key", key, "-o", folder / "report")
    assert code == 0 and (folder / "report" / "report.html").exists()
    assert run(capsys, "report", "verify", folder / "report", "--pub", pub)[0] == 0


def test_uncalibrated_verdict_says_so(scenario: Scenario, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    run(capsys, "keygen", "--out", tmp_path / "k")
    run(capsys, "fingerprint", scenario.owner, "--key", tmp_path / "k.key", "-o",
        tmp_path / "m.mgf", "--anchors-count", "16", "--steps", "4")
    code, out, _ = run(capsys, "verify", tmp_path / "m.mgf", scenario.tuned, "--key",
                       tmp_path / "k.key", "--fail-on", "derived")
    assert code == 0 and "INCONCLUSIVE" in out and "UNCALIBRATED" in out


def test_wrong_key_and_tampered_fingerprint_exit_2(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "keygen", "--out", tmp_path / "a")
    run(capsys, "keygen", "--out", tmp_path / "b")
    mgf = tmp_path / "m.mgf"
    run(capsys, "fingerprint", scenario.owner, "--key", tmp_path / "a.key", "-o", mgf,
        "--anchors-count", "8", "--steps", "4")
    code, _, err = run(capsys, "verify", mgf, scenario.tuned, "--key", tmp_path / "b.key")
    assert code == 2 and err.count("\n") == 1
    data = bytearray(mgf.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mgf.write_bytes(bytes(data))
    code, _, err = run(capsys, "verify", mgf, scenario.tuned, "--key", tmp_path / "a.key")
    assert code == 2 and "does not verify" in err and "Traceback" not in err


def test_distance_matrix(scenario: Scenario, capsys: pytest.CaptureFixture[str],
                         tmp_path: Path) -> None:
    run(capsys, "keygen", "--out", tmp_path / "k")
    code, out, _ = run(capsys, "distance", scenario.owner, scenario.tuned, scenario.independent,
                       "--key", tmp_path / "k.key", "--anchors-count", "16", "--json")
    matrix = np.array(json.loads(out)["distances"])
    assert code == 0 and np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    assert matrix[0, 1] < matrix[0, 2]  # the perturbed copy is closer than the independent
    code, out, _ = run(capsys, "distance", scenario.owner, scenario.tuned,
                       "--key", tmp_path / "k.key", "--anchors-count", "16", "--json")
    pair = np.array(json.loads(out)["distances"])
    assert code == 0 and pair[0, 1] == matrix[0, 1]  # whatever else is in the run


def test_audit_without_references_is_conservative(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "keygen", "--out", tmp_path / "k")
    forget = tmp_path / "forget.npy"
    np.save(forget, np.random.default_rng(0).uniform(-3, 3, (40, 40)).astype(np.float32))
    base = ["audit-unlearning", "--original", scenario.owner, "--forget", forget,
            "--key", tmp_path / "k.key", "--anchors-count", "16", "--fail-on", "not-forgotten"]
    code, out, _ = run(capsys, *base, "--unlearned", scenario.owner)
    assert code == 1 and "NOT FORGOTTEN" in out
    code, out, _ = run(capsys, *base, "--unlearned", scenario.independent)
    assert code == 0 and "INCONCLUSIVE" in out and "no reference models" in out


def test_third_party_recomputes_the_numbers_with_a_reveal(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key, mgf = tmp_path / "o.key", tmp_path / "o.mgf"
    run(capsys, "keygen", "--out", tmp_path / "o")
    run(capsys, "fingerprint", scenario.owner, "--key", key, "-o", mgf,
        "--anchors-count", "16", "--steps", "4")
    run(capsys, "calibrate", mgf, "--negatives", *scenario.negatives, "--key", key,
        "-o", tmp_path / "c.json")
    verdict = tmp_path / "tuned.json"
    run(capsys, "verify", mgf, scenario.tuned, "--key", key, "--calibration",
        tmp_path / "c.json", "-o", verdict)
    run(capsys, "reveal", mgf, "--key", key, "-o", tmp_path / "o.reveal")
    honest, doctored = tmp_path / "honest", tmp_path / "doctored"
    run(capsys, "report", verdict, "--key", key, "-o", honest)
    recheck = ["--pub", tmp_path / "o.pub", "--reveal", tmp_path / "o.reveal",
               "--files", mgf, scenario.tuned, "--json"]
    code, out, err = run(capsys, "report", "verify", honest, *recheck)
    rows = json.loads(out)["recomputed"]
    assert code == 0 and len(rows) == 1 and rows[0]["match"], out + err
    record = load_record(verdict, load_private_key(key).public_key())
    record["verdict"]["statistic"] += 5.0  # the owner signs a doctored number
    write_record(verdict, record, load_private_key(key), force=True)
    assert run(capsys, "report", verdict, "--key", key, "-o", doctored)[0] == 0
    code, _, err = run(capsys, "report", "verify", doctored, *recheck)
    assert code == 2 and "do not match" in err


def test_ownership_defaults_and_their_precedence(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Synthetic anchors and the top-1 scalar by default; YAML over the defaults (keys it
    leaves out keep them); flags over YAML."""
    run(capsys, "keygen", "--out", tmp_path / "k")
    pool = tmp_path / "pool.npy"
    np.save(pool, np.random.default_rng(0).uniform(-1, 1, (40, 40)).astype(np.float32))
    config = tmp_path / "f.yaml"
    config.write_text("anchors:\n  source: subset\nfield:\n  target: logsumexp\n")

    def chosen(*extra: object) -> tuple[str, str, int]:
        code, out, err = run(capsys, "fingerprint", scenario.owner, "--key", tmp_path / "k.key",
                             "-o", tmp_path / "m.mgf", "--anchors", pool, "--anchors-count", "8",
                             "--steps", "2", "--force", "--json", *extra)
        assert code == 0, err
        config = json.loads(out)["config"]
        assert config["anchors"]["pool_sha256"] is not None
        field = config["field"]["config"]
        return str(config["anchors"]["source"]), str(field["target"]), int(field["n_steps"])

    assert chosen() == ("synthetic", "top1", 2)
    assert chosen("--config", config) == ("subset", "logsumexp", 2)
    assert chosen("--config", config, "--anchor-source", "augmented") == (
        "augmented", "logsumexp", 2)
