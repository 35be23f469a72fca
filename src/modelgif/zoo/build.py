"""Build a zoo: schedule the plan's lineage groups, then measure and write zoo.json.

    plan_zoo ─> [Job] ─> groups (a source + its derivatives | a dataset's independents)
        ─> make_group (maker.py; in this process, or in `workers` spawned processes)
        ─> [Made] ─> ModelRecords (accuracy, agreement with parent and with every source)
        ─> zoo.json, written last

Why groups in processes: a build is hundreds of tiny single-threaded trainings; lineage
groups share nothing but the saved data splits, so two processes use two cores with results
identical to a sequential build. Determinism: every seed comes from the plan, torch and
onnxruntime run single-threaded (CPU kernels are then bit-reproducible; for these tiny
networks one thread is also the fastest), and zoo.json carries no timestamps, so the same
seed on the same library versions gives the same digests and the same zoo.json.

With `workers > 1` the processes are spawned: a script calling build_zoo must guard its
entry point with `if __name__ == "__main__":`, as multiprocessing requires.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import importlib
import importlib.metadata
import logging
import multiprocessing
import os
import queue
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch

from modelgif.errors import InputError
from modelgif.validation import check_int
from modelgif.zoo import architectures, attacks, data, maker, manifest, plan, training
from modelgif.zoo.attacks import LABEL_MAPS, map_labels
from modelgif.zoo.data import ZooData, load_data
from modelgif.zoo.maker import Made, make_group, num_classes, write_atomic
from modelgif.zoo.manifest import (
    MANIFEST_NAME,
    DatasetRecord,
    Manifest,
    ModelRecord,
    Zoo,
    read_data,
)
from modelgif.zoo.plan import Job, derive_seed, plan_zoo

__all__ = ["build_zoo", "code_hash", "library_versions", "lineage_groups"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
IntArray = npt.NDArray[np.int64]

NOTES = [
    "Ground truth: a model is derived from source S exactly when its `source` is S; "
    "independents have source null and never queried or copied a source.",
    "test_accuracy and agreement are measured by running each saved ONNX file in onnxruntime "
    "on the test split; agreement of a transfer-task model maps the ten-class predictions of "
    "the other model into its label space first.",
    "Static QDQ models are calibrated on the first calibration_samples of the owner split.",
]


def code_hash() -> str:
    """sha256 over the source of every module that decides a zoo's bytes (cache key)."""
    modules = (
        data, architectures, training, attacks, plan, maker, manifest,
        importlib.import_module("modelgif.fingerprint.normalize"),
        importlib.import_module("modelgif.fingerprint.export"),
    )  # fmt: skip
    h = hashlib.sha256(manifest.FORMAT.encode())
    h.update(Path(__file__).read_bytes())
    for module in modules:
        h.update(Path(str(module.__file__)).read_bytes())
    return f"sha256:{h.hexdigest()}"


def build_zoo(
    out: str | Path,
    size: str = "small",
    seed: int = 0,
    *,
    datasets: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    workers: int = 1,
) -> Zoo:
    """Build the zoo `size` for `seed` into the folder `out` and return it.

    `progress` is called (in this process) with each model's id once it is written;
    `workers` processes make lineage groups in parallel. An existing zoo in `out` is an
    InputError unless `overwrite`.
    """
    check_int(workers, "workers", "build_zoo()", 1, 64)
    jobs = plan_zoo(size, seed, datasets)
    hashed = code_hash()  # before any work, so it names the code that ran
    root = _prepare(Path(out), overwrite)
    infos: dict[str, DatasetRecord] = {}
    for name in dict.fromkeys(job.dataset for job in jobs):
        infos[name] = _save_data(root, load_data(name, derive_seed(seed, f"data:{name}"), size))
    groups = sorted(lineage_groups(jobs), key=lambda g: _cost(g, infos), reverse=True)
    if workers == 1 or len(groups) == 1:
        made = _run_here(root, infos, groups, progress)
    else:
        made = _run_spawned(root, infos, groups, min(workers, len(groups)), progress)
    tests = {name: read_data(root, info).test.y for name, info in infos.items()}
    result = Manifest(
        size=size,
        seed=seed,
        code_hash=hashed,
        versions=library_versions(),
        label_maps={k: list(v) for k, v in LABEL_MAPS.items()},
        datasets=infos,
        models=tuple(_records(jobs, made, tests)),
        notes=list(NOTES),
    )
    write_atomic(root / MANIFEST_NAME, result.to_json().encode())
    log.info("built %d models into %s", len(jobs), root)
    return Zoo(root, result)


