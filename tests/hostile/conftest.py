"""Folders for the hostile corpus: models/ is handed to modelgif, outside/ must stay unread."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.harness import SECRET


@pytest.fixture()
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/models/, with the current directory set to tmp/outside/ (where the owner keeps
    secret.bin): a loader resolving a relative location against the current directory
    would read it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.bin").write_bytes(SECRET)
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path / "outside")
    return tmp_path / "models"


@pytest.fixture()
def outside(models: Path) -> Path:
    return models.parent / "outside"
