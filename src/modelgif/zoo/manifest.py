"""zoo.json: the ground truth of a model zoo, and `Zoo`, the object that reads it.

Why a manifest: every benchmark and test asks "was this model derived from that source, and
how?". The answer is recorded once, when the model is made, next to the measured facts
(test accuracy, agreement with its parent and with each source of its dataset) and the
digest of the normalized ONNX file, so a consumer never re-derives lineage from names.

    zoo/
      zoo.json                 Manifest: format, size, seed, code hash, datasets, models
      models/<id>.onnx         one normalized, self-contained ONNX file per model
      data/<dataset>.npz       the owner / attacker / test splits the models were made from

Ground truth: `ModelRecord.source` is the id of the source model a suspect was derived
from (None for independents and for sources themselves); `parent` is the model it was made
from directly (e.g. the Extract-L student an Extract-Adv model was trained from).
zoo.json is written last, so its presence marks a complete build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.errors import InputError, IntegrityError
from modelgif.zoo.data import Split, ZooData

__all__ = [
    "CATEGORIES",
    "DERIVED_CATEGORIES",
    "FORMAT",
    "INDEPENDENT_CATEGORIES",
    "DatasetRecord",
    "Manifest",
    "ModelRecord",
    "Zoo",
    "read_data",
]

FORMAT = "modelgif-zoo/1"
MANIFEST_NAME = "zoo.json"

DERIVED_CATEGORIES = (
    "finetune-a",
    "finetune-l",
    "pruned",
    "extract-p",
    "extract-l",
    "extract-adv",
    "transfer",
    "quantized",
    "reexported",
)
"""Categories of models derived from a source (their `source` field names it)."""

INDEPENDENT_CATEGORIES = ("independent", "independent-transfer")
"""Categories of models made without any access to a source."""

CATEGORIES = ("source", *DERIVED_CATEGORIES, *INDEPENDENT_CATEGORIES)


@dataclass(frozen=True)
class ModelRecord:
    """One model of the zoo: what it is, how it was made, what it measures."""

    id: str
    dataset: str
    category: str
    parent: str | None
    source: str | None
    architecture: str
    num_classes: int
    label_map: str | None
    recipe: dict[str, Any]
    test_accuracy: float
    parent_agreement: float | None
    agreement: dict[str, float]
    digest: str
    file: str
    file_sha256: str

    @property
    def derived(self) -> bool:
        """True when the model was made from a source (ground truth for ownership)."""
        return self.source is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRecord:
        """The record in `data`; InputError if a field is missing or unknown."""
        record: ModelRecord = _from_dict(cls, data)
        return record


@dataclass(frozen=True)
class DatasetRecord:
    """What a consumer of the zoo must know about one dataset."""

    name: str
    input_shape: list[int]
    input_range: list[float]
    num_classes: int
    splits: dict[str, int]
    seed: int
    data_digest: str
    file: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetRecord:
        """The record in `data`; InputError if a field is missing or unknown."""
        record: DatasetRecord = _from_dict(cls, data)
        return record


@dataclass(frozen=True)
class Manifest:
    """The whole of zoo.json."""

    size: str
    seed: int
    code_hash: str
    versions: dict[str, str]
    label_maps: dict[str, list[int]]
    datasets: dict[str, DatasetRecord]
    models: tuple[ModelRecord, ...]
    format: str = FORMAT
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys, fixed indentation, trailing newline)."""
        data = {
            "format": self.format,
            "size": self.size,
            "seed": self.seed,
            "code_hash": self.code_hash,
            "versions": self.versions,
            "label_maps": self.label_maps,
            "notes": self.notes,
            "datasets": {k: v.to_dict() for k, v in self.datasets.items()},
            "models": [m.to_dict() for m in self.models],
        }
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse zoo.json text; InputError when it is not a zoo manifest of this format."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"zoo.json is not JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"zoo.json is not a {FORMAT} manifest.")
        try:
            return cls(
                size=str(data["size"]),
                seed=int(data["seed"]),
                code_hash=str(data["code_hash"]),
                versions=dict(data["versions"]),
                label_maps={k: list(v) for k, v in data["label_maps"].items()},
                datasets={k: DatasetRecord.from_dict(v) for k, v in data["datasets"].items()},
                models=tuple(ModelRecord.from_dict(m) for m in data["models"]),
                format=FORMAT,
                notes=list(data.get("notes", [])),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InputError(f"zoo.json is malformed: {error!r}") from None


def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    names = set(cls.__dataclass_fields__)
    if not isinstance(data, dict) or set(data) != names:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"A {cls.__name__} needs the fields {sorted(names)}; got {got}.")
    return cls(**data)


