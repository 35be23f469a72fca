"""The end-to-end demo: every part of modelgif on the built-in small zoo, in a few minutes.

    small zoo (cached) ──> owner key ──> fingerprint of a source model (secret anchors from
    the owner's own data) ──> calibration on half of the independent models ──> verdicts for
    a fine-tune, an extraction, a quantized copy and a HELD-OUT independent ──> an unlearning
    audit of an honest retrain and of a logit-masking cheat ──> signed evidence + report.html

The evaluation independent is never one of the calibration negatives (scoring a negative
against a null that contains it is the leak that inflated the published ModelGiF table);
the audit's reference models are trained here, without the forgotten class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from modelgif.crypto.keys import PrivateKey, generate_key, keyid, save_keypair
from modelgif.fingerprint.create import OWNERSHIP_ANCHORS, create_fingerprint, open_secrets
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.reports.evidence import ReportBundle, write_report
from modelgif.verifiers.ownership import (
    calibrate,
    ownership_record,
    save_calibration,
    verify_suspect,
)
from modelgif.verifiers.record import write_record
from modelgif.verifiers.unlearning import audit_unlearning, unlearning_record
from modelgif.zoo.architectures import build_architecture
from modelgif.zoo.cache import cached_small_zoo
from modelgif.zoo.manifest import ModelRecord, Zoo
from modelgif.zoo.training import TrainConfig, train
from modelgif.zoo.unlearners import unlearn

__all__ = ["DemoResult", "run_demo"]

log = logging.getLogger(__name__)

FORGOTTEN_CLASS = 3
# With 10 negatives, a 1 % rate at 95 % confidence needs a threshold 4.1 null sds out; the
# demo states a 5 % target instead (2.9 sds). Real cases: more negatives, or a 1 % target.
DEMO_FPR = 0.05
N_REFERENCES = 10  # the unlearning benchmark's setting (BENCHMARKS.md)
MAX_EPOCHS = 15  # the unlearning models are trained during the demo: keep it a few minutes
SUSPECT_CATEGORIES = ("finetune-a", "extract-l", "quantized")
Step = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    """Where everything went, and the decisions, for the CLI to print."""

    folder: Path
    fingerprint: Path
    calibration: Path
    verdicts: dict[str, tuple[Path, str]]
    report: ReportBundle


def _pick(zoo: Zoo, source: ModelRecord, category: str) -> ModelRecord:
    return next(m for m in zoo.derived_from(source.id) if m.category == category)


def run_demo(folder: Path, step: Step = lambda _: None, zoo: Zoo | None = None) -> DemoResult:
    """Run the whole workflow into `folder` (created; files the demo owns are replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    step("building or reusing the small zoo")
    zoo = zoo or cached_small_zoo()
    source = zoo.sources()[0]
    data = zoo.data(source.dataset)
    for name in ("owner.key", "owner.pub"):
        (folder / name).unlink(missing_ok=True)
    key = generate_key()
    save_keypair(key, folder / "owner")
    pool = folder / "owner-pool.npy"
    np.save(pool, data.owner.x)

    step(f"fingerprinting source model {source.id}")
    fingerprint_path = folder / "owner.mgf"
    fingerprint = create_fingerprint(zoo.path(source), key, fingerprint_path, pool=pool,
                                     anchor_config=replace(OWNERSHIP_ANCHORS, n_anchors=64),
                                     overwrite=True)
    secrets = open_secrets(fingerprint, key)
    independents = zoo.independents(source.dataset)
    held_out, negatives = independents[0], independents[1:]
    step(f"calibrating on {len(negatives)} independent models (1 more held out), "
         f"target false-positive rate {DEMO_FPR:.0%}")
    fitted = calibrate(fingerprint, secrets, [zoo.path(m) for m in negatives],
                       target_fpr=DEMO_FPR)
    calibration_path = folder / "calibration.json"
    save_calibration(calibration_path, fingerprint, fitted, [m.id for m in negatives], key,
                     force=True)

    verdicts: dict[str, tuple[Path, str]] = {}
    suspects = [_pick(zoo, source, c) for c in SUSPECT_CATEGORIES] + [held_out]
    for suspect in suspects:
        step(f"verifying {suspect.id} ({suspect.category})")
        path = zoo.path(suspect)
        model = normalize(path)
        verdict, comparison = verify_suspect(fingerprint, secrets, model, fitted)
        record = ownership_record(fingerprint_path, fingerprint, path, model, verdict,
                                  comparison, keyid(key), f"modelgif verify owner.mgf "
                                  f"{path.name} --key owner.key --calibration calibration.json",
                                  calibration_path, fitted)
        out = write_record(folder / f"verdict-{suspect.category}.json", record, key, force=True)
        verdicts[f"{suspect.id} ({suspect.category})"] = (out, verdict.decision)

    verdicts.update(_unlearning(folder, zoo, source, key, step))
    step("writing the signed evidence and the HTML report")
    report = write_report([p for p, _ in verdicts.values()], key, folder / "report",
                          case_id="demo", title="modelgif demo: ownership and unlearning",
                          scope=f"Suspects derived (or not) from {source.id}, calibrated "
                          f"on {len(negatives)} independent models at a {DEMO_FPR:.0%} target "
                          f"false-positive rate, and two claims that class "
                          f"{FORGOTTEN_CLASS} was unlearned.", force=True)
    return DemoResult(folder, fingerprint_path, calibration_path, verdicts, report)


def _unlearning(folder: Path, zoo: Zoo, source: ModelRecord, key: PrivateKey,
                step: Step) -> dict[str, tuple[Path, str]]:
    """Train an original and retrained references; audit an honest and a cheating claim."""
    data = zoo.data(source.dataset)
    x, y = data.owner.x, data.owner.y
    forget = y == FORGOTTEN_CLASS
    recipe = {f.name: source.recipe[f.name] for f in fields(TrainConfig)}
    config = TrainConfig(**{**recipe, "epochs": min(int(recipe["epochs"]), MAX_EPOCHS)})
    arch, dataset = source.architecture, source.dataset
    step(f"training an original and {N_REFERENCES} references without class "
         f"{FORGOTTEN_CLASS}")
    original = build_architecture(dataset, arch, 10, 101)
    train(original, x, y, config, 101)
    example = torch.from_numpy(x[:2])

    def saved(name: str, module: torch.nn.Module) -> tuple[Path, NormalizedModel]:
        model = normalize(module, example, input_range=data.input_range)
        return model.save(folder / "unlearning" / f"{name}.onnx"), model

    original_path, original_model = saved("original", original)
    references = [saved(f"reference-{i}", unlearn("retrain", original, dataset, arch, x, y,
                                                  forget, config, 200 + i))
                  for i in range(N_REFERENCES)]
    np.save(folder / "unlearning" / "forget.npy", x[forget])
    np.save(folder / "unlearning" / "retain.npy", x[~forget])
    results: dict[str, tuple[Path, str]] = {}
    for method in ("retrain", "mask-logit"):
        step(f"auditing an unlearning claim made by '{method}'")
        claimed_path, claimed = saved(f"claimed-{method}", unlearn(
            method, original, dataset, arch, x, y, forget, config, 300,
            forgotten_class=FORGOTTEN_CLASS))
        verdict = audit_unlearning(original_model, claimed, x[forget], key,
                                   retain=x[~forget],
                                   references=[m for _, m in references])
        models = [("original", original_path, original_model),
                  ("unlearned", claimed_path, claimed),
                  *(("reference", p, m) for p, m in references)]
        record = unlearning_record(
            verdict, models,
            [("forget set", folder / "unlearning" / "forget.npy"),
             ("retain set", folder / "unlearning" / "retain.npy")],
            {"anchors": 64, "target_fpr": 0.01, "references": N_REFERENCES,
             "target": "paired classes (the claimed model's top-1)"},
            keyid(key),
            f"modelgif audit-unlearning --original original.onnx --unlearned "
            f"claimed-{method}.onnx --forget forget.npy --retain retain.npy --reference "
            f"reference-*.onnx --key owner.key")
        out = write_record(folder / f"verdict-unlearning-{method}.json", record, key,
                           force=True)
        results[f"unlearning claim ({method})"] = (out, verdict.decision)
    return results
