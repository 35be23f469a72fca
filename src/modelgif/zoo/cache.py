"""A small zoo built once per machine and code version, shared by test runs and the demo.

Why: the small zoo trains ~30 models (about half a minute); tests and the demo need it
every run. It is kept under $MODELGIF_CACHE (default ~/.cache/modelgif) in a folder named
after the zoo size, the seed and a hash of the code and library versions that decide its
bytes, so a code change builds a new one instead of reusing a stale one.

Concurrency: builders take an exclusive file lock, build into a private temporary folder
and publish it with one atomic rename; a reader finds either no zoo or a complete one.

`cached_folder` gives anything else derived from the zoo (the demo's unlearning models) the
same treatment: a folder named after a digest of everything that decides its bytes, built
once under the lock, published by rename, and checked file by file (a sha256 manifest)
before each reuse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from modelgif.errors import InputError, IntegrityError
from modelgif.zoo.build import Progress, build_zoo, code_hash, library_versions
from modelgif.zoo.manifest import Zoo

__all__ = ["CACHE_ENV", "cached_folder", "cached_small_zoo", "default_cache_dir"]

log = logging.getLogger(__name__)

CACHE_ENV = "MODELGIF_CACHE"
LOCK_TIMEOUT_S = 900
FOLDER_MANIFEST = "cached-files.json"


def default_cache_dir() -> Path:
    """$MODELGIF_CACHE, else ~/.cache/modelgif."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "modelgif"


def cached_small_zoo(cache_dir: str | Path | None = None, seed: int = 0,
                     progress: Progress | None = None) -> Zoo:
    """The small zoo for `seed`, built on first use and reused while the code is unchanged.

    A cached zoo is checked (every file against its manifest digest) before it is reused;
    a damaged or partial one is rebuilt. `progress` is called with each model id built.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{code_hash()}|{sorted(library_versions().items())}".encode()).hexdigest()
    target = root / f"zoo-small-s{seed}-{key[:16]}"
    zoo = _reuse(target)
    if zoo is not None:
        return zoo
    with FileLock(str(root / f"{target.name}.lock"), timeout=LOCK_TIMEOUT_S):
        zoo = _reuse(target)  # another process may have built it while we waited
        if zoo is not None:
            return zoo
        shutil.rmtree(target, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            build_zoo(staging, "small", seed, progress=progress)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("built the small zoo into %s", target)
        return Zoo.load(target)


def _reuse(target: Path) -> Zoo | None:
    """The zoo at `target` if it is complete and intact, else None."""
    if not (target / "zoo.json").is_file():
        return None
    try:
        zoo = Zoo.load(target)
        zoo.verify()
    except (InputError, IntegrityError, OSError) as error:
        log.warning("cached zoo at %s is unusable (%s); rebuilding", target, error)
        return None
    return zoo


def _digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != FOLDER_MANIFEST}


def cached_folder(name: str, key: str, build: Callable[[Path], None],
                  cache_dir: str | Path | None = None) -> Path:
    """The folder `name`-`digest(key)` in the cache, made by `build(folder)` on first use.

    `key` must name everything that decides the folder's bytes (code and library versions
    included). A folder whose files no longer match the sha256 manifest written after the
    build is rebuilt.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if _intact(target):
        return target
    with FileLock(str(root / f"{target.name}.lock"), timeout=LOCK_TIMEOUT_S):
        if _intact(target):
            return target
        shutil.rmtree(target, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            build(staging)
            manifest = json.dumps({"key": key, "files": _digests(staging)}, indent=1,
                                  sort_keys=True)
            (staging / FOLDER_MANIFEST).write_text(manifest + "\n", encoding="utf-8")
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("built %s", target)
        return target


def _intact(target: Path) -> bool:
    manifest = target / FOLDER_MANIFEST
    if not manifest.is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("files")
        if recorded == _digests(target):
            return True
    except (OSError, ValueError, AttributeError):
        pass
    log.warning("cached folder %s is damaged; rebuilding", target)
    return False
