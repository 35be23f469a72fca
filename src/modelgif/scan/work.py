"""One suspect against every pending fingerprint: the unit of work, wherever it runs.

    suspect file ──sha256──> cache hit? ──normalize (once)──> NormalizedModel
        for each ScanJob: verify_suspect ──> one pair line (verdict or error, seconds)

The same function runs in-process, in a local worker process and in a Ray task, so the
three give the same lines. Any failure on a hostile suspect becomes an `error` line with
its reason, never an exception out of the scan: a normalization failure decides all of
that suspect's pairs, a failing comparison only its own. Crashes and hangs cannot be
caught here; the pool (or Ray) that runs this turns them into error lines.

The cache maps a file's sha256 to its canonical ONNX, so a suspect seen before (a
re-upload under another name, next week's scan with a new fingerprint) is not
normalized again; it is written atomically and read back with the usual limits.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from modelgif.digests import sha256_file
from modelgif.errors import ModelgifError
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.scan.jobs import ScanJob
from modelgif.verifiers.ownership import verify_suspect
from modelgif.verifiers.record import now_utc

__all__ = ["decide_suspect", "error_pair", "reason"]

MAX_REASON_CHARS = 400


def reason(error: BaseException) -> str:
    """One line naming a failure: our own errors by message, others by type too."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, MemoryError):
        text = "out of memory (the --memory-gb limit, or the machine's)"
    elif not isinstance(error, ModelgifError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text[:MAX_REASON_CHARS]


def error_pair(fingerprint_id: str, suspect: dict[str, Any], why: str,
               seconds: float) -> dict[str, Any]:
    """The line of a pair that could not be decided."""
    return {"kind": "pair", "fingerprint": fingerprint_id, "suspect": suspect,
            "decision": "error", "error": why, "verdict": None, "seconds": round(seconds, 3),
            "decided_at": now_utc()}


def _normalized(path: Path, sha256: str, cache: Path | None) -> NormalizedModel:
    cached = cache / f"{sha256}.onnx" if cache is not None else None
    if cached is not None and cached.is_file():
        return normalize(cached)
    model = normalize(path)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cached.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(model.to_bytes())
        os.replace(temporary, cached)
    return model


def decide_suspect(
    jobs: Sequence[ScanJob],
    name: str,
    path: str,
    backend: str = "auto",
    cache: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield {"kind": "suspect"} once it is normalized, then one pair line per job."""
    start = time.perf_counter()
    suspect: dict[str, Any] = {"name": name, "sha256": None, "digest": None}
    try:
        suspect["sha256"] = sha256_file(path)
        model = _normalized(Path(path), suspect["sha256"], Path(cache) if cache else None)
    except Exception as error:  # a hostile file may break any library below
        why = "normalization failed: " + reason(error)
        for job in jobs:
            yield error_pair(job.fingerprint_id, suspect, why, time.perf_counter() - start)
        return
    suspect.update(digest=model.digest, opset=model.opset)
    yield {"kind": "suspect", "suspect": suspect,
           "normalize_seconds": round(time.perf_counter() - start, 3)}
    for job in jobs:
        begin = time.perf_counter()
        try:
            verdict, comparison = verify_suspect(job.fingerprint(), job.secrets, model,
                                                 job.calibrations, backend)
        except Exception as error:  # the suspect's failure, not the scan's
            yield error_pair(job.fingerprint_id, suspect, reason(error),
                             time.perf_counter() - begin)
            continue
        yield {"kind": "pair", "fingerprint": job.fingerprint_id, "suspect": suspect,
               "decision": verdict.decision, "error": None, "verdict": verdict.to_dict(),
               "compared_sketch": comparison.sketch,
               "suspect_estimator": comparison.estimator,
               "seconds": round(time.perf_counter() - begin, 3), "decided_at": now_utc()}
