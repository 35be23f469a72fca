"""Local worker processes with per-suspect limits: a crash or a hang is one suspect's error.

    driver ──Pipe──> worker 1..N   (spawned; each imports once, holds the ScanJobs)
        task: {name, path, fingerprints}  ──>  lines back, one per decided pair, then "done"
    worker dies (segfault, os.abort, the memory limit)  -> error lines for its pending pairs,
                                                           a fresh worker takes its place
    no line for --timeout-s                             -> the worker is killed, same

Why processes and pipes, not a thread pool or concurrent.futures: onnxruntime on a hostile
graph can abort the whole process or loop forever, and only a separate process can be
killed; one pipe per worker means a dying worker cannot corrupt a queue shared by the
others. Lines come back as JSON, not pickles. The memory limit is the worker's address
space (resource.RLIMIT_AS), so an allocation past it fails inside that worker only.
The timeout restarts with each decided pair: it bounds one suspect against one
fingerprint (the first pair also pays for normalizing the suspect).
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from modelgif import budget
from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.runtime import limit_threads
from modelgif.scan.jobs import ScanJob
from modelgif.scan.work import decide_suspect, error_pair

__all__ = ["Task", "Work", "run_local"]

log = logging.getLogger(__name__)

Work = Callable[..., Iterator[dict[str, Any]]]  # decide_suspect's signature
MAX_START_FAILURES = 3
STOP_WAIT_S = 5.0


@dataclass(frozen=True)
class Task:
    """One suspect and the fingerprints it still has to be compared with."""

    name: str
    path: str
    fingerprints: tuple[str, ...]


def _limit_memory(memory_gb: float | None) -> None:
    if memory_gb is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(memory_gb * 1024**3)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(conn: Connection, jobs: Sequence[ScanJob], backend: str,
                 cache: str | None, memory_gb: float | None, work: Work,
                 threads: int) -> None:
    """A worker's life: set the limits, say ready, decide tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    _limit_memory(memory_gb)
    limit_threads(threads)
    budget.held_by_caller()
    by_id = {job.fingerprint_id: job for job in jobs}
    conn.send_bytes(b'{"kind": "ready"}')
    while True:
        try:
            task = json.loads(conn.recv_bytes())
        except EOFError:
            return
        if task is None:
            return
        selected = [by_id[i] for i in task["fingerprints"]]
        for line in work(selected, task["name"], task["path"], backend, cache):
            conn.send_bytes(json.dumps(line).encode())
        conn.send_bytes(b'{"kind": "done"}')


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: Task | None = None
    pending: list[str] = field(default_factory=list)
    suspect: dict[str, Any] | None = None
    last: float = 0.0


def _death(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"the worker crashed (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"the worker crashed (signal {-code})"
    return f"the worker exited with code {code}"


class _Pool:
    def __init__(self, jobs: Sequence[ScanJob], backend: str, cache: str | None,
                 memory_gb: float | None, work: Work, threads: int) -> None:
        self._args = (list(jobs), backend, cache, memory_gb, work, threads)
        self._context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.failures = 0  # workers lost in a row before they were ready

    def start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, *self._args),
                                        daemon=True, name="modelgif-scan-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def replace(self, worker: _Worker) -> None:
        self.stop(worker, kill=True)
        if worker.task is None and not worker.ready:
            self.failures += 1
            if self.failures >= MAX_START_FAILURES:
                raise InputError(f"scan workers fail to start ({_death(worker.process)})")
        self.start()

    def stop(self, worker: _Worker, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(b"null")
            worker.process.join(STOP_WAIT_S)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        self.workers.remove(worker)


def _failed(worker: _Worker, why: str, started: float) -> list[dict[str, Any]]:
    """Error lines for the pairs a lost worker had not decided."""
    assert worker.task is not None
    suspect = worker.suspect
    if suspect is None:  # lost while normalizing: hash the file here, it is only read
        suspect = {"name": worker.task.name, "sha256": sha256_file(worker.task.path),
                   "digest": None}
    return [error_pair(fid, suspect, why, time.monotonic() - started) for fid in worker.pending]


def run_local(
    jobs: Sequence[ScanJob],
    tasks: Iterable[Task],
    workers: int = 1,
    timeout_s: float = 600.0,
    memory_gb: float | None = 8.0,
    backend: str = "auto",
    cache: str | None = None,
    work: Work = decide_suspect,
) -> Iterator[dict[str, Any]]:
    """Pair lines as they are decided, from `workers` processes with per-pair limits.

    Each worker holds its math to its share of the cores (at least one thread).
    """
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    pool = _Pool(jobs, backend, cache, memory_gb, work, threads)
    queue = deque(tasks)
    for _ in range(workers):
        pool.start()
    try:
        while queue or any(w.task is not None for w in pool.workers):
            for worker in pool.workers:
                if worker.ready and worker.task is None and queue:
                    _assign(worker, queue.popleft())
            handles = [h for w in pool.workers for h in (w.conn, w.process.sentinel)]
            wait(handles, timeout=1.0)
            for worker in list(pool.workers):
                yield from _collect(pool, worker, timeout_s)
    finally:
        for worker in list(pool.workers):
            pool.stop(worker)


def _assign(worker: _Worker, task: Task) -> None:
    worker.task, worker.pending, worker.suspect = task, list(task.fingerprints), None
    worker.last = time.monotonic()
    worker.conn.send_bytes(json.dumps(task.__dict__).encode())


def _collect(pool: _Pool, worker: _Worker, timeout_s: float) -> Iterator[dict[str, Any]]:
    """Read what a worker has sent; replace it when it died or ran past the timeout."""
    try:
        while worker.conn.poll():
            line = json.loads(worker.conn.recv_bytes())
            if line["kind"] == "ready":
                worker.ready, pool.failures = True, 0
            elif line["kind"] == "suspect":
                worker.suspect = line["suspect"]
            elif line["kind"] == "done":
                worker.task = None
            else:
                worker.pending.remove(line["fingerprint"])
                worker.last = time.monotonic()
                yield line
    except (EOFError, OSError):
        pass  # died; the sentinel tells below
    if not worker.process.is_alive():
        if worker.task is not None:
            yield from _failed(worker, _death(worker.process), worker.last)
        log.info("scan worker %s replaced: %s", worker.process.pid, _death(worker.process))
        pool.replace(worker)
    elif worker.task is not None and time.monotonic() - worker.last > timeout_s:
        yield from _failed(worker, f"timed out after {timeout_s:g} s (--timeout-s)",
                           worker.last)
        pool.replace(worker)
