"""`scan()`: many suspects against many fingerprints, resumable, on local workers or Ray.

    fingerprints ──open_job (driver only: the owner key)──> ScanJobs
    suspects (DIR | LIST | manifest.jsonl) ──list_suspects──> entries
    scan file: header checked or written; pairs already there are skipped
    pending pairs, grouped by suspect ──run_local | run_ray──> lines, appended as they come

Why grouped by suspect: a suspect is normalized once for all fingerprints, and a hostile
one that crashes or hangs costs one worker and one timeout, not one per fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.errors import InputError
from modelgif.scan.jobs import ScanJob
from modelgif.scan.pool import Task, Work, run_local
from modelgif.scan.results import SCHEMA, ResultsFile, summarize
from modelgif.scan.suspects import SuspectEntry
from modelgif.scan.work import decide_suspect
from modelgif.validation import check_choice, check_float, check_int
from modelgif.verifiers.record import environment, now_utc

__all__ = ["ScanOutcome", "ScanSettings", "scan", "scan_header"]

BACKENDS = ("auto", "exact", "blackbox")


@dataclass(frozen=True)
class ScanSettings:
    """How to run a scan. Only `backend` shapes a verdict, so only it is in the header."""

    backend: str = "auto"
    workers: int = 1
    timeout_s: float = 600.0
    memory_gb: float | None = 8.0
    cache: Path | None = None
    ray: bool = False
    ray_address: str | None = None  # None: a local Ray
    retries: int = 2  # Ray: retries of a task whose worker was lost

    def __post_init__(self) -> None:
        owner = "ScanSettings"
        check_choice(self.backend, "backend", owner, BACKENDS)
        check_int(self.workers, "workers", owner, 1, 1024)
        check_float(self.timeout_s, "timeout_s", owner, 0.1, 7 * 24 * 3600.0)
        if self.memory_gb is not None:
            check_float(self.memory_gb, "memory_gb", owner, 0.5, 65536.0)
        check_int(self.retries, "retries", owner, 0, 100)


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan did: the file, pairs decided now and found done, counts in the file."""

    path: Path
    decided: int
    skipped: int
    summary: dict[str, dict[str, int]]


def scan_header(jobs: Sequence[ScanJob], settings: ScanSettings) -> dict[str, Any]:
    """The scan file's first line: the fingerprints and the settings of this scan."""
    return {"kind": "header", "schema": SCHEMA, "created_at": now_utc(),
            "fingerprints": [job.header for job in jobs],
            "settings": {"backend": settings.backend}, "environment": environment()}


def scan(
    jobs: Sequence[ScanJob],
    suspects: Sequence[SuspectEntry],
    output: Path,
    settings: ScanSettings | None = None,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    work: Work = decide_suspect,
) -> ScanOutcome:
    """Decide every (fingerprint, suspect) pair not yet in `output`, appending each line.

    `work` replaces the per-suspect function in local workers (tests inject crashes).
    """
    settings = settings or ScanSettings()
    ids = [job.fingerprint_id for job in jobs]
    if not ids or len(set(ids)) != len(ids):
        raise InputError("A scan needs one or more distinct fingerprints.")
    results = ResultsFile(output, scan_header(jobs, settings), force=force)
    try:
        tasks = [Task(s.name, str(s.path), tuple(i for i in ids if (i, s.name) not in results.done))
                 for s in suspects]
        tasks = [t for t in tasks if t.fingerprints]
        total = sum(len(t.fingerprints) for t in tasks)
        skipped = len(ids) * len(suspects) - total
        cache = str(settings.cache) if settings.cache else None
        if settings.ray:
            from modelgif.scan.ray_runner import run_ray

            lines = run_ray(jobs, tasks, settings.ray_address, settings.workers,
                            settings.timeout_s, settings.retries, settings.backend, cache)
        else:
            lines = run_local(jobs, tasks, settings.workers, settings.timeout_s,
                              settings.memory_gb, settings.backend, cache, work)
        decided = 0
        if progress is not None:
            progress(0, total)
        for line in lines:
            results.append(line)
            decided += 1
            if progress is not None:
                progress(decided, total)
        return ScanOutcome(output, decided, skipped, summarize(results.header, results.pairs))
    finally:
        results.close()