@dataclass(frozen=True)
class Zoo:
    """A built zoo on disk: its manifest plus accessors for models and data."""

    root: Path
    manifest: Manifest

    @classmethod
    def load(cls, root: str | Path) -> Zoo:
        """Read `root`/zoo.json; InputError when there is no complete zoo there."""
        root = Path(root)
        path = root / MANIFEST_NAME
        if not path.is_file():
            raise InputError(f"No zoo at {root}: {MANIFEST_NAME} is missing.")
        return cls(root, Manifest.from_json(path.read_text(encoding="utf-8")))

    @property
    def models(self) -> tuple[ModelRecord, ...]:
        """Every model, in build order."""
        return self.manifest.models

    def select(
        self,
        *,
        dataset: str | None = None,
        category: str | Iterable[str] | None = None,
        source: str | None = None,
    ) -> list[ModelRecord]:
        """Models matching every filter given (category: one name or several)."""
        wanted = {category} if isinstance(category, str) else None
        if category is not None and not isinstance(category, str):
            wanted = set(category)
        return [
            m
            for m in self.models
            if (dataset is None or m.dataset == dataset)
            and (wanted is None or m.category in wanted)
            and (source is None or m.source == source)
        ]

    def get(self, model_id: str) -> ModelRecord:
        """The model called `model_id`."""
        for record in self.models:
            if record.id == model_id:
                return record
        raise InputError(f"The zoo at {self.root} has no model {model_id!r}.")

    def sources(self, dataset: str | None = None) -> list[ModelRecord]:
        """The owner's source models."""
        return self.select(dataset=dataset, category="source")

    def derived_from(self, source_id: str) -> list[ModelRecord]:
        """Every model derived from `source_id` (ground truth: positives)."""
        return self.select(source=source_id)

    def independents(self, dataset: str, *, transfer: bool = False) -> list[ModelRecord]:
        """Models of `dataset` made without any source (negatives); with `transfer`, the
        independent transfer-task models instead of the ten-class ones."""
        return self.select(
            dataset=dataset, category="independent-transfer" if transfer else "independent"
        )

    def path(self, model: str | ModelRecord) -> Path:
        """The ONNX file of `model` (a record or an id)."""
        record = self.get(model) if isinstance(model, str) else model
        return self.root / record.file

    def model_bytes(self, model: str | ModelRecord, *, verify: bool = True) -> bytes:
        """The normalized ONNX bytes of `model`; IntegrityError when they do not match."""
        record = self.get(model) if isinstance(model, str) else model
        data = self.path(record).read_bytes()
        if verify and hashlib.sha256(data).hexdigest() != record.file_sha256:
            raise IntegrityError("A zoo model file does not match its manifest.")
        return data

    def data(self, dataset: str) -> ZooData:
        """The splits `dataset`'s models were made from, as saved with the zoo."""
        try:
            info = self.manifest.datasets[dataset]
        except KeyError:
            raise InputError(f"The zoo at {self.root} has no dataset {dataset!r}.") from None
        return read_data(self.root, info)

    def verify(self) -> None:
        """Check every model and data file against the manifest (IntegrityError if not)."""
        for record in self.models:
            self.model_bytes(record, verify=True)
        for name in self.manifest.datasets:
            self.data(name)


def read_data(root: Path, info: DatasetRecord) -> ZooData:
    """The splits saved at `root`/`info.file`; IntegrityError if they differ from the record."""
    with np.load(root / info.file) as arrays:
        splits = {
            name: Split(
                arrays[f"{name}_x"].astype(np.float32), arrays[f"{name}_y"].astype(np.int64)
            )
            for name in ("owner", "attacker", "test")
        }
    low, high = info.input_range
    data = ZooData(
        name=info.name,  # type: ignore[arg-type]
        owner=splits["owner"],
        attacker=splits["attacker"],
        test=splits["test"],
        input_shape=tuple(info.input_shape),
        input_range=(float(low), float(high)),
        num_classes=info.num_classes,
        seed=info.seed,
    )
    if data.digest() != info.data_digest:
        raise IntegrityError("A zoo data file does not match its manifest.")
    return data
