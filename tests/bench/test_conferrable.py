"""Conferrable probes of the distillation benchmark, on a shrunken owner data set: they stay
in the input box and the radius, the teacher picks each probe's target, a rebuild is the
same, the cache is used, and a suspect's logits come from its ONNX file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch

from modelgif.bench import conferrable as C
from modelgif.fingerprint.normalize import normalize
from modelgif.zoo.fashion_zoo import fashion_net
from modelgif.zoo.training import predict_logits


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("BANK_OWNER", (0, 60)), ("HELD_BACK", (60, 200)),
                        ("SHADOW_QUERIES", 80), ("CANDIDATES", 40), ("STEPS", 4),
                        ("N_PROBES", 6)):
        monkeypatch.setattr(C, name, value)


def _zoo(root: Path) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (200, 1, 28, 28)).astype(np.float32)
    owner = SimpleNamespace(x=x, y=rng.integers(0, 10, 200))
    return SimpleNamespace(seed=0, root=root, data=SimpleNamespace(owner=owner),
                           onnx_path=lambda mid: root / f"{mid}.onnx")


@pytest.mark.usefixtures("small")
def test_probes_are_the_teachers_targets_near_owner_images_and_rebuild_the_same(
        tmp_path: Path) -> None:
    teacher = fashion_net("cnn", 3)
    zoo = _zoo(tmp_path / "a")
    x, target = C.conferrable_probes(zoo, "t0", teacher)  # type: ignore[arg-type]
    assert x.shape == (6, 1, 28, 28) and target.shape == (6,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    bank = zoo.data.owner.x[:60]
    nearest = np.abs(x[:, None] - bank[None]).reshape(6, 60, -1).max(axis=2).min(axis=1)
    assert np.all(nearest <= C.EPSILON + 1e-6)  # each probe within the radius of a bank image
    hits = predict_logits(teacher, x).argmax(1).numpy() == target
    assert hits.mean() >= 0.5  # the teacher mostly takes the target it was pushed to

    cached = C.conferrable_probes(zoo, "t0", fashion_net("pool", 9))  # type: ignore[arg-type]
    assert np.array_equal(cached[0], x)  # read back, not rebuilt with the other teacher
    again = C.conferrable_probes(_zoo(tmp_path / "b"), "t0", teacher)  # type: ignore[arg-type]
    assert np.array_equal(again[0], x) and np.array_equal(again[1], target)


@pytest.mark.usefixtures("small")
def test_another_recipe_is_rebuilt_not_read_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = _zoo(tmp_path)
    C.conferrable_probes(zoo, "t0", fashion_net("cnn", 3))  # type: ignore[arg-type]
    monkeypatch.setattr(C, "N_PROBES", 4)
    x, _ = C.conferrable_probes(zoo, "t0", fashion_net("cnn", 3))  # type: ignore[arg-type]
    assert len(x) == 4


def test_suspect_logits_are_the_onnx_files(tmp_path: Path) -> None:
    net = fashion_net("pool", 1)
    model = normalize(net, torch.zeros(1, 1, 28, 28), input_range=(0.0, 1.0)).model
    onnx.save(model, str(tmp_path / "s.onnx"))
    x = np.random.default_rng(1).uniform(0, 1, (5, 1, 28, 28)).astype(np.float32)
    got = C.suspect_logits(_zoo(tmp_path), "s", x)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, predict_logits(net, x).numpy(), atol=1e-4)
