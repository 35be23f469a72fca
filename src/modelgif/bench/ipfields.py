"""Owner fingerprints and suspects' per-(anchor, step) cosines for the IP benchmark, cached.

Why a cache: one comparison recomputes a suspect's field (a few seconds white-box, more
black-box, up to a minute for a dynamically quantized model); the full zoo has ~500
(source, suspect) pairs per setting. Cosines are stored per (setting, source, model) under
the output folder, keyed by a hash of everything that changes them, so a rerun (another
statistic, another table) costs nothing and an interrupted run resumes.

Why the fingerprints are made deterministically: the benchmark must be reproducible, so
each owner key and fingerprint id is derived from the benchmark seed and the source id
(a real owner draws them at random). Anchors are computed once at the largest anchor count;
since anchor n depends only on the secret and n (fingerprint/anchors.py), the first N
anchors ARE the anchors of an N-anchor fingerprint with the same key and id, so smaller
settings are prefixes (a test checks this against a real N-anchor fingerprint).

The comparison itself is the library's: `compare_suspect` (what `verify_suspect` runs),
which picks the exact, black-box or coarse (quantized) estimator from the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ed25519

from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import (
    OWNERSHIP_ANCHORS,
    OWNERSHIP_FIELD,
    FingerprintSecrets,
    create_fingerprint,
    open_secrets,
)
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.verifiers.ownership import compare_suspect
from modelgif.zoo.manifest import ModelRecord, Zoo

__all__ = ["SETTINGS", "OwnerFingerprint", "Setting", "SuspectCosines", "owner_fingerprint",
           "suspect_cosines"]

CREATED_AT = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_ANCHORS = OWNERSHIP_ANCHORS.source
DEFAULT_TARGET = OWNERSHIP_FIELD.target


@dataclass(frozen=True)
class Setting:
    """One row group of the table: how the owner fingerprints and how suspects are measured.

    `fingerprint` names the owner fingerprint (settings that share it share anchors);
    `backend` is the suspect's estimator ("auto" = exact gradients for float ONNX).
    `calibrated` False = the reference method: raw mean cosine distance, no null.
    `max_anchors` caps the fingerprint of a costly setting (black-box: 2 D model calls per
    path point; the reference: 50 steps); its anchors are then the same prefix of the same
    secret anchors. `skip_categories`: the reference method has no estimator for integer
    (quantized) models, whose gradients are zero almost everywhere. `category_max_anchors`:
    quantized suspects are measured by black-box differences at the coarse eps (about 30 s
    per suspect at 256 anchors on 2 CPU cores), so they are run at 64 anchors.
    """

    name: str
    title: str
    fingerprint: str
    anchor_source: str
    n_steps: int
    backend: str
    calibrated: bool
    full_field: bool = False
    max_anchors: int | None = None  # cost cap: larger anchor counts are not run
    skip_categories: tuple[str, ...] = ()  # categories the setting has no estimator for
    category_max_anchors: tuple[tuple[str, int], ...] = ()  # per-category cost caps
    target: str = "top1"  # the scalar whose gradient is the field (targets.py)

    def field_config(self, input_dim: int) -> FieldConfig:
        base = FieldConfig(n_steps=self.n_steps, target=self.target)
        if not self.full_field:
            return base
        return replace(base, sketch_dim=max(base.sketch_dim, input_dim))


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("reference", "reference (full field, 50 GL steps, top-1, mean distance)",
                "reference", "subset", 50, "exact", calibrated=False, full_field=True,
                max_anchors=128, skip_categories=("quantized",), target="top1"),
        Setting("whitebox", "modelgif defaults, white-box", "default", DEFAULT_ANCHORS, 16,
                "auto", calibrated=True, category_max_anchors=(("quantized", 64),),
                target=DEFAULT_TARGET),
        Setting("blackbox", "modelgif defaults, black-box", "default", DEFAULT_ANCHORS, 16,
                "blackbox", calibrated=True, max_anchors=64, target=DEFAULT_TARGET),
        # the alternatives the defaults were chosen against (docs/STATISTICS.md)
        Setting("whitebox-logsumexp", "white-box, log-sum-exp target", "default",
                DEFAULT_ANCHORS, 16, "auto", calibrated=True,
                category_max_anchors=(("quantized", 64),), target="logsumexp"),
        Setting("whitebox-augmented", "white-box, augmented owner-data anchors, top-1 target",
                "augmented", "augmented", 16, "auto", calibrated=True,
                category_max_anchors=(("quantized", 64),), target="top1"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class OwnerFingerprint:
    """A source's fingerprint for one setting, opened, and where it lies."""

    path: Path
    fingerprint: Fingerprint
    secrets: FingerprintSecrets
    tag: str  # hash of what decides the anchors and the owner's sketches

    @property
    def n_anchors(self) -> int:
        return int(self.secrets.anchors.shape[0])


