"""modelgif.calibrate and modelgif.verify on the small zoo: the one call gives what the CLI
writes for the same inputs, on the field, within a query budget (a local file and a real
server), and refuses bad input with InputError (the CLI's exit 2)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import modelgif
from modelgif.cli import main
from modelgif.errors import InputError
from modelgif.remote import ClientLimits
from modelgif.verifiers.record import load_record
from remote.v2_server import V2Server
from workflows.owner_case import Owner, stable


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def calibration(owner: Owner) -> modelgif.CalibrationResult:
    return modelgif.calibrate(owner.fingerprint, owner.negatives, key=owner.key_path,
                              target_fpr=0.05, output=owner.folder / "cal.json")


def test_calibrate_equals_the_cli(owner: Owner, calibration: modelgif.CalibrationResult,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert calibration.output == owner.folder / "cal.json" and calibration.output.is_file()
    assert len(calibration.negatives) == len(owner.negatives)
    assert set(calibration.calibrations) == {"sketch", "sketch_coarse"}
    other = owner.folder / "cal-cli.json"
    code, out, err = cli(capsys, "calibrate", owner.fingerprint, "--negatives",
                         *owner.negatives, "--key", owner.key_path, "--target-fpr", 0.05,
                         "-o", other, "--json")
    assert code == 0, err
    assert calibration.to_dict()["file"] == str(owner.folder / "cal.json")
    assert json.loads(out) == {**calibration.to_dict(), "file": str(other)}
    assert calibration.main.threshold == json.loads(out)["sketch"]["threshold"]


def test_verify_equals_the_cli_and_its_default_command_reproduces_it(
        owner: Owner, calibration: modelgif.CalibrationResult,
        capsys: pytest.CaptureFixture[str]) -> None:
    suspect, cal, out_path = owner.suspect("finetune-a"), owner.folder / "cal.json", \
        owner.folder / "finetune.json"
    result = modelgif.verify(owner.fingerprint, suspect, key=owner.key, calibration=cal,
                             output=out_path)
    assert result.verdict.calibrated and result.suspect_name == suspect.name
    assert result.output == out_path
    assert load_record(out_path, owner.key.public_key()) == result.record  # what was signed
    assert result.record["command"] == shlex.join(
        ["modelgif", "verify", str(owner.fingerprint), str(suspect), "--key", "OWNER.key",
         "--calibration", str(cal), "-o", str(out_path)])
    argv = ["verify", owner.fingerprint, suspect, "--key", owner.key_path, "--calibration",
            cal, "--json"]
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    record = json.loads(out)
    assert record["command"] == "modelgif " + shlex.join(str(a) for a in argv)
    assert stable({**record, "command": ""}) == stable({**result.to_dict(), "command": ""})
    # the Python call's command names the key file when it was given as one
    by_path = modelgif.verify(owner.fingerprint, suspect, key=owner.key_path, calibration=cal)
    assert by_path.output is None and by_path.verdict == result.verdict
    code, out, err = cli(capsys, *shlex.split(by_path.record["command"])[1:], "--json")
    assert code == 0 and json.loads(out)["verdict"] == result.record["verdict"], err


def test_verify_within_a_budget_from_a_file_and_a_server(
        owner: Owner, capsys: pytest.CaptureFixture[str]) -> None:
    cal = owner.folder / "cal-labels.json"
    budget = {"query_budget": 64, "output_kind": "labels"}
    fitted = modelgif.calibrate(owner.fingerprint, owner.negatives, key=owner.key, output=cal,
                                **budget)
    assert set(fitted.calibrations) == {"probe:labels:64"}
    record = owner.model("reexported")
    copy = owner.zoo.path(record)
    local = modelgif.verify(owner.fingerprint, copy, key=owner.key, calibration=cal, **budget)
    assert local.queries is not None and local.queries.spent == 64
    assert local.queries.plan.estimator == "probe:labels:64"
    code, out, err = cli(capsys, "verify", owner.fingerprint, copy, "--key", owner.key_path,
                         "--calibration", cal, "--query-budget", 64, "--output-kind", "labels",
                         "--json")
    assert code == 0, err
    assert stable({**json.loads(out), "command": ""}) == stable({**local.record, "command": ""})
    log = owner.folder / "q.jsonl"
    with V2Server(owner.zoo.model_bytes(record), mode="labels") as server:
        remote = modelgif.RemoteSuspect(server.url, server.name, log,
                                        ClientLimits(batch_size=32))
        served = modelgif.verify(owner.fingerprint, key=owner.key, calibration=cal,
                                 remote=remote, **budget)
    # the same model's labels through the server: the same statistic as from the file
    assert served.verdict.statistic == local.verdict.statistic
    assert served.verdict.decision == local.verdict.decision
    assert served.queries is not None and served.queries.spent == 64
    assert served.record["method"]["suspect_estimator"]["server"]["requests"] == 3
    assert [i["role"] for i in served.record["inputs"]] == ["fingerprint", "query-log",
                                                             "calibration"]
    assert "--suspect-url" in served.record["command"]


def test_bad_input_is_an_input_error_and_exit_2(
        owner: Owner, calibration: modelgif.CalibrationResult,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cal = owner.folder / "cal.json"
    with pytest.raises(InputError, match="not both or neither"):
        modelgif.verify(owner.fingerprint, key=owner.key)
    with pytest.raises(InputError, match="not for the field"):
        modelgif.verify(owner.fingerprint, owner.held_out, key=owner.key,
                        calibration=owner.folder / "cal-labels.json")
    with pytest.raises(InputError, match="at least 5 negative models; got 2"):
        modelgif.calibrate(owner.fingerprint, owner.negatives[:2], key=owner.key)
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    with pytest.raises(InputError, match="already exists") as refused:
        modelgif.verify(owner.fingerprint, owner.held_out, key=owner.key, calibration=cal,
                        output=taken)
    assert taken.read_text() == "{}"
    code, _, err = cli(capsys, "verify", owner.fingerprint, owner.held_out, "--key",
                       owner.key_path, "--calibration", cal, "-o", taken)
    assert code == 2 and err == f"modelgif: error: {refused.value}\n"
    missing = tmp_path / "missing.onnx"
    with pytest.raises(InputError) as unreadable:
        modelgif.verify(owner.fingerprint, missing, key=owner.key)
    code, _, err = cli(capsys, "verify", owner.fingerprint, missing, "--key", owner.key_path)
    assert code == 2 and err == f"modelgif: error: {unreadable.value}\n"
    with pytest.raises(InputError, match="target_fpr"):
        modelgif.calibrate(owner.fingerprint, owner.negatives, key=owner.key, target_fpr=0.9)
