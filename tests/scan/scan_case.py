"""A small real scan case from the small zoo: an owner key, two fingerprints of the zoo's
source model (one calibrated), and a folder of suspects including hostile ones."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from modelgif.cli import main
from modelgif.zoo import Zoo, cached_small_zoo

sys.path.insert(0, str(Path(__file__).parent))
from hostile_models import CRASH_MARKER, hanging_model

NEGATIVES = ("mnist1d.ind-cnn-owner-0", "mnist1d.ind-cnn-owner-1", "mnist1d.ind-cnn-owner-2",
             "mnist1d.ind-cnn-attacker-0", "mnist1d.ind-mlp-owner-0")
# suspect file name -> zoo model (a copy, a fine-tune, a quantized copy, an independent one)
SUSPECTS = {"a-copy.onnx": "mnist1d.src-cnn",
            "a-finetune.onnx": "mnist1d.src-cnn.fta-0",
            "b-quantized.onnx": "mnist1d.src-cnn.qdyn",
            "c-independent.onnx": "mnist1d.ind-cnn-attacker-2"}
CRASH = f"d-{CRASH_MARKER}.onnx"
HANG = "e-hang.onnx"


@dataclass(frozen=True)
class Case:
    folder: Path
    key: Path
    pub: Path
    calibrated: Path  # fingerprint A, with calibration `calibration`
    plain: Path  # fingerprint B, uncalibrated
    calibration: Path
    suspects: Path  # all suspects, hostile ones included

    def base_args(self) -> list[str]:
        return ["scan", "--fingerprints", str(self.calibrated), str(self.plain),
                "--key", str(self.key), "--calibration", str(self.calibration)]


def _cli(*argv: object) -> None:
    code = main([str(a) for a in argv])
    assert code == 0, argv


def build_case(folder: Path) -> Case:
    zoo: Zoo = cached_small_zoo()
    key = folder / "owner.key"
    _cli("keygen", "--out", folder / "owner")
    owner = zoo.path("mnist1d.src-cnn")
    calibrated, plain = folder / "a.mgf", folder / "b.mgf"
    for mgf in (calibrated, plain):
        _cli("fingerprint", owner, "--key", key, "-o", mgf, "--anchors-count", "16",
             "--steps", "4")
    calibration = folder / "a.cal.json"
    _cli("calibrate", calibrated, "--negatives", *(zoo.path(n) for n in NEGATIVES),
         "--key", key, "-o", calibration)
    suspects = folder / "suspects"
    suspects.mkdir()
    for name, model in SUSPECTS.items():
        shutil.copy(zoo.path(model), suspects / name)
    shutil.copy(zoo.path("mnist1d.src-cnn.fta-1"), suspects / CRASH)  # crashes by its name
    hanging_model(suspects / HANG)
    return Case(folder, key, folder / "owner.pub", calibrated, plain, calibration, suspects)
