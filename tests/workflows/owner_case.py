"""One owner on the small zoo for the workflow tests: a key pair on disk, a fingerprint
with sealed probe outputs (small, so each test takes seconds), its zoo, and the
five independents to calibrate on (the fewest a calibration takes) plus one held out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif import create_fingerprint
from modelgif.crypto.keys import PrivateKey, generate_key, save_keypair
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.field import FieldConfig
from modelgif.zoo import ModelRecord, Zoo, cached_small_zoo


@dataclass(frozen=True)
class Owner:
    folder: Path
    zoo: Zoo
    key: PrivateKey
    key_path: Path
    pub_path: Path
    fingerprint: Path
    negatives: list[Path]
    held_out: Path

    def model(self, category: str) -> ModelRecord:
        return next(m for m in self.zoo.models if m.category == category)

    def suspect(self, category: str) -> Path:
        return self.zoo.path(self.model(category))


def make_owner(folder: Path) -> Owner:
    zoo = cached_small_zoo()
    source = zoo.sources()[0]
    key = generate_key()
    key_path, pub_path = save_keypair(key, folder / "owner")
    mgf = folder / "owner.mgf"
    create_fingerprint(zoo.path(source), key, mgf, anchor_config=AnchorConfig(n_anchors=8),
                       field_config=FieldConfig(n_steps=4), probes=64)
    independents = sorted(zoo.independents(source.dataset), key=lambda m: m.id)
    return Owner(folder, zoo, key, key_path, pub_path, mgf,
                 [zoo.path(m) for m in independents[:5]], zoo.path(independents[-1]))


def stable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two runs on the same inputs: the times."""
    return {**{k: v for k, v in record.items() if k != "created_at"},
            "custody": [{k: v for k, v in event.items() if k != "at"}
                        for event in record["custody"]]}
