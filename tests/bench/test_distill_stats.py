"""Output statistics, the fast grouped AUC and the graph signature of the distillation
benchmark (modelgif.bench.outputstats, distill)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modelgif.bench.outputstats import (
    idiosyncratic_points,
    logit_agreement,
    neg_log_js,
    sac_score,
)
from modelgif.fingerprint.normalize import normalize
from modelgif.verifiers.matched_null import graph_signature
from modelgif.zoo.fashion_zoo import fashion_net


def test_js_is_largest_for_identical_outputs_and_orders_by_closeness() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 10))
    near, far = a + 0.1 * rng.normal(size=a.shape), rng.normal(size=a.shape)
    assert neg_log_js(a, a) == pytest.approx(-math.log(1e-9))
    assert neg_log_js(a, near) > neg_log_js(a, far)


def test_agreement_logit_is_finite_and_monotone() -> None:
    a = np.eye(10)[np.arange(100) % 10]
    b = a.copy()
    b[:30] = np.roll(b[:30], 1, axis=1)
    assert math.isfinite(logit_agreement(a, a))
    assert logit_agreement(a, a) > logit_agreement(a, b) > logit_agreement(a, np.roll(a, 1, 1))


def test_sac_distance_is_zero_for_the_same_model_and_negative_otherwise() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 10))
    assert sac_score(a, a) == pytest.approx(0.0, abs=1e-12)
    near = a + 0.05 * rng.normal(size=a.shape)
    assert sac_score(a, rng.normal(size=a.shape)) < sac_score(a, near)


def test_idiosyncratic_points_are_errors_and_low_margins() -> None:
    logits = np.array([[5.0, 0.0], [0.0, 5.0], [1.0, 0.9], [0.0, 0.2]])
    errors, boundary = idiosyncratic_points(logits, np.array([0, 0, 0, 1]), 2)
    assert errors.tolist() == [1]
    assert boundary.tolist() == [2, 3]


def test_graph_signature_tells_architectures_apart_not_weights() -> None:
    example = torch.zeros(1, 1, 28, 28)

    def signature(name: str, seed: int) -> str:
        return graph_signature(normalize(fashion_net(name, seed), example).model)

    assert signature("cnn", 0) == signature("cnn", 1)
    assert signature("cnn", 0) != signature("pool", 0)


def test_fast_grouped_auc_matches_the_metrics_module() -> None:
    from modelgif.bench.distill import _fast_grouped_auc
    from modelgif.bench.metrics import grouped_auc

    rng = np.random.default_rng(4)
    pos, neg = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 60).round(1)
    pg, ng = rng.choice(["a", "b", "c"], 40), rng.choice(["a", "b", "d"], 60)
    assert _fast_grouped_auc(pos, pg, neg, ng) == pytest.approx(
        grouped_auc(pos, list(pg), neg, list(ng)))


def test_the_data_matched_null_leaves_out_owner_data_negatives_and_says_what_it_costs() -> None:
    from modelgif.bench.distill import NULLS, _score_one, in_claim, training_data
    from modelgif.zoo.fashion_zoo import plan

    kinds = {m.id: training_data(m) for m in plan(0)}
    assert kinds["t0"] == kinds["ind-cnn-owner-0"] == "owner"
    assert kinds["ind-pool-attacker-1"] == kinds["t1.student-soft-cnn-2000"] == "attacker"

    rng = np.random.default_rng(0)
    cal = [f"own{i}" for i in range(6)] + [f"att{i}" for i in range(6)]
    data = {c: c[:3].replace("own", "owner").replace("att", "attacker") for c in cal}
    data["s"] = "attacker"
    features = {c: {"js-noise": float(v)} for c, v in zip(cal, rng.normal(0, 1, 12), strict=True)}
    features["s"] = {"js-noise": 0.0}
    sig = dict.fromkeys([*cal, "s"], "g")
    sizes = {null: _score_one("js-noise", null, cal, "s", features, sig, data, {}, {})[2]
             for null in NULLS}
    assert sizes == {"pooled": 12, "matched": 12, "matched-data": 6}

    rows = [{"positive": True, "data": "attacker"}, {"positive": False, "data": "owner"},
            {"positive": False, "data": "attacker"}]
    assert in_claim(rows, "matched") == rows
    assert in_claim(rows, "matched-data") == [rows[0], rows[2]]
