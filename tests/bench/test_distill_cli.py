"""`modelgif bench distill`: bad input is one error line and exit 2, before any work; the
fusion candidates and the seeded deal the benchmark runs on."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelgif.bench.distill import SALT, roles
from modelgif.bench.distill_run import fusion_candidates
from modelgif.bench.splits import split_models
from modelgif.cli import main
from modelgif.zoo.fashion_zoo import FashionModel, _built, plan


def test_bad_input_exits_2_before_any_work(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["bench", "distill", "--data", str(tmp_path / "none"), "--out", str(out),
                 "--cache", str(tmp_path / "cache")]) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing was built
    out.write_text("{}")
    assert main(["bench", "distill", "--out", str(out), "--cache", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "{}"
    assert main(["bench", "distill", "--independent-seeds", "0", "--out",
                 str(tmp_path / "s.json")]) == 2
    assert main(["bench", "distill", "--out", str(tmp_path / "a"), "--rows",
                 str(tmp_path / "a")]) == 2


def test_fusion_candidates_name_their_rule_and_need_the_reference_for_three() -> None:
    full = fusion_candidates(("modelgif", "reference"))
    assert full["fusion[reference]"] == ("max", ("modelgif-T", "reference"))
    assert full["fusion3-mean[agree-errors]"] == ("mean",
                                                  ("modelgif-T", "reference", "agree-errors"))
    assert full["fusion-ref-cae[sac-m]"] == ("max", ("reference", "agree-cae", "sac-m"))
    assert full["fusion-cae[js-errors]"] == ("max", ("agree-cae", "js-errors"))
    alone = fusion_candidates(("modelgif",))
    assert alone and all("reference" not in parts for _, parts in alone.values())


def test_more_independents_keep_the_first_ids_and_the_deal_is_the_generic_splitter() -> None:
    small, large = plan(0), plan(0, independent_seeds=6)
    assert {m.id: m.recipe for m in small} == {m.id: m.recipe for m in large if m.id in
                                               {s.id for s in small}}
    assert sum(m.category == "independent" for m in large) == 24

    zoo = SimpleNamespace(seed=0, models={m.id: m for m in small})
    negative, _ = roles(zoo)  # type: ignore[arg-type]
    again = split_models(small, 0, ("fold-0", "fold-1", "selection", "fold-2", "fold-3"),
                         lambda m: f"{m.category}/{m.architecture}/"
                         f"{m.teacher or m.recipe.get('data')}", SALT)
    assert again.roles == negative
    assert set(negative.values()) == {"fold-0", "fold-1", "fold-2", "fold-3", "selection"}


def test_a_model_is_reused_only_with_the_plans_recipe(tmp_path: Path) -> None:
    model = FashionModel("ind-cnn-owner-0", "independent", "cnn", None,
                         {"data": "owner", "seed": 7})
    assert not _built(tmp_path, model)
    (tmp_path / f"{model.id}.json").write_text(json.dumps({"recipe": model.recipe}))
    assert _built(tmp_path, model)
    (tmp_path / f"{model.id}.json").write_text(json.dumps({"recipe": {"data": "owner",
                                                                      "seed": 8}}))
    assert not _built(tmp_path, model)


def test_arrays_digest_pins_values_shapes_and_order() -> None:
    import numpy as np

    from modelgif.digests import arrays_digest

    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)
    assert arrays_digest([a, b]) == arrays_digest([a.copy(order="F"), b])  # C-order bytes
    assert arrays_digest([a, b]) != arrays_digest([b, a])
    assert arrays_digest([a, b]) != arrays_digest([a + 1, b])
    assert arrays_digest([a]).startswith("sha256:") and len(arrays_digest([a])) == 71
