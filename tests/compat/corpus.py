"""The compatibility corpus: real files of modelgif 0.1.0 that later versions must still read.

Why: a fingerprint, a calibration, a verdict record and an evidence bundle are kept for
years and re-checked by other people; a change of format, statistic or renderer must not
strand them. The corpus is made once, by the real tools, and checked in; tests re-verify
each file and recompute what it claims. Never regenerate it to make a test pass: a failing
compatibility test means old evidence no longer reads.

    python tests/compat/corpus.py tests/compat/v0.1.0     # makes the corpus (once)

Models: small MLPs trained here on scikit-learn's digits (real 8x8 images, shipped with
scikit-learn): the owner, a fine-tune of it (the suspect) and five independent models (the
calibration negatives). The owner key is derived from a public seed: a test key, worthless
as a secret, so no private key is checked in. The fingerprint id and the random bytes are
pinned (create_fingerprint's fingerprint_id= and random_bytes=), so the fingerprint can be
recomputed and compared number by number.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from cryptography.hazmat.primitives.asymmetric import ed25519
from sklearn.datasets import load_digits

SEED = b"modelgif compatibility corpus key (public, worthless)"
FINGERPRINT_ID = hashlib.sha256(SEED + b"/fingerprint-id").digest()[:16]
CREATED_AT = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
N_ANCHORS = 16
N_STEPS = 8
NEGATIVES = 5


def corpus_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SEED).digest())


def counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom (pinned files only)."""
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "little")).digest()
            counter += 1
        return out[:n]

    return random_bytes


def fingerprint_settings() -> dict[str, object]:
    """The create_fingerprint keywords the corpus fingerprint was made with."""
    from modelgif.fingerprint.anchors import AnchorConfig
    from modelgif.fingerprint.field import FieldConfig

    return {"anchor_config": AnchorConfig(n_anchors=N_ANCHORS),
            "field_config": FieldConfig(n_steps=N_STEPS),
            "input_range": (0.0, 1.0), "created_at": CREATED_AT,
            "fingerprint_id": FINGERPRINT_ID, "random_bytes": counter_random(SEED)}


def write_key_files(folder: Path) -> Path:
    """owner.key (0600) and owner.pub in `folder`, from the public seed."""
    from modelgif.crypto.keys import save_keypair

    save_keypair(corpus_key(), folder / "owner")
    return folder / "owner.key"


def _mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10))


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int,
           epochs: int, lr: float) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def _export(model: torch.nn.Module, path: Path) -> None:
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})


def make_corpus(folder: Path) -> None:
    from modelgif.cli import main
    from modelgif.fingerprint.create import create_fingerprint

    folder.mkdir(parents=True, exist_ok=False)
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    owner_half, thief_half = slice(0, 900), slice(900, None)
    owner = _train(_mlp(0), x[owner_half], y[owner_half], 0, epochs=30, lr=3e-3)
    _export(owner, folder / "owner.onnx")
    suspect = _train(owner, x[thief_half], y[thief_half], 1, epochs=3, lr=1e-3)
    _export(suspect, folder / "suspect.onnx")
    (folder / "negatives").mkdir()
    for i in range(NEGATIVES):
        negative = _train(_mlp(100 + i), x[owner_half], y[owner_half], 100 + i, 30, 3e-3)
        _export(negative, folder / "negatives" / f"independent-{i}.onnx")
    key_path = write_key_files(folder)
    create_fingerprint(folder / "owner.onnx", corpus_key(), folder / "owner.mgf",
                       **fingerprint_settings())  # type: ignore[arg-type]
    os.chdir(folder)  # the signed records carry the commands as run, with these paths
    assert main(["calibrate", "owner.mgf", "--negatives", "negatives", "--key", "owner.key",
                 "--target-fpr", "0.05", "-o", "cal.json"]) == 0
    assert main(["verify", "owner.mgf", "suspect.onnx", "--key", "owner.key",
                 "--calibration", "cal.json", "-o", "suspect.verdict.json"]) == 0
    assert main(["report", "suspect.verdict.json", "--key", "owner.key", "-o", "report"]) == 0
    key_path.unlink()  # worthless, but a private key is never checked in


if __name__ == "__main__":
    make_corpus(Path(sys.argv[1]).resolve())
