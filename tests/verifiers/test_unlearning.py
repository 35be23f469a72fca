"""Unlearning audit: the decision logic on synthetic fields, its error rate, and real models.

Synthetic claims are (N, S) paired cosines whose per-anchor distance 1 - s is drawn on the
log scale the audit works on: a model-level offset (how close this model is to the
original overall) plus per-anchor noise, as measured on the benchmark's retrains.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest
import torch

from modelgif.crypto.keys import generate_key
from modelgif.errors import InputError
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.verifiers.unlearning import (
    DISTANCE_FLOOR,
    IDENTICAL,
    assess_unlearning,
    audit_unlearning,
    log_distance,
    reference_test,
)
from modelgif.zoo.architectures import build_architecture
from modelgif.zoo.data import load_data
from modelgif.zoo.training import TrainConfig, train
from modelgif.zoo.unlearners import unlearn

N, S, M = 32, 8, 10
Cosines = npt.NDArray[np.float64]


def claim(rng: np.random.Generator, log_d: float, model_sd: float = 0.15) -> Cosines:
    """Cosines of one model whose mean log distance to the original is about `log_d`."""
    offset = log_d + model_sd * rng.normal()
    distance = np.exp(offset + 0.4 * rng.normal(size=N))
    steps = rng.normal(0.0, 0.01, size=(N, S))
    cosines = 1.0 - distance[:, None] + steps - steps.mean(axis=1, keepdims=True)
    return np.asarray(np.clip(cosines, -1.0, 1.0), dtype=np.float64)


def refs(rng: np.random.Generator, log_d: float = -1.6, m: int = M) -> list[Cosines]:
    return [claim(rng, log_d) for _ in range(m)]


def identical() -> Cosines:
    return np.ones((N, S))


# ----------------------------------------------------------------------------- statistic


def test_log_distance_floors_unchanged_fields_and_orders_by_distance() -> None:
    assert log_distance(identical()) == pytest.approx(np.log(DISTANCE_FLOOR))
    near, far = np.full((N, S), 0.95), np.full((N, S), 0.7)
    assert log_distance(near) == pytest.approx(np.log(0.05))
    assert log_distance(near) < log_distance(far)


def test_reference_test_false_alarm_rate_matches_target() -> None:
    """Honest claims drawn like the references are refused at about target_fpr."""
    rng = np.random.default_rng(0)
    refused = [reference_test(claim(rng, -1.6), refs(rng), target_fpr=0.05).decision
               == "derived" for _ in range(400)]
    assert 0.02 <= np.mean(refused) <= 0.09


def test_reference_test_p_value_and_threshold_agree() -> None:
    rng = np.random.default_rng(1)
    references = refs(rng)
    for log_d in (-1.6, -2.2, -3.0, -6.0):
        test = reference_test(claim(rng, log_d), references, target_fpr=0.01)
        assert test.statistic is not None and test.threshold is not None
        assert test.p_value is not None
        assert (test.statistic > test.threshold) == (test.p_value < 0.01)
        assert (test.decision == "derived") == (test.p_value < 0.01)
    assert test.p_value is not None and test.p_value < 1e-6 and test.n_null == M


def test_reference_test_rejects_too_few_or_identical_references() -> None:
    rng = np.random.default_rng(2)
    with pytest.raises(InputError, match="at least 5"):
        reference_test(claim(rng, -1.6), refs(rng, m=4))
    with pytest.raises(InputError, match="differ"):
        reference_test(claim(rng, -1.6), [identical()] * 6)


# ----------------------------------------------------------------------------- decisions


def test_honest_claim_is_forgotten_and_cheat_is_not() -> None:
    rng = np.random.default_rng(3)
    forget_refs, retain_refs = refs(rng), refs(rng, -1.8)
    honest = assess_unlearning(claim(rng, -1.6), forget_refs, claim(rng, -1.8), retain_refs)
    assert honest.decision == "forgotten"
    assert honest.test.decision == "independent"
    assert honest.retain_test is not None and honest.retain_test.decision == "independent"
    # A last-layer-like cheat: a tenth of the retrains' distance on both anchor sets.
    cheat = assess_unlearning(claim(rng, -3.9), forget_refs, claim(rng, -4.1), retain_refs)
    assert cheat.decision == "not forgotten"
    assert cheat.test.p_value is not None and cheat.test.p_value < 1e-3


def test_moved_on_forget_data_but_original_on_retained_data_is_inconclusive() -> None:
    rng = np.random.default_rng(4)
    verdict = assess_unlearning(claim(rng, -1.6), refs(rng), claim(rng, -5.0), refs(rng, -1.8))
    assert verdict.decision == "inconclusive"
    assert verdict.test.decision == "independent"
    assert verdict.retain_test is not None and verdict.retain_test.decision == "derived"
    assert any("not retrained" in note for note in verdict.rests_on)


def test_unchanged_field_is_not_forgotten_even_against_wild_references() -> None:
    """References so spread out that t is weak: the IDENTICAL rule still refutes."""
    rng = np.random.default_rng(5)
    wild = [claim(rng, log_d, model_sd=0.0) for log_d in np.linspace(-4.0, 0.0, 6)]
    almost = np.full((N, S), 0.995)
    verdict = assess_unlearning(almost, wild)
    assert verdict.test.decision == "independent"  # t alone would not refute it
    assert verdict.forget_similarity >= IDENTICAL
    assert verdict.decision == "not forgotten"


def test_without_references_only_unchanged_fields_are_conclusive() -> None:
    rng = np.random.default_rng(6)
    assert assess_unlearning(identical()).decision == "not forgotten"
    for log_d in (-1.6, -3.0):
        verdict = assess_unlearning(claim(rng, log_d), claimed_retain=claim(rng, -1.8))
        assert verdict.decision == "inconclusive"
        assert verdict.retain_similarity is not None
    verdict = assess_unlearning(claim(rng, -1.6), (), claim(rng, -1.8))
    assert verdict.decision == "inconclusive" and not verdict.test.calibrated
    assert any("no reference models" in note for note in verdict.rests_on)


def test_argument_errors() -> None:
    rng = np.random.default_rng(7)
    with pytest.raises(InputError, match="at least 5"):
        assess_unlearning(claim(rng, -1.6), refs(rng, m=3))
    with pytest.raises(InputError, match="shape"):
        assess_unlearning(claim(rng, -1.6), list(claim(rng, -1.6)))  # rows are not models
    with pytest.raises(InputError, match="every reference"):
        assess_unlearning(claim(rng, -1.6), refs(rng), claim(rng, -1.8), refs(rng, m=6))


def test_verdict_dict_is_json_and_names_both_tests() -> None:
    rng = np.random.default_rng(8)
    verdict = assess_unlearning(claim(rng, -1.6), refs(rng), claim(rng, -1.8), refs(rng))
    data = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert data["decision"] == verdict.decision
    assert data["retain_test"]["p_value"] == verdict.retain_test.p_value  # type: ignore[union-attr]
    assert set(data["comparison"]) == {"forget data", "retained data"}
    assert len(data["reference_forget_similarity"]) == M


# ----------------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def digits_models() -> dict[str, object]:
    """A digits MLP original, 6 retrains without class 3, and the retrain/no-change claims."""
    torch.set_num_threads(1)
    data = load_data("digits", 0)
    x, y = data.owner.x, data.owner.y
    forget = y == 3
    config = TrainConfig(epochs=15)
    original = build_architecture("digits", "mlp", 10, 1)
    train(original, x, y, config, 1)

    def norm(module: torch.nn.Module) -> NormalizedModel:
        return normalize(module, torch.from_numpy(x[:2]), input_range=data.input_range)

    made = {m: norm(unlearn(m, original, "digits", "mlp", x, y, forget, config, 50,
                            forgotten_class=3)) for m in ("retrain", "no-change")}
    references = [norm(unlearn("retrain", original, "digits", "mlp", x, y, forget, config,
                               100 + i)) for i in range(6)]
    return {"original": norm(original), "references": references, "forget": x[forget],
            "retain": x[~forget], **made}


@pytest.mark.parametrize(("claimed", "expected"),
                         [("retrain", "forgotten"), ("no-change", "not forgotten")])
def test_audit_of_real_models(digits_models: dict[str, object], claimed: str,
                              expected: str) -> None:
    m = digits_models
    verdict = audit_unlearning(m["original"], m[claimed], m["forget"],  # type: ignore[arg-type]
                               generate_key(), retain=m["retain"],  # type: ignore[arg-type]
                               references=m["references"],  # type: ignore[arg-type]
                               n_anchors=24, field_config=FieldConfig(n_steps=4))
    assert verdict.decision == expected
    assert verdict.test.n_anchors == 24 and len(verdict.reference_forget_similarity) == 6


def test_audit_refuses_the_original_among_references(digits_models: dict[str, object]) -> None:
    m = digits_models
    references = [*m["references"], m["original"]]  # type: ignore[misc]
    with pytest.raises(InputError, match="among the reference"):
        audit_unlearning(m["original"], m["retrain"], m["forget"],  # type: ignore[arg-type]
                         generate_key(), references=references)
