"""The built small zoo: its manifest's ground truth matches how each model was made.

The checks read the ONNX files themselves (weights, ops, outputs), not just the manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.normalize import normalize
from modelgif.runtime import make_session
from modelgif.zoo import DERIVED_CATEGORIES, Manifest, Zoo, build_zoo, plan_zoo
from modelgif.zoo.attacks import map_labels
from modelgif.zoo.build import _run_spawned
from modelgif.zoo.cache import _reuse
from modelgif.zoo.data import load_data
from modelgif.zoo.plan import derive_seed

METHOD_OF = {
    "source": {"train"},
    "independent": {"train"},
    "independent-transfer": {"train"},
    "finetune-a": {"finetune-all"},
    "finetune-l": {"finetune-last"},
    "pruned": {"fine-prune"},
    "extract-p": {"extract-soft"},
    "extract-l": {"extract-hard"},
    "extract-adv": {"adversarial"},
    "transfer": {"transfer"},
    "quantized": {"quantize-dynamic-int8", "quantize-static-qdq-int8"},
    "reexported": {"reexport"},
}


def _weights(zoo: Zoo, model_id: str) -> list[np.ndarray]:
    model = onnx.load_from_string(zoo.model_bytes(model_id))
    return [numpy_helper.to_array(t) for t in model.graph.initializer]


def _predict(zoo: Zoo, model_id: str) -> np.ndarray:
    record = zoo.get(model_id)
    session = make_session(zoo.model_bytes(record), threads=1)
    x = zoo.data(record.dataset).test.x
    return np.asarray(session.run(None, {"input": x})[0]).argmax(axis=1)


def test_manifest_matches_the_plan(small_zoo: Zoo) -> None:
    jobs = plan_zoo("small", small_zoo.manifest.seed)
    assert [j.id for j in jobs] == [m.id for m in small_zoo.models]
    for job, record in zip(jobs, small_zoo.models, strict=True):
        assert (record.category, record.parent, record.source) == (
            job.category, job.parent, job.source)
        assert record.recipe == job.recipe.to_dict()
        assert record.recipe["method"] in METHOD_OF[record.category]


def test_files_are_normalized_and_intact(small_zoo: Zoo) -> None:
    small_zoo.verify()
    for record in small_zoo.models:
        path = small_zoo.path(record)
        assert path.suffix == ".onnx" and not list(path.parent.glob("*.data"))
        model = onnx.load_from_string(small_zoo.model_bytes(record))
        assert all(t.data_location == onnx.TensorProto.DEFAULT for t in model.graph.initializer)
    for record in small_zoo.models[:4]:  # re-normalizing a normalized file is the identity
        assert normalize(small_zoo.path(record)).digest == record.digest


def test_lineage_resolves_to_sources(small_zoo: Zoo) -> None:
    for record in small_zoo.models:
        if record.category in DERIVED_CATEGORIES:
            node = record
            while node.parent is not None:
                node = small_zoo.get(node.parent)
            assert node.category == "source" and node.id == record.source
            assert record.derived
        else:
            assert not record.derived and record.parent is None


def test_measured_accuracy_is_reproducible_from_the_file(small_zoo: Zoo) -> None:
    for record in small_zoo.models[::5]:
        truth = map_labels(small_zoo.data(record.dataset).test.y, record.label_map)
        accuracy = float(np.mean(_predict(small_zoo, record.id) == truth))
        assert accuracy == pytest.approx(record.test_accuracy, abs=1e-6)


def test_sources_learned_their_task(small_zoo: Zoo) -> None:
    for source in small_zoo.sources():
        assert source.test_accuracy > 0.8


def test_finetune_l_keeps_every_weight_but_the_head(small_zoo: Zoo) -> None:
    for record in small_zoo.select(category="finetune-l"):
        mine, theirs = _weights(small_zoo, record.id), _weights(small_zoo, record.parent or "")
        same = [np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True)]
        assert not all(same) and sum(not s for s in same) <= 2  # head weight and bias


def test_finetune_a_changes_the_body(small_zoo: Zoo) -> None:
    for record in small_zoo.select(category="finetune-a"):
        mine, theirs = _weights(small_zoo, record.id), _weights(small_zoo, record.parent or "")
        assert sum(not np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True)) > 2
        assert record.parent_agreement is not None and record.parent_agreement > 0.8


def test_pruned_models_have_dead_units(small_zoo: Zoo) -> None:
    for record in small_zoo.select(category="pruned"):
        head = _weights(small_zoo, record.id)[-2]  # head weight: (classes, hidden)
        dead = np.all(head == 0, axis=0).mean()
        assert dead == pytest.approx(record.recipe["prune_rate"], abs=0.02)


def test_quantized_models_are_int8_and_close_to_their_parent(small_zoo: Zoo) -> None:
    records = small_zoo.select(category="quantized")
    assert {r.recipe["method"] for r in records} == {"quantize-dynamic-int8",
                                                     "quantize-static-qdq-int8"}
    for record in records:
        model = onnx.load_from_string(small_zoo.model_bytes(record))
        ops = {n.op_type for n in model.graph.node}
        assert ops & {"DynamicQuantizeLinear", "QuantizeLinear", "MatMulInteger", "ConvInteger"}
        assert record.parent_agreement is not None and record.parent_agreement > 0.9


def test_reexported_models_compute_the_same_function(small_zoo: Zoo) -> None:
    for record in small_zoo.select(category="reexported"):
        assert record.recipe["exporter"] == "dynamo"
        assert record.parent_agreement == 1.0
        assert np.array_equal(_predict(small_zoo, record.id),
                              _predict(small_zoo, record.parent or ""))


def test_transfer_models_have_the_regrouped_label_space(small_zoo: Zoo) -> None:
    for category in ("transfer", "independent-transfer"):
        for record in small_zoo.select(category=category):
            assert record.label_map in small_zoo.manifest.label_maps
            assert record.num_classes == len(set(small_zoo.manifest.label_maps[record.label_map]))
            outputs = onnx.load_from_string(small_zoo.model_bytes(record)).graph.output[0]
            assert outputs.type.tensor_type.shape.dim[1].dim_value == record.num_classes


def test_extraction_students_only_queried_their_source(small_zoo: Zoo) -> None:
    for category in ("extract-p", "extract-l", "extract-adv"):
        for record in small_zoo.select(category=category):
            assert record.recipe["teacher"] == record.source
            assert record.recipe["data_split"] == "attacker"


def test_independents_are_independent(small_zoo: Zoo) -> None:
    sources = {s.architecture: s for s in small_zoo.sources()}
    independents = small_zoo.select(category=("independent", "independent-transfer"))
    assert len(small_zoo.select(category="independent")) >= 6
    for record in independents:
        assert record.parent is None and record.source is None
        assert "teacher" not in record.recipe
        assert record.recipe["data_split"] in ("owner", "attacker")
        source = sources.get(record.architecture)
        if source is not None and record.label_map is None:  # same architecture, other seed
            assert record.recipe["seed"] != source.recipe["seed"]
            mine, theirs = _weights(small_zoo, record.id), _weights(small_zoo, source.id)
            assert not any(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    assert {r.recipe["data_split"] for r in independents} == {"owner", "attacker"}


def test_manifest_round_trips_and_rejects_foreign_json(small_zoo: Zoo) -> None:
    text = (small_zoo.root / "zoo.json").read_text()
    assert Manifest.from_json(text).to_json() == text
    with pytest.raises(InputError):
        Manifest.from_json(json.dumps({"format": "other"}))
    with pytest.raises(InputError):
        Manifest.from_json("{not json")


def test_tampering_is_detected(small_zoo: Zoo, tmp_path: Path) -> None:
    copy = tmp_path / "zoo"
    shutil.copytree(small_zoo.root, copy)
    victim = copy / small_zoo.models[0].file
    blob = bytearray(victim.read_bytes())
    blob[-1] ^= 1
    victim.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        Zoo.load(copy).verify()
    assert _reuse(copy) is None  # the cache would rebuild it
    assert _reuse(tmp_path / "absent") is None


def test_building_over_a_zoo_needs_overwrite(small_zoo: Zoo, tmp_path: Path) -> None:
    (tmp_path / "zoo.json").write_text("{}")
    with pytest.raises(InputError, match="overwrite"):
        build_zoo(tmp_path, "small", 0)


def test_the_same_seed_rebuilds_the_same_data(small_zoo: Zoo) -> None:
    """Every dataset of the zoo is regenerated from its seed, byte for byte."""
    seed = small_zoo.manifest.seed
    for name, info in small_zoo.manifest.datasets.items():
        rebuilt = load_data(name, derive_seed(seed, f"data:{name}"), small_zoo.manifest.size)
        assert rebuilt.digest() == info.data_digest
    other = load_data("mnist1d", derive_seed(seed + 1, "data:mnist1d"), small_zoo.manifest.size)
    assert other.digest() != small_zoo.manifest.datasets["mnist1d"].data_digest


def test_spawned_workers_rebuild_models_bit_for_bit(small_zoo: Zoo, tmp_path: Path) -> None:
    """Two spawned worker processes remake models of the serial build the cache holds: the
    same ONNX bytes. (Two models without parents, the cheapest to train, so the check costs
    seconds, not a whole zoo rebuild; every model is made by the same code path.)"""
    shutil.copytree(small_zoo.root / "data", tmp_path / "data")
    (tmp_path / "models").mkdir()
    jobs = {job.id: job for job in plan_zoo("small", small_zoo.manifest.seed)}
    chosen = ["mnist1d.ind-mlp-owner-0", "mnist1d.ind-mlp-attacker-0"]
    made = _run_spawned(tmp_path, dict(small_zoo.manifest.datasets),
                        [[jobs[i]] for i in chosen], 2, None)
    assert sorted(made) == sorted(chosen)
    for model_id, remade in made.items():
        record = small_zoo.get(model_id)
        assert (remade.digest, remade.file_sha256) == (record.digest, record.file_sha256)
        assert (tmp_path / remade.file).read_bytes() == (small_zoo.root / record.file).read_bytes()
