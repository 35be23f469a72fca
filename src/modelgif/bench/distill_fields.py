"""Owner fingerprints of the Fashion-MNIST teachers and suspects' field cosines, cached.

The fields are the library's own: `create_fingerprint` for the owner, `compare_suspect`
(what `verify_suspect` runs) for a suspect. Two settings, as in `bench ip`:
- "modelgif": the defaults (secret synthetic anchors, 16 steps, the default target);
- "reference": the ModelGiF paper's setting (a secret subset of the owner's images as
  anchors, the full field, 50 steps, the top-1 logit), scored by the mean cosine distance.
Keys and fingerprint ids are derived from the seed and the teacher (a real owner draws them
at random) so a rebuild reproduces the anchors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric import ed25519

from modelgif.bench.ipfields import SETTINGS
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import FingerprintSecrets, create_fingerprint, open_secrets
from modelgif.fingerprint.normalize import load_normalized
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.verifiers.ownership import compare_suspect
from modelgif.zoo.fashion_zoo import FashionZoo

__all__ = ["FIELD_SETTINGS", "TeacherFingerprint", "field_cosines", "teacher_fingerprint"]

FIELD_SETTINGS = {"modelgif": SETTINGS["whitebox"], "reference": SETTINGS["reference"]}
N_ANCHORS = {"modelgif": 64, "reference": 64}
POOL = 4_000  # owner training images the reference's subset anchors are drawn from
INPUT_DIM = 28 * 28


@dataclass(frozen=True)
class TeacherFingerprint:
    setting: str
    fingerprint: Fingerprint
    secrets: FingerprintSecrets
    tag: str


def _derived(seed: int, purpose: str, size: int) -> bytes:
    return hashlib.sha256(f"modelgif-bench-distill:{seed}:{purpose}".encode()).digest()[:size]


def teacher_fingerprint(zoo: FashionZoo, teacher: str, setting: str) -> TeacherFingerprint:
    """The teacher's (cached) fingerprint for `setting`."""
    spec = FIELD_SETTINGS[setting]
    anchors = AnchorConfig(n_anchors=N_ANCHORS[setting], source=spec.anchor_source)
    config = spec.field_config(INPUT_DIM)
    purpose = f"{teacher}:{setting}"
    tag = hashlib.sha256(f"{purpose}:{anchors.to_dict()}:{config.to_dict()}".encode()
                         ).hexdigest()[:10]
    key = ed25519.Ed25519PrivateKey.from_private_bytes(_derived(zoo.seed, f"key:{purpose}", 32))
    path = zoo.root / "fingerprints" / f"{teacher}.{setting}.{tag}.mgf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        pool = zoo.data.owner.x[:POOL]
        create_fingerprint(load_normalized(zoo.onnx_path(teacher)), key, path, pool=pool,
                           anchor_config=anchors, field_config=config,
                           created_at=datetime(2024, 1, 1, tzinfo=UTC), overwrite=True,
                           fingerprint_id=_derived(zoo.seed, f"id:{purpose}", 16))
    fingerprint = load_fingerprint(path, key.public_key())
    return TeacherFingerprint(setting, fingerprint, open_secrets(fingerprint, key), tag)


def field_cosines(zoo: FashionZoo, owner: TeacherFingerprint, model_id: str) -> np.ndarray:
    """(N, S) cosines of `model_id`'s field to the owner's, cached under the zoo folder."""
    cache = zoo.root / "cosines" / f"{owner.setting}.{owner.tag}" / f"{model_id}.npy"
    if cache.is_file():
        stored: np.ndarray = np.load(cache, allow_pickle=False)
        return stored.astype(np.float64)
    torch.set_num_threads(1)
    suspect = load_normalized(zoo.onnx_path(model_id))
    got = compare_suspect(owner.fingerprint, owner.secrets, suspect,
                          backend=FIELD_SETTINGS[owner.setting].backend)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.stem}.tmp.npy")
    np.save(tmp, got.cosines.astype(np.float32))
    tmp.replace(cache)
    return got.cosines.astype(np.float64)
