"""The unlearning benchmark: a tiny end-to-end run, its outputs, tables, CLI and unlearners."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from modelgif.bench.unlearning import BenchSetting, register_cli, run_benchmark, write_outputs
from modelgif.bench.unlearning_report import markdown_tables, targets
from modelgif.bench.unlearning_run import Claim, forget_mask
from modelgif.zoo.architectures import build_architecture
from modelgif.zoo.data import load_data
from modelgif.zoo.training import TrainConfig, predict_logits, train
from modelgif.zoo.unlearners import UNLEARNERS, unlearn

pytestmark = pytest.mark.slow  # trains or scans whole zoos: scheduled first

TINY = (BenchSetting("digits", "mlp", 1, curve_seeds=1),)


@pytest.fixture(scope="module")
def tiny_run() -> dict[str, Any]:
    """One seed of digits/mlp, 5 epochs, 5 references, 16 anchors, curves on."""
    return run_benchmark(1, settings=TINY, n_references=5, n_anchors=16, epochs=5)


def _claims(results: dict[str, Any], unlearner: str) -> list[dict[str, Any]]:
    return [c for c in results["claims"] if c["unlearner"] == unlearner]


def test_tiny_run_audits_every_unlearner_in_both_scenarios(tiny_run: dict[str, Any]) -> None:
    honest = _claims(tiny_run, "retrain")
    assert len(honest) == 2 * 6  # 6 retrains per scenario, each audited against the others
    for unlearner in UNLEARNERS[1:]:
        scenarios = sorted(c["scenario"] for c in _claims(tiny_run, unlearner))
        assert scenarios == (["class"] if unlearner == "mask-logit" else ["class", "random"])
    assert all(c["decision"] == "not forgotten" for c in _claims(tiny_run, "no-change"))
    assert np.mean([c["decision"] == "forgotten" for c in honest]) >= 0.8
    mask = _claims(tiny_run, "mask-logit")[0]
    assert mask["forget_accuracy"] == 0.0 and mask["forget_similarity"] > 0.99


def test_tiny_run_curves_follow_the_unlearners_epochs(tiny_run: dict[str, Any]) -> None:
    curves = tiny_run["curves"]["digits/mlp"]
    for scenario in ("class", "random"):
        (retrain,) = curves[scenario]["retrain"]
        assert [e for e, _ in retrain] == list(range(6))
        assert retrain[0][1] > retrain[-1][1]  # a fresh init is further than the trained one
        (unchanged,) = curves[scenario]["no-change"]
        assert unchanged == [(0, pytest.approx(0.0, abs=1e-5))]
    low, high = tiny_run["reference_bands"]["digits/mlp"]["class"]
    assert 0.0 < low <= high


def test_outputs_are_written_and_parse(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    files = write_outputs(tiny_run, tmp_path, "modelgif bench unlearning --seeds 1")
    svg = ET.parse(files["curve"]).getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{*}polyline")) >= 6
    text = files["report"].read_text()
    assert "![field distance" in text and "unlearning_curve.svg" in text
    assert "| retrain | honest |" in text and "## Targets" in text
    loaded = json.loads(files["results"].read_text())
    assert loaded["schema"] == "modelgif.bench-unlearning/v1"
    assert len(loaded["claims"]) == len(tiny_run["claims"])


def _claim(unlearner: str, decision: str, scenario: str = "class") -> Claim:
    return Claim("s", 0, scenario, unlearner, decision, 0.9, 0.9, 0.0, 0.5, 0.5, 0.0, 0.9)


def test_targets_and_tables_count_acceptance() -> None:
    claims = ([_claim("retrain", "forgotten")] * 19 + [_claim("retrain", "not forgotten")]
              + [_claim("no-change", "not forgotten")] * 10
              + [_claim("last-layer", "forgotten")] + [_claim("last-layer", "inconclusive")])
    result = targets(claims)
    assert result["retrain"]["k"] == 19 and result["retrain"]["met"] is True
    high = result["no-change"]["high"]
    assert result["no-change"]["met"] is True and isinstance(high, float) and high < 0.35
    assert result["last-layer"]["rate"] == 0.5 and result["last-layer"]["met"] is False
    assert "mask-logit" not in result
    table = markdown_tables(claims, ["s"])
    assert "19/20 = 95.0%" in table and "| last-layer | cheat |" in table


def test_cli_registers_the_unlearning_subcommand() -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["unlearning", "--seeds", "2", "--out", "x", "--json"])
    assert args.seeds == 2 and args.out == Path("x") and args.json and callable(args.func)


def test_forget_masks() -> None:
    y = np.arange(200) % 10
    assert forget_mask("class", y, 13).sum() == 20 and np.all(y[forget_mask("class", y, 13)] == 3)
    random = forget_mask("random", y, 4)
    assert random.sum() == 20 and np.array_equal(random, forget_mask("random", y, 4))
    assert not np.array_equal(random, forget_mask("random", y, 5))


def test_gradient_ascent_stops_at_its_target_and_mask_hides_the_class() -> None:
    torch.set_num_threads(1)
    data = load_data("digits", 0)
    x, y = data.owner.x, data.owner.y
    original = build_architecture("digits", "mlp", 10, 1)
    train(original, x, y, TrainConfig(epochs=5), 1)
    forget = y == 3
    epochs: list[int] = []
    ascent = unlearn("gradient-ascent", original, "digits", "mlp", x, y, forget,
                     TrainConfig(epochs=5), 2, forgotten_class=3,
                     snapshot=lambda e, _: epochs.append(e))
    accuracy = np.mean(predict_logits(ascent, x[forget]).argmax(1).numpy() == 3)
    assert accuracy <= 0.1 and epochs[0] == 0 and len(epochs) >= 2
    masked = unlearn("mask-logit", original, "digits", "mlp", x, y, forget,
                     TrainConfig(epochs=5), 2, forgotten_class=3)
    assert not np.any(predict_logits(masked, x).argmax(1).numpy() == 3)
