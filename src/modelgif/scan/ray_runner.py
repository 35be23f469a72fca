"""The same work as Ray tasks: a local Ray by default, a cluster address to go beyond.

    driver: ScanJobs ──ray.put (once)──> object store
        one task per suspect: decide_suspect(jobs, suspect) -> its pair lines, streamed
        a lost worker (crash, node failure, Ray's memory monitor): retried max_retries
        times, then one error line per pair; past the timeout: cancelled, error lines

Trust: what the tasks get is the ScanJobs, i.e. each fingerprint's anchors and sketch
secret (what `modelgif reveal` hands out) and its calibration; the owner's private key
stays in the driver. A compromised node therefore learns the anchors of the fingerprints
in the scan (a thief who learns them can train against them: make fresh fingerprints
after scanning on machines you do not trust), nothing else of the owner's.

Suspect paths must be readable where the tasks run (a local Ray, or storage shared by the
cluster's nodes). Tasks stream their lines (Ray streaming generators), so each pair is
written as it is decided and --timeout-s bounds each pair as in the local pool, counted
from the moment the task runs (not while it waits for a worker to start). Memory is Ray's
to bound (its memory monitor kills a worker past the node's threshold: a lost worker,
retried, then an error).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from modelgif import budget
from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.scan.jobs import ScanJob
from modelgif.scan.pool import Task
from modelgif.scan.work import decide_suspect, error_pair

__all__ = ["run_ray"]

log = logging.getLogger(__name__)


def _decide(jobs: Sequence[ScanJob], task: Task, backend: str,
            cache: str | None) -> Iterator[dict[str, Any]]:
    """The body of one Ray task (runs on a worker node): "started", then its lines."""
    yield {"kind": "started"}
    budget.held_by_caller()  # the task's timeout holds it; never fork inside a Ray worker
    selected = [j for j in jobs if j.fingerprint_id in task.fingerprints]
    yield from decide_suspect(selected, task.name, task.path, backend, cache)


@dataclass
class _Flight:
    task: Task
    pending: list[str]
    suspect: dict[str, Any] | None = None
    last: float | None = None  # None until the task runs (queued, or a worker starting)


def _errors(flight: _Flight, why: str) -> list[dict[str, Any]]:
    suspect = flight.suspect or {"name": flight.task.name,
                                 "sha256": sha256_file(flight.task.path), "digest": None}
    seconds = time.monotonic() - (flight.last or time.monotonic())
    return [error_pair(fid, suspect, why, seconds) for fid in flight.pending]


def _receive(ray: Any, flying: dict[Any, _Flight], stream: Any,
             retries: int) -> Iterator[dict[str, Any]]:
    """Take the next line of a task's stream: a pair, the suspect, its start, or its end."""
    flight = flying[stream]
    try:
        line = ray.get(next(stream))
    except StopIteration:
        del flying[stream]
        return
    except ray.exceptions.RayError as error:
        del flying[stream]
        yield from _errors(flight, f"the Ray worker was lost ({type(error).__name__}, "
                           f"after {retries} retries)")
        return
    flight.last = time.monotonic()
    if line["kind"] == "suspect":
        flight.suspect = line["suspect"]
    elif line["kind"] == "pair":
        flight.pending.remove(line["fingerprint"])
        yield line


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
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        remote = ray.remote(num_returns="streaming", max_retries=retries,
                            retry_exceptions=False)(_decide)
        shared = ray.put(list(jobs))
        window = max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = deque(tasks)
        flying: dict[Any, _Flight] = {}
        while queue or flying:
            while queue and len(flying) < window:
                task = queue.popleft()
                flying[remote.remote(shared, task, backend, cache)] = _Flight(
                    task, list(task.fingerprints))
            ready, _ = ray.wait(list(flying), num_returns=1, timeout=1.0)
            for stream in ready:
                yield from _receive(ray, flying, stream, retries)
            for stream, flight in list(flying.items()):
                if flight.last is not None and time.monotonic() - flight.last > timeout_s:
                    ray.cancel(stream, force=True)
                    del flying[stream]
                    yield from _errors(flight, f"timed out after {timeout_s:g} s (--timeout-s)")
    finally:
        if started_here:
            ray.shutdown()
