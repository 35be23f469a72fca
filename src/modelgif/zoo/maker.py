"""Make the models of one lineage group: train or transform, normalize, save, predict.

Why groups: a source and everything derived from it form a closed group (every parent is
inside it), and so do a dataset's independents. Groups share nothing but the saved data
splits, so they can be made in separate processes with identical results; the builder
(build.py) schedules them and turns what they return into manifest records.

Extraction attacks query the teacher *through its normalized ONNX file*, as an attacker
with API access would; white-box attacks (fine-tuning, pruning, transfer, re-export) start
from the parent's torch weights, as a thief holding the weights would. Predictions on the
test split come from running each saved ONNX file in onnxruntime, so they describe the exact
artifact that a fingerprint will be computed from (quantized models included).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from modelgif.atomic_write import write_file
from modelgif.errors import InputError
from modelgif.fingerprint.export import Exporter
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.runtime import make_session
from modelgif.zoo import attacks, training
from modelgif.zoo.architectures import ZooNet, build_architecture
from modelgif.zoo.attacks import LABEL_MAPS, map_labels
from modelgif.zoo.data import NUM_CLASSES, ZooData
from modelgif.zoo.plan import Job, derive_seed
from modelgif.zoo.training import Adversary, TrainConfig

__all__ = [
    "Made",
    "build_runtime",
    "make_group",
    "num_classes",
    "write_atomic",
]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")


@dataclass(frozen=True)
class Made:
    """What the builder needs of one made model (small and picklable)."""

    job: Job
    digest: str
    file: str
    file_sha256: str
    predictions: IntArray


def make_group(
    root: Path, zoo_data: ZooData, jobs: list[Job], report: Callable[[str], None] | None = None
) -> list[Made]:
    """Make `jobs` (one lineage group, parents first) into `root`/models; `report(id)` each."""
    maker = _GroupMaker(root, zoo_data)
    out = []
    with build_runtime():
        for job in jobs:
            out.append(maker.run(job))
            if report is not None:
                report(job.id)
    return out


def num_classes(label_map: str | None) -> int:
    """Output width of a model trained for `label_map` (None: the ten digit classes)."""
    return NUM_CLASSES if label_map is None else len(set(LABEL_MAPS[label_map]))


@contextlib.contextmanager
def build_runtime() -> Iterator[None]:
    """One torch thread (determinism) and quiet exporters; both restored afterwards."""
    threads = torch.get_num_threads()
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    torch.set_num_threads(1)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class _GroupMaker:
    """Runs the jobs of one group, in plan order (parents first)."""

    def __init__(self, root: Path, zoo_data: ZooData) -> None:
        self.root, self.data = root, zoo_data
        self.example = torch.from_numpy(zoo_data.owner.x[:2])
        self.modules: dict[str, ZooNet] = {}
        self.normalized: dict[str, NormalizedModel] = {}
        self.teacher_logits: dict[str, FloatArray] = {}

    def run(self, job: Job) -> Made:
        normalized = self._make(job)
        self.normalized[job.id] = normalized
        blob = normalized.to_bytes()
        file = f"models/{job.id}.onnx"
        write_atomic(self.root / file, blob)
        predictions = _run_onnx(blob, self.data.test.x).argmax(axis=1).astype(np.int64)
        log.debug("made %s", job.id)
        return Made(job, normalized.digest, file, hashlib.sha256(blob).hexdigest(), predictions)

    def _make(self, job: Job) -> NormalizedModel:
        method = job.recipe.method
        if method.startswith("quantize-"):
            return self._quantize(job)
        if method == "reexport":
            module = self.modules[_parent(job)]
        else:
            module = self._train(job)
            self.modules[job.id] = module
        exporter: Exporter = "dynamo" if job.recipe.exporter == "dynamo" else "legacy"
        return normalize(
            module, self.example, exporter=exporter, input_range=self.data.input_range
        )

    def _train(self, job: Job) -> ZooNet:
        recipe, method = job.recipe, job.recipe.method
        config = recipe.train or TrainConfig()
        seed = derive_seed(recipe.seed, "train")
        split = self.data.split(recipe.data_split or "attacker")
        x, y = split.x, split.y
        if method == "train":
            model = self._fresh(job)
            training.train(model, x, map_labels(y, job.label_map), config, seed)
            return model
        if method in ("extract-soft", "extract-hard"):
            logits = self._teacher(recipe.teacher or _parent(job), x)
            soft = method == "extract-soft"
            return attacks.extract(self._fresh(job), logits, x, soft, config, seed)
        parent = self.modules[_parent(job)]
        if method == "finetune-all":
            return attacks.finetune_all(parent, x, y, config, seed)
        if method == "finetune-last":
            return attacks.finetune_last(parent, x, y, config, seed)
        if method == "fine-prune":
            return attacks.fine_prune(parent, x, y, recipe.prune_rate or 0.5, config, seed)
        if method == "transfer":
            return attacks.transfer(parent, x, y, job.label_map or "", config, seed)
        if method == "adversarial":
            labels = self._teacher(recipe.teacher or _parent(job), x).argmax(axis=1)
            adversary = Adversary(
                recipe.adversary_eps or 0.0, recipe.adversary_steps or 1, self.data.input_range
            )
            return attacks.adversarial(
                parent, x, labels.astype(np.int64), adversary, config, seed
            )
        raise InputError(f"Unknown zoo recipe method {method!r} in job {job.id}.")

    def _quantize(self, job: Job) -> NormalizedModel:
        parent = self.normalized[_parent(job)].model
        if job.recipe.method == "quantize-dynamic-int8":
            quantized = attacks.quantize_dynamic_int8(parent)
        else:
            split = self.data.split(job.recipe.calibration_split or "owner")
            calibration = split.x[: job.recipe.calibration_samples or 256]
            quantized = attacks.quantize_static_qdq_int8(parent, calibration)
        return normalize(quantized, input_range=self.data.input_range)

    def _fresh(self, job: Job) -> ZooNet:
        seed = derive_seed(job.recipe.seed, "init")
        return build_architecture(
            job.dataset, job.architecture, num_classes(job.label_map), seed
        )

    def _teacher(self, teacher_id: str, x: FloatArray) -> FloatArray:
        """The teacher's logits on the attacker's queries, from its normalized ONNX file."""
        if teacher_id not in self.teacher_logits:
            blob = self.normalized[teacher_id].to_bytes()
            self.teacher_logits[teacher_id] = _run_onnx(blob, x)
        return self.teacher_logits[teacher_id]


def _run_onnx(blob: bytes, x: FloatArray) -> FloatArray:
    session = make_session(blob, providers=["CPUExecutionProvider"], threads=1)
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: x})[0], dtype=np.float32)


def _parent(job: Job) -> str:
    if job.parent is None:
        raise InputError(f"Zoo job {job.id} needs a parent model.")
    return job.parent


def write_atomic(path: Path, blob: bytes) -> None:
    """Replace `path` with `blob` atomically (the zoo's own files; see atomic_write)."""
    write_file(path, blob, force=True)
