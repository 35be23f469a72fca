"""The fused verdict on real trained models (the small zoo's MNIST-1D source, its fine-tunes
and independents): two fingerprints of the source (synthetic anchors and anchors on the
owner's own data), one calibrated test, its realised FPR on held-out negatives, and the
signed calibration file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from modelgif import workflows
from modelgif.cli import build_parser, main
from modelgif.cli.fused_options import run_fused, wants_fused
from modelgif.crypto.keys import save_keypair
from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.verifiers.fused_calibration_file import (
    load_fused_calibration,
    save_fused_calibration,
)
from modelgif.verifiers.fused_verdict import (
    FusedCalibration,
    FusedComponent,
    calibrate_fused,
    calibration_from_cosines,
    component_cosines,
    fused_verdict,
    fused_verdict_from_cosines,
)
from modelgif.verifiers.signed_file import read_signed
from modelgif.workflows.fused import FUSED_VERDICT_TYPE
from modelgif.zoo import Zoo, cached_small_zoo

DATASET = "mnist1d"


@dataclasses.dataclass
class Setup:
    zoo: Zoo
    key: ed25519.Ed25519PrivateKey
    components: list[FusedComponent]
    negatives: list[NormalizedModel]  # all 11 independents of the source's dataset
    compared: list[tuple[str, list[np.ndarray]]]  # each negative's digest and cosines
    calibration: FusedCalibration  # on negatives 1..10 (negative 0 is held out)
    paths: list[Path]  # the two fingerprint files


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    zoo = cached_small_zoo()
    source = zoo.sources(DATASET)[0]
    folder = tmp_path_factory.mktemp("fused")
    key = ed25519.Ed25519PrivateKey.generate()
    components, paths = [], []
    for name, anchors in (("synthetic", AnchorConfig(n_anchors=8, source="synthetic")),
                          ("owner-data", AnchorConfig(n_anchors=8, source="subset"))):
        path = folder / f"{name}.mgf"
        create_fingerprint(zoo.path(source.id), key, path, anchor_config=anchors,
                           pool=zoo.data(DATASET).owner.x[:500])
        fingerprint = load_fingerprint(path, key.public_key())
        paths.append(path)
        components.append(FusedComponent(fingerprint, open_secrets(fingerprint, key)))
    negatives = [normalize(zoo.path(m.id)) for m in zoo.independents(DATASET)]
    compared = [component_cosines(components, m) for m in negatives]
    calibration = calibration_from_cosines(components, compared[1:])
    return Setup(zoo, key, components, negatives, compared, calibration, paths)


def test_a_fine_tune_is_derived_and_a_held_out_independent_is_not(setup: Setup) -> None:
    source = setup.zoo.sources(DATASET)[0]
    tune = next(m for m in setup.zoo.derived_from(source.id) if m.category == "finetune-l")
    derived = fused_verdict(setup.components, setup.zoo.path(tune.id), setup.calibration)
    assert derived.decision == "derived"
    assert derived.statistic is not None and derived.threshold is not None
    assert derived.statistic > derived.threshold
    assert derived.calibration_method is not None
    assert derived.calibration_method.startswith("fused-max: max of z")
    assert derived.n_null == 10 and derived.p_value is not None and derived.p_value < 0.01
    held_out = fused_verdict(setup.components, setup.negatives[0], setup.calibration)
    assert held_out.decision != "derived"
    assert held_out.compared["suspect"] == setup.negatives[0].digest
    json.loads(held_out.to_json())  # a Verdict like any other


def test_realised_fpr_on_cross_fitted_negatives(setup: Setup) -> None:
    """Each negative scored under the null of the other ten: none is flagged, every
    calibration negative's leave-one-out score is at or below the threshold, and a negative
    is refused as a suspect of the null that contains it."""
    null = setup.calibration.null
    assert len(null.null_values) == 10
    assert np.all(null.null_values <= null.null.threshold)
    full = calibration_from_cosines(setup.components, setup.compared)
    flagged = 0
    for j, (digest, cosines) in enumerate(setup.compared):
        fold = calibration_from_cosines(setup.components,
                                        [c for i, c in enumerate(setup.compared) if i != j])
        verdict = fused_verdict_from_cosines(cosines, fold, compared={"suspect": digest})
        assert verdict.n_null == 10 and verdict.fpr_bound == 0.01
        flagged += verdict.decision == "derived"
        with pytest.raises(InputError, match="one of the fused calibration's negatives"):
            fused_verdict_from_cosines(cosines, full, compared={"suspect": digest})
    assert flagged == 0
    with pytest.raises(InputError, match="itself is among the negatives"):
        calibrate_fused(setup.components, [setup.zoo.path(setup.zoo.sources(DATASET)[0].id)])
    with pytest.raises(InputError, match="same digest"):
        calibration_from_cosines(setup.components, [setup.compared[0]] * 5)


def test_the_signed_file_round_trips_and_refuses_edits_and_other_fingerprints(
        setup: Setup, tmp_path: Path) -> None:
    fingerprints = [c.fingerprint for c in setup.components]
    path = tmp_path / "FUSED-CAL.json"
    save_fused_calibration(path, fingerprints, setup.calibration, setup.key)
    loaded = load_fused_calibration(path, fingerprints, setup.key.public_key())
    assert loaded == setup.calibration
    assert loaded.null.null.threshold == setup.calibration.null.null.threshold
    with pytest.raises(InputError, match="already exists"):
        save_fused_calibration(path, fingerprints, setup.calibration, setup.key)
    with pytest.raises(InputError, match="other fingerprints"):
        load_fused_calibration(path, fingerprints[::-1], setup.key.public_key())
    envelope = json.loads(path.read_text())
    envelope["payload"] = envelope["payload"][:-8] + "AAAAAAA="
    path.write_text(json.dumps(envelope))
    with pytest.raises((IntegrityError, InputError)):
        load_fused_calibration(path, fingerprints, setup.key.public_key())
    with pytest.raises(InputError, match="other fingerprints"):
        fused_verdict(setup.components[::-1], setup.negatives[0], setup.calibration)


def test_hostile_calibration_fields_are_refused(setup: Setup) -> None:
    good = setup.calibration.to_dict()
    assert FusedCalibration.from_dict(good) == setup.calibration
    for field, value in (("rule", "sum"), ("values", [[1.0, float("nan")]] * 10),
                         ("negatives", ["sha256:00"] * 10), ("target_fpr", True),
                         ("statistics", ["log-agreement"]), ("values", "x")):
        with pytest.raises(InputError):
            FusedCalibration.from_dict({**good, field: value})
    with pytest.raises(InputError):
        FusedCalibration.from_dict({**good, "threshold": 0.0})


def _command(name: str, argv: list[str]) -> argparse.Namespace:
    """The arguments the real `calibrate` / `verify` parser gives the fused path."""
    args = build_parser().parse_args([name, *argv])
    args.argv = [name, *argv]
    return args


def test_the_commands_calibrate_and_verify_with_signed_files(
        setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file, _ = save_keypair(setup.key, tmp_path / "owner")
    negatives = tmp_path / "negatives"
    negatives.mkdir()
    for model in setup.zoo.independents(DATASET)[1:6]:  # 5 negatives: the mechanics only
        shutil.copy(setup.zoo.path(model.id), negatives / f"{model.id}.onnx")
    fused = ["--key", str(key_file), "--fused-with", str(setup.paths[1])]
    cal = tmp_path / "FUSED-CAL.json"
    args = _command("calibrate", [str(setup.paths[0]), "--negatives", str(negatives), "-o",
                                  str(cal), "--json", *fused])
    assert wants_fused(args) and main(args.argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["negatives"] == 5 and summary["method"].startswith("fused-max")
    loaded = load_fused_calibration(cal, [c.fingerprint for c in setup.components],
                                    setup.key.public_key())
    assert len(loaded.negatives) == 5
    assert main(args.argv) == 2  # refused: the file exists
    assert "already exists" in capsys.readouterr().err
    suspect = setup.zoo.path(setup.zoo.independents(DATASET)[0].id)
    out = tmp_path / "VERDICT.json"
    args = _command("verify", [str(setup.paths[0]), str(suspect), "--calibration", str(cal),
                               "-o", str(out), "--json", *fused])
    assert main(args.argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verdict"]["calibration_method"].startswith("fused-max")
    assert [i["role"] for i in record["inputs"]] == ["fingerprint", "fingerprint", "suspect",
                                                     "calibration"]
    statement = read_signed(out, FUSED_VERDICT_TYPE, setup.key.public_key(), "fused verdict",
                            "", 1 << 20)
    assert statement["predicate"]["verdict"] == record["verdict"]
    assert {s["name"] for s in statement["subject"]} == {
        setup.paths[0].name, setup.paths[1].name, suspect.name, cal.name}
    assert main(["report", str(out), "--key", str(key_file), "-o", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err  # the owner's signature, but not a verdict record
    assert "fused-verdict/v1 file, not a verdict record" in error and "edited" not in error
    bad = _command("verify", [str(setup.paths[0]), str(suspect), "--calibration", str(cal),
                              "--fused-statistics", "log-agreement", *fused])
    with pytest.raises(InputError, match="--fused-statistics needs 2"):
        run_fused(bad)


def test_the_api_call_equals_the_command_and_repeats_a_command_that_parses(
        setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`modelgif.verify_fused` with a loaded key: the verdict the command gives, and a
    statement whose command line is a `verify --fused-with` the CLI parses."""
    key_file, _ = save_keypair(setup.key, tmp_path / "owner")
    negatives = tmp_path / "negatives"
    negatives.mkdir()
    for model in setup.zoo.independents(DATASET)[1:6]:
        shutil.copy(setup.zoo.path(model.id), negatives / f"{model.id}.onnx")
    cal = tmp_path / "FUSED-CAL.json"
    calibrated = workflows.calibrate_fused(setup.paths, [negatives], key=setup.key, output=cal)
    assert len(calibrated.negatives) == 5 and calibrated.to_dict()["file"] == str(cal)
    suspect = setup.zoo.path(setup.zoo.independents(DATASET)[0].id)
    result = workflows.verify_fused(setup.paths, suspect, key=setup.key, calibration=cal)
    assert main(["verify", str(setup.paths[0]), str(suspect), "--key", str(key_file),
                 "--fused-with", str(setup.paths[1]), "--calibration", str(cal),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["verdict"]["decision"] == result.verdict.decision
    assert printed["verdict"]["statistic"] == pytest.approx(result.verdict.statistic)
    args = build_parser().parse_args(shlex.split(result.record["command"])[1:])
    assert wants_fused(args) and args.fused_with == [setup.paths[1]]
    assert args.calibration == cal and args.key == Path("OWNER.key")