def lineage_groups(jobs: list[Job]) -> list[list[Job]]:
    """Jobs split into closed groups (every parent in its group), each in plan order."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.source is not None:
            key = job.source
        elif job.category == "source":
            key = job.id
        else:
            key = f"{job.dataset}:{job.category}"
        groups.setdefault(key, []).append(job)
    return list(groups.values())


def _cost(group: list[Job], infos: dict[str, DatasetRecord]) -> float:
    """A rough CPU cost (sample-epochs), to start the longest groups first."""
    total = 0.0
    for job in group:
        config, split = job.recipe.train, job.recipe.data_split
        if config is None or split is None:
            total += 1000.0
            continue
        passes = 1 + (job.recipe.adversary_steps or 0)
        total += config.epochs * infos[job.dataset].splits[split] * passes
    return total


def _run_here(
    root: Path, infos: dict[str, DatasetRecord], groups: list[list[Job]], progress: Progress | None
) -> dict[str, Made]:
    cache: dict[str, ZooData] = {}
    made: dict[str, Made] = {}
    for group in groups:
        name = group[0].dataset
        zoo_data = cache.setdefault(name, read_data(root, infos[name]))
        made |= {m.job.id: m for m in make_group(root, zoo_data, group, progress)}
    return made


def _run_spawned(
    root: Path,
    infos: dict[str, DatasetRecord],
    groups: list[list[Job]],
    workers: int,
    progress: Progress | None,
) -> dict[str, Made]:
    context = multiprocessing.get_context("spawn")
    made: dict[str, Made] = {}
    with context.Manager() as manager:
        reports: Any = manager.Queue()
        with futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending = {
                pool.submit(_group_worker, root, infos[g[0].dataset], g, reports) for g in groups
            }
            try:
                while pending:
                    done, pending = futures.wait(pending, 0.2, futures.FIRST_COMPLETED)
                    _drain(reports, progress)
                    for future in done:
                        made |= {m.job.id: m for m in future.result()}
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        _drain(reports, progress)
    return made


def _group_worker(root: Path, info: DatasetRecord, jobs: list[Job], reports: Any) -> list[Made]:
    """Runs in a spawned process: one lineage group."""
    return make_group(root, read_data(root, info), jobs, reports.put)


def _drain(reports: Any, progress: Progress | None) -> None:
    while True:
        try:
            model_id = reports.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(model_id)


def _records(
    jobs: list[Job], made: dict[str, Made], tests: dict[str, IntArray]
) -> list[ModelRecord]:
    """Manifest records in plan order, with accuracy and agreement measured on the test split."""
    out = []
    for job in jobs:
        sources = [j.id for j in jobs if j.category == "source" and j.dataset == job.dataset]
        mine = made[job.id]
        agreement = {s: a for s in sources if (a := _agreement(mine, made[s])) is not None}
        parent_agreement = _agreement(mine, made[job.parent]) if job.parent else None
        accuracy = np.mean(mine.predictions == map_labels(tests[job.dataset], job.label_map))
        out.append(
            ModelRecord(
                id=job.id,
                dataset=job.dataset,
                category=job.category,
                parent=job.parent,
                source=job.source,
                architecture=job.architecture,
                num_classes=num_classes(job.label_map),
                label_map=job.label_map,
                recipe=job.recipe.to_dict(),
                test_accuracy=round(float(accuracy), 6),
                parent_agreement=parent_agreement,
                agreement=agreement,
                digest=mine.digest,
                file=mine.file,
                file_sha256=mine.file_sha256,
            )
        )
    return out


def _agreement(child: Made, other: Made) -> float | None:
    """Share of test inputs where both predict the same class, in the child's label space."""
    if child.job.label_map == other.job.label_map:
        theirs = other.predictions
    elif other.job.label_map is None:
        theirs = map_labels(other.predictions, child.job.label_map)
    else:
        return None
    return round(float(np.mean(child.predictions == theirs)), 6)


def _prepare(root: Path, overwrite: bool) -> Path:
    """Create `root`; refuse to build over a finished zoo unless `overwrite`."""
    if (root / MANIFEST_NAME).exists():
        if not overwrite:
            raise InputError(f"{root} already holds a zoo; pass overwrite to rebuild it.")
        (root / MANIFEST_NAME).unlink()
        for sub in ("models", "data"):
            shutil.rmtree(root / sub, ignore_errors=True)
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    return root


def _save_data(root: Path, zoo_data: ZooData) -> DatasetRecord:
    file = f"data/{zoo_data.name}.npz"
    arrays: dict[str, Any] = {}
    for name in ("owner", "attacker", "test"):
        split = zoo_data.split(name)
        arrays[f"{name}_x"], arrays[f"{name}_y"] = split.x, split.y
    tmp = root / f"{file}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, root / file)
    return DatasetRecord(
        name=zoo_data.name,
        input_shape=list(zoo_data.input_shape),
        input_range=[float(v) for v in zoo_data.input_range],
        num_classes=zoo_data.num_classes,
        splits={n: len(zoo_data.split(n)) for n in ("owner", "attacker", "test")},
        seed=zoo_data.seed,
        data_digest=zoo_data.digest(),
        file=file,
    )


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide a zoo's bytes."""
    out = {"torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__}
    for package in ("onnxruntime", "scikit-learn", "mnist1d"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out
