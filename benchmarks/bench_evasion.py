"""Benchmark: can a thief who knows the anchor DISTRIBUTION evade the verdict?

Why: synthetic anchors (modelgif's default) are secret points, but drawn uniformly inside the
input's value range, and that distribution is public (it is in this repository). A thief
can then change the stolen model's function everywhere off the data at almost no cost in
accuracy: fine-tune it on its own data mixed with uniform noise labelled at random. On-data
anchors (the owner's data under secret augmentations) cannot be targeted that way without
touching the accuracy. This measures the trade-off the default makes, on the held-out zoo:

- for each source, `--copies` evasion fine-tunes: every layer, the thief's (attacker) split
  with its labels, plus as many uniform-noise inputs inside the data's range with random
  labels (the noise share is `--noise-share`), the Finetune-A recipe otherwise;
- each is verified at 64 anchors against the benchmark's owner fingerprints for the
  default setting, for augmented owner-data anchors and for a secret subset of the owner's
  data, calibrated on the zoo's fold negatives (all 24 ten-class and transfer independents
  outside the selection split);
- reported: test accuracy and agreement with the source (the copy must stay useful), the
  fraction flagged "derived" at 1 % FPR and the median standardised statistic, per setting.

Usage (after `modelgif bench ip` has cached the owner fingerprints and negatives' cosines):
    python benchmarks/bench_evasion.py --zoo zoo-seed2 --bench bench-seed2 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from modelgif.bench.ip import dataset_roles
from modelgif.bench.ipfields import SETTINGS, owner_fingerprint, suspect_cosines
from modelgif.bench.splits import SELECTION
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.torch_graph import TorchGraph
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.ownership import compare_suspect
from modelgif.verifiers.verdict import compute_verdict
from modelgif.zoo.manifest import ModelRecord, Zoo
from modelgif.zoo.plan import derive_seed
from modelgif.zoo.training import TrainConfig, predict_logits, train

N_ANCHORS = 64
# the default, and two on-data alternatives: augmented owner data (a bench ip setting) and a
# secret subset of the owner's data itself (the reference's anchors, modelgif's statistic)
COMPARED = {
    "whitebox": SETTINGS["whitebox"],
    "whitebox-augmented": SETTINGS["whitebox-augmented"],
    "whitebox-subset": replace(SETTINGS["whitebox-augmented"], name="whitebox-subset",
                               title="white-box, owner-data subset anchors, top-1 target",
                               fingerprint="subset", anchor_source="subset"),
}


def trainable_graph(model: onnx.ModelProto) -> TorchGraph:
    """The ONNX model as a torch module whose float initializers are parameters."""
    graph = TorchGraph(model)
    for init in model.graph.initializer:
        attr = graph._buffer_of[init.name]
        tensor = graph._buffers.pop(attr)
        assert tensor is not None
        if tensor.is_floating_point() and tensor.numel() > 1:
            graph.register_parameter(attr, nn.Parameter(tensor.clone()))
        else:
            graph.register_buffer(attr, tensor, persistent=False)
    return graph


def with_weights(model: onnx.ModelProto, graph: TorchGraph) -> onnx.ModelProto:
    """A copy of `model` whose initializers hold `graph`'s (trained) values."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for init in out.graph.initializer:
        value = getattr(graph, graph._buffer_of[init.name]).detach().cpu().numpy()
        init.CopyFrom(numpy_helper.from_array(value, init.name))
    return out


def test_predictions(model: nn.Module, zoo: Zoo, source: ModelRecord) -> np.ndarray:
    """The model's top-1 class on the test split of `source`'s dataset."""
    with torch.no_grad():
        return predict_logits(model.eval(), zoo.data(source.dataset).test.x).argmax(1).numpy()


def evasion_copy(zoo: Zoo, source: ModelRecord, index: int, noise_share: float,
                 folder: Path, source_predictions: np.ndarray) -> tuple[Path, float, float]:
    """Train one evasion fine-tune with the source's first Finetune-A recipe; (its ONNX
    path, test accuracy, agreement with the source's `source_predictions`)."""
    data = zoo.data(source.dataset)
    seed = derive_seed(0, f"evasion:{source.id}:{index}")
    rng = np.random.default_rng(seed)
    x, y = data.attacker.x, data.attacker.y
    n_noise = round(len(x) * noise_share / (1.0 - noise_share))
    low, high = float(x.min()), float(x.max())
    noise = rng.uniform(low, high, (n_noise, *x.shape[1:])).astype(np.float32)
    inputs = np.concatenate([x, noise]).astype(np.float32)
    labels = np.concatenate([y, rng.integers(0, data.num_classes, n_noise)]).astype(np.int64)
    recipe = zoo.get(f"{source.id}.fta-0").recipe
    config = TrainConfig(**{f: recipe[f] for f in TrainConfig.__dataclass_fields__})
    proto = onnx.load(str(zoo.path(source)))
    graph = trainable_graph(proto)
    train(graph, inputs, labels, config, seed)
    theirs = test_predictions(graph, zoo, source)
    path = folder / f"{source.id}.evasion-{index}.onnx"
    onnx.save(with_weights(proto, graph), str(path))
    return path, float(np.mean(theirs == data.test.y)), float(np.mean(theirs == source_predictions))


def run(zoo: Zoo, bench: Path, copies: int, noise_share: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in sorted({s.dataset for s in zoo.sources()}):
            roles = dataset_roles(zoo, dataset, 0)
            negatives = sorted(i for i, r in roles.negatives.items() if r != SELECTION)
            for source in zoo.sources(dataset):
                ours = test_predictions(TorchGraph(onnx.load(str(zoo.path(source)))), zoo,
                                        source)
                made = [evasion_copy(zoo, source, i, noise_share, Path(tmp), ours)
                        for i in range(copies)]
                for name, setting in COMPARED.items():
                    owner = owner_fingerprint(zoo, source, setting, N_ANCHORS, 0, bench)
                    null = np.stack([suspect_cosines(zoo, owner, setting, zoo.get(i), bench)
                                     .cosines[:N_ANCHORS] for i in negatives])
                    calibration = fit_calibration(null, negatives)
                    for path, accuracy, agreement in made:
                        got = compare_suspect(owner.fingerprint, owner.secrets, normalize(path))
                        verdict = compute_verdict(got.cosines, calibration)
                        assert verdict.statistic is not None
                        rows.append({
                            "source": source.id, "setting": name, "model": path.name,
                            "test_accuracy": accuracy, "agreement_with_source": agreement,
                            "derived": verdict.decision == "derived",
                            "z": (verdict.statistic - calibration.null_mean)
                            / calibration.null_sd,
                        })
    summary: dict[str, Any] = {}
    for name in COMPARED:
        mine = [r for r in rows if r["setting"] == name]
        summary[name] = {
            "flagged": sum(r["derived"] for r in mine), "scored": len(mine),
            "median_z": statistics.median(r["z"] for r in mine),
        }
    return {"rows": rows, "summary": summary, "copies": copies, "noise_share": noise_share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, required=True)
    parser.add_argument("--bench", type=Path, required=True, help="the bench ip --out folder")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--noise-share", type=float, default=0.5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = run(Zoo.load(args.zoo), args.bench, args.copies, args.noise_share)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    for row in report["rows"]:
        print(json.dumps(row))
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
