"""Training and the derivative recipes do what their names say, deterministically."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from modelgif.fingerprint.normalize import normalize
from modelgif.runtime import make_session
from modelgif.zoo import attacks
from modelgif.zoo.architectures import build_architecture
from modelgif.zoo.data import load_data
from modelgif.zoo.training import Adversary, TrainConfig, train

QUICK = TrainConfig(lr=2e-3, epochs=2)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_data("digits", seed=0)
    return data.owner.x[:300], data.owner.y[:300]


@pytest.fixture(scope="module")
def source(digits: tuple[np.ndarray, np.ndarray]) -> attacks.ZooNet:
    model = build_architecture("digits", "mlp", 10, seed=0)
    train(model, *digits, QUICK, seed=0)
    return model


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_is_deterministic_and_rng_clean(digits: tuple[np.ndarray, np.ndarray]) -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    runs = []
    for _ in range(2):
        model = build_architecture("digits", "cnn-small", 10, seed=4)
        runs.append(_state(train(model, *digits, QUICK, seed=7)))
    assert torch.equal(torch.rand(1), expected)
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_finetune_last_changes_only_the_head(
    source: attacks.ZooNet, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    before = _state(source)
    child = attacks.finetune_last(source, *digits, QUICK, seed=1)
    after = _state(child)
    assert all(torch.equal(before[k], v) for k, v in after.items() if not k.startswith("head"))
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert all(torch.equal(before[k], v) for k, v in _state(source).items())  # parent untouched


def test_fine_prune_keeps_pruned_units_at_zero(
    source: attacks.ZooNet, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    child = attacks.fine_prune(source, *digits, rate=0.5, config=QUICK, seed=1)
    dead = (child.head.weight == 0).all(dim=0)
    assert int(dead.sum()) == round(0.5 * child.head.in_features)
    assert (child.hidden.weight[dead] == 0).all() and (child.hidden.bias[dead] == 0).all()


def test_transfer_has_the_regrouped_label_space(
    source: attacks.ZooNet, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    child = attacks.transfer(source, *digits, "low-high", QUICK, seed=1)
    assert child.head.out_features == 2
    assert attacks.map_labels(np.arange(10), "mod5").tolist() == [0, 1, 2, 3, 4] * 2


def test_extraction_uses_soft_or_hard_teacher_outputs(
    source: attacks.ZooNet, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = digits
    logits = attacks.teacher_outputs(source, x)
    hard = attacks.extract(build_architecture("digits", "lenet", 10, 3), logits, x, False,
                           QUICK, seed=3)
    soft = attacks.extract(build_architecture("digits", "lenet", 10, 3), logits, x, True,
                           QUICK, seed=3)
    assert not torch.equal(hard.head.weight, soft.head.weight)


def test_adversarial_examples_stay_in_the_box(source: attacks.ZooNet) -> None:
    x = torch.rand(16, 1, 8, 8)
    adversary = Adversary(eps=0.1, steps=3, input_range=(0.0, 1.0))
    x_adv = adversary.perturb(source, x, torch.zeros(16, dtype=torch.int64))
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0


def test_quantizers_emit_int8_models_that_agree(
    source: attacks.ZooNet, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = digits
    float_model = normalize(source, torch.from_numpy(x[:2]), input_range=(0.0, 1.0))
    copy = float_model.to_bytes()
    dynamic = attacks.quantize_dynamic_int8(float_model.model)
    static = attacks.quantize_static_qdq_int8(float_model.model, x[:128])
    assert float_model.to_bytes() == copy  # the quantizers did not modify their input
    assert "DynamicQuantizeLinear" in {n.op_type for n in dynamic.graph.node}
    assert "QuantizeLinear" in {n.op_type for n in static.graph.node}
    reference = _predict(float_model.model, x)
    for quantized in (dynamic, static):
        normalized = normalize(quantized, input_range=(0.0, 1.0))
        assert np.mean(_predict(normalized.model, x) == reference) > 0.9


def _predict(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = make_session(model.SerializeToString(), threads=1)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0]).argmax(axis=1)
