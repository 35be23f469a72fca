"""The same work as Ray tasks: a local Ray by default, a cluster address to go beyond.

    driver: ScanJobs ──ray.put (once)──> object store
        one task per suspect: decide_suspect(jobs, suspect) -> its pair lines
        a lost worker (crash, node failure, Ray's memory monitor): retried max_retries
        times, then one error line per pair; past the timeout: cancelled, error lines

Trust: what the tasks get is the ScanJobs, i.e. each fingerprint's anchors and sketch
secret (what `modelgif reveal` hands out) and its calibration; the owner's private key
stays in the driver. A compromised node therefore learns the anchors of the fingerprints
in the scan (a thief who learns them can train against them: make fresh fingerprints
after scanning on machines you do not trust), nothing else of the owner's.

Suspect paths must be readable where the tasks run (a local Ray, or storage shared by the
cluster's nodes). A task returns its lines when the suspect is done, so the timeout is
--timeout-s times the suspect's number of pairs. Memory is Ray's to bound (its memory
monitor kills a worker past the node's threshold: a lost worker, retried, then an error).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.scan.jobs import ScanJob
from modelgif.scan.pool import Task
from modelgif.scan.work import decide_suspect, error_pair

__all__ = ["run_ray"]

log = logging.getLogger(__name__)


def _decide(jobs: Sequence[ScanJob], task: Task, backend: str,
            cache: str | None) -> list[dict[str, Any]]:
    """The body of one Ray task (runs on a worker node)."""
    selected = [j for j in jobs if j.fingerprint_id in task.fingerprints]
    return [line for line in decide_suspect(selected, task.name, task.path, backend, cache)
            if line["kind"] == "pair"]


def _errors(task: Task, why: str, started: float) -> list[dict[str, Any]]:
    suspect = {"name": task.name, "sha256": sha256_file(task.path), "digest": None}
    return [error_pair(fid, suspect, why, time.monotonic() - started)
            for fid in task.fingerprints]


def run_ray(
    jobs: Sequence[ScanJob],
    tasks: Iterable[Task],
    address: str | None = None,
    workers: int = 1,
    timeout_s: float = 600.0,
    retries: int = 2,
    backend: str = "auto",
    cache: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Pair lines from Ray tasks, one task per suspect, at most one per Ray CPU at a time."""
    try:  # optional, and untyped here so the types check with or without it
        ray: Any = importlib.import_module("ray")
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'modelgif[ray]'") from None
    lost = ray.exceptions.RayError
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        remote = ray.remote(max_retries=retries, retry_exceptions=False)(_decide)
        shared = ray.put(list(jobs))
        window = max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = deque(tasks)
        flying: dict[Any, tuple[Task, float]] = {}
        while queue or flying:
            while queue and len(flying) < window:
                task = queue.popleft()
                flying[remote.remote(shared, task, backend, cache)] = (task, time.monotonic())
            done, _ = ray.wait(list(flying), num_returns=1, timeout=1.0)
            for ref in done:
                task, started = flying.pop(ref)
                try:
                    yield from ray.get(ref)
                except lost as error:
                    yield from _errors(task, f"the Ray worker was lost ({type(error).__name__}"
                                       f", after {retries} retries)", started)
            for ref, (task, started) in list(flying.items()):
                budget = timeout_s * len(task.fingerprints)
                if time.monotonic() - started > budget:
                    ray.cancel(ref, force=True)
                    del flying[ref]
                    yield from _errors(task, f"timed out after {budget:g} s (--timeout-s)",
                                       started)
    finally:
        if started_here:
            ray.shutdown()
