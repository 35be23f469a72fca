"""The Fashion-MNIST distillation zoo's plan and recipes (no training: that is the benchmark)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from modelgif.zoo.fashion_zoo import _student_targets, fashion_net, plan


def test_plan_has_every_teacher_lineage_and_negatives() -> None:
    models = plan(0)
    assert Counter(m.category for m in models) == {
        "teacher": 3, "student": 36, "thief": 36, "independent": 12}
    assert len({m.id for m in models}) == len(models)
    for teacher in ("t0", "t1", "t2"):
        mine = [m for m in models if m.teacher == teacher]
        assert {m.architecture for m in mine if m.category == "student"} == {"cnn", "pool"}
        assert {m.recipe["noise_share"] for m in mine if m.category == "thief"} == {0.0, 0.3, 0.6}
    assert [m.recipe["seed"] for m in plan(0)] == [m.recipe["seed"] for m in models]
    assert [m.recipe["seed"] for m in plan(1)] != [m.recipe["seed"] for m in models]


def test_students_see_only_what_the_api_returns() -> None:
    logits = np.array([[3.0, 2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 5.0, 1.0, 0.5]], dtype=np.float32)
    soft = _student_targets(logits, "soft")
    top3 = _student_targets(logits, "top3")
    hard = _student_targets(logits, "hard")
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(top3.sum(1), 1.0, rtol=1e-6)
    assert (np.count_nonzero(top3, axis=1) == 3).all()
    assert top3[0, 3] == 0.0 and top3[0, 4] == 0.0
    assert hard.tolist() == [0, 2]


def test_architectures_map_images_to_ten_logits() -> None:
    for name in ("cnn", "pool"):
        out = fashion_net(name, 0)(torch.zeros(2, 1, 28, 28))
        assert out.shape == (2, 10)
