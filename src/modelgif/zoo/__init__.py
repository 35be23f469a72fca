"""modelgif.zoo: real trained models with ground truth, for tests, benchmarks and the demo.

    data.py           MNIST-1D (generated) and sklearn digits -> owner / attacker / test splits
    architectures.py  ZooNet(body, head): MLPs, 1-D CNNs, small 2-D CNNs; sources and students
    training.py       one deterministic training loop (hard / soft labels, frozen layers, PGD)
    attacks.py        the derivative recipes: fine-tune, fine-prune, extract, adversarial,
                      transfer, onnxruntime int8 quantization
    plan.py           size + seed -> list of Jobs (id, category, parent, source, recipe)
    maker.py          one lineage group of Jobs -> normalized ONNX files + test predictions
    build.py          schedules groups (optionally in processes) -> measured records -> zoo.json
    manifest.py       zoo.json dataclasses and `Zoo`, the reader every consumer uses
    summary.py        per-category table (BENCHMARKS.md)
    cache.py          cached_small_zoo(): the small zoo, built once per code version

    plan_zoo(size, seed) ──> [Job] ──build_zoo──> DIR/{zoo.json, models/*.onnx, data/*.npz}
                                   (lineage groups ──make_group──> [Made], 1..n processes)
                                                    └──Zoo.load(DIR)──> tests, benchmarks, demo

Ground truth: a model is derived from source S exactly when `record.source == S`;
independents (`category` "independent" / "independent-transfer") never touched a source.
Every model file is modelgif's normalized ONNX (one file, weights inline) and its digest is
recorded. The same seed on the same library versions gives the same digests.
"""

from modelgif.zoo.build import build_zoo, code_hash
from modelgif.zoo.cache import cached_small_zoo, default_cache_dir
from modelgif.zoo.data import DATASETS, ZooData, load_data
from modelgif.zoo.manifest import (
    CATEGORIES,
    DERIVED_CATEGORIES,
    INDEPENDENT_CATEGORIES,
    DatasetRecord,
    Manifest,
    ModelRecord,
    Zoo,
)
from modelgif.zoo.plan import SIZES, Job, Recipe, plan_zoo
from modelgif.zoo.summary import category_rows, markdown_table

__all__ = [
    "CATEGORIES",
    "DATASETS",
    "DERIVED_CATEGORIES",
    "INDEPENDENT_CATEGORIES",
    "SIZES",
    "DatasetRecord",
    "Job",
    "Manifest",
    "ModelRecord",
    "Recipe",
    "Zoo",
    "ZooData",
    "build_zoo",
    "cached_small_zoo",
    "category_rows",
    "code_hash",
    "default_cache_dir",
    "load_data",
    "markdown_table",
    "plan_zoo",
]