def _derived(seed: int, purpose: str, size: int) -> bytes:
    return hashlib.sha256(f"modelgif-bench-ip:{seed}:{purpose}".encode()).digest()[:size]


def owner_fingerprint(
    zoo: Zoo, source: ModelRecord, setting: Setting, n_anchors: int, seed: int, folder: Path
) -> OwnerFingerprint:
    """The (cached) fingerprint of `source` for `setting`, anchors from the owner split."""
    data = zoo.data(source.dataset)
    input_dim = int(np.prod(data.input_shape))
    anchors = AnchorConfig(n_anchors=n_anchors, source=setting.anchor_source)
    config = setting.field_config(input_dim)
    purpose = f"{source.id}:{setting.fingerprint}"
    tag = hashlib.sha256(json.dumps(
        [seed, purpose, source.digest, anchors.to_dict(), config.to_dict()], sort_keys=True
    ).encode()).hexdigest()[:12]
    key = ed25519.Ed25519PrivateKey.from_private_bytes(_derived(seed, f"key:{purpose}", 32))
    path = folder / "fingerprints" / f"{source.id}.{setting.fingerprint}.{tag}.mgf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        pool = folder / "fingerprints" / f"{source.dataset}.owner-pool.npy"
        np.save(pool, data.owner.x)
        fid = _derived(seed, f"id:{purpose}", 16)
        create_fingerprint(zoo.path(source), key, path, pool=pool, anchor_config=anchors,
                           field_config=config, created_at=CREATED_AT, overwrite=True,
                           fingerprint_id=fid)
    fingerprint = load_fingerprint(path, key.public_key())
    return OwnerFingerprint(path, fingerprint, open_secrets(fingerprint, key), tag)


@dataclass(frozen=True)
class SuspectCosines:
    """Cosines (N, S) of one suspect against one owner fingerprint, and what they cost."""

    model_id: str
    cosines: np.ndarray = field(repr=False)
    sketch: str
    seconds: float


def suspect_cosines(
    zoo: Zoo,
    owner: OwnerFingerprint,
    setting: Setting,
    model: ModelRecord,
    folder: Path,
    progress: Callable[[int, int], None] | None = None,
) -> SuspectCosines:
    """compare_suspect(owner, model) with the setting's backend, cached under `folder`."""
    name = f"{model.id}.{model.digest[-12:]}.npz"
    # compare_suspect measures a quantized model with the coarse estimator whatever the
    # backend asked for, so settings sharing a fingerprint share those cosines.
    kind = "coarse" if model.category == "quantized" else setting.name
    cache = folder / "cosines" / f"{kind}.{owner.tag}" / name
    if cache.is_file():
        with np.load(cache) as stored:
            return SuspectCosines(model.id, stored["cosines"].astype(np.float64),
                                  str(stored["sketch"]), float(stored["seconds"]))
    suspect: NormalizedModel = normalize(zoo.path(model))
    start = time.perf_counter()
    comparison = compare_suspect(owner.fingerprint, owner.secrets, suspect,
                                 backend=setting.backend, progress=progress)
    seconds = time.perf_counter() - start
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, cosines=comparison.cosines.astype(np.float32), sketch=comparison.sketch,
             seconds=seconds)
    tmp.replace(cache)
    return SuspectCosines(model.id, comparison.cosines, comparison.sketch, seconds)
