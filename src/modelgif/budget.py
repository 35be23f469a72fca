"""Wall-time and memory budgets for computations on a model that may be hostile.

Why a child process: a hostile model can make onnxruntime or torch loop for hours (a Loop of
1e12 trips) or allocate far past every declared size (ConstantOfShape([1e9]) from a 100-byte
file), and neither can be interrupted from inside Python. So the computation runs in a forked
child with RLIMIT_AS set to the memory budget; the parent waits at most the wall budget,
kills the child past it, and gets the result (numpy arrays, dataclasses) back through a
pipe. Log records made in the child are replayed in the parent, so logging looks the same.

Why a fresh thread inside the child: torch's OpenMP runtime (libgomp) is not fork-safe. A
forked child whose parent already ran a parallel region hangs at its first own one, because
the forking thread's pool refers to threads that do not exist in the child; a new thread
has no pool and builds its own.

API for reuse (e.g. many suspects in parallel): `run_budgeted(fn, *args)` with a module-level
function and picklable arguments returns `fn(*args)` or raises BudgetError. Budgets nest:
inside a child, `run_budgeted` runs inline under the outer budget. Defaults come from
MODELGIF_BUDGET_SECONDS and MODELGIF_BUDGET_MEMORY_GIB.
"""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from modelgif.errors import BudgetError, InputError, ModelgifError

__all__ = ["MEMORY_ENV", "SECONDS_ENV", "Budget", "held_by_caller", "run_budgeted"]

SECONDS_ENV = "MODELGIF_BUDGET_SECONDS"
MEMORY_ENV = "MODELGIF_BUDGET_MEMORY_GIB"
DEFAULT_SECONDS = 1800.0
DEFAULT_MEMORY_GIB = 8.0
GiB = 1 << 30
_ALLOCATION_WORDS = ("bad_alloc", "bad allocation", "failed to allocate", "out of memory",
                     "cannot allocate memory", "memoryerror", "unable to allocate")

T = TypeVar("T")
Progress = Callable[[int, int], None]
_in_child = False


@dataclass(frozen=True)
class Budget:
    """At most `seconds` of wall time and `memory_bytes` of address space per run."""

    seconds: float = DEFAULT_SECONDS
    memory_bytes: int = int(DEFAULT_MEMORY_GIB * GiB)

    @classmethod
    def from_env(cls) -> Budget:
        """The budget from $MODELGIF_BUDGET_SECONDS and $MODELGIF_BUDGET_MEMORY_GIB."""
        seconds = _env_number(SECONDS_ENV, DEFAULT_SECONDS)
        memory = _env_number(MEMORY_ENV, DEFAULT_MEMORY_GIB)
        return cls(seconds=seconds, memory_bytes=int(memory * GiB))

    def describe_memory(self) -> str:
        return f"{self.memory_bytes / GiB:g} GiB"


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise InputError(f"${name} must be a positive number. Got {text!r}.")
    return value


def run_budgeted(
    fn: Callable[..., T],
    *args: Any,
    budget: Budget | None = None,
    what: str = "model",
    progress: Progress | None = None,
) -> T:
    """Return `fn(*args)`, computed in a child process held to `budget`.

    With `progress`, `fn` is called as `fn(*args, progress=...)` and its calls
    `progress(done, total)` reach the caller's callback in this process.
    Raises BudgetError ("model exceeded the 60 s budget", "... the 8 GiB memory budget");
    a ModelgifError raised by `fn` is re-raised as it is.
    """
    budget = budget or Budget.from_env()
    if _in_child or _cuda_in_use():
        return fn(*args, progress=progress) if progress is not None else fn(*args)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, fn, args, budget, progress is not None),
                            daemon=True)
    # Garbage that owns native threads (an onnxruntime session) must never be collected in
    # the forked child: its destructor waits forever on a condition variable of a thread
    # pool the child does not have. What the child inherits is frozen, so the child's
    # collector never touches it; the parent collects it as usual.
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    sender.close()
    try:
        outcome = _wait(receiver, child, budget, what, progress)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    kind, payload, records = outcome
    for record in records:
        logging.getLogger(record.name).handle(record)
    if kind == "ok":
        result: T = payload
        return result
    if kind == "memory":
        raise BudgetError(f"{what} exceeded the {budget.describe_memory()} memory budget "
                          f"({payload})")
    raise payload


def _wait(
    receiver: Connection, child: Any, budget: Budget, what: str, progress: Progress | None
) -> tuple[str, Any, list[logging.LogRecord]]:
    deadline = time.monotonic() + budget.seconds
    while True:
        if not receiver.poll(max(0.0, deadline - time.monotonic())):
            raise BudgetError(f"{what} exceeded the {budget.seconds:g} s budget")
        try:
            outcome: tuple[str, Any, list[logging.LogRecord]] = receiver.recv()
        except EOFError:
            break
        if outcome[0] != "progress":
            return outcome
        if progress is not None:
            progress(*outcome[1])
    child.join()
    code = child.exitcode
    cause = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
             else f"exit status {code}")
    raise BudgetError(
        f"the computation on the {what} died ({cause}); likely past the "
        f"{budget.describe_memory()} memory budget"
    )


class _Collector(logging.Handler):
    """Keeps the child's log records, to be replayed by the parent."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        record.exc_info, record.exc_text = None, None
        self.records.append(record)


def _child(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...],
           budget: Budget, with_progress: bool) -> None:
    global _in_child
    _in_child = True
    collector = _Collector()
    root = logging.getLogger()
    root.handlers = [collector]
    if not _cuda_available():
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = budget.memory_bytes
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    outcome: list[tuple[str, Any]] = []
    if with_progress:
        fn = functools.partial(fn, progress=lambda done, total: sender.send(
            ("progress", (done, total), [])))
    worker = threading.Thread(target=_run, args=(fn, args, outcome))
    worker.start()
    worker.join()
    kind, payload = outcome[0] if outcome else ("memory", "the worker thread did not finish")
    try:
        sender.send((kind, payload, collector.records))
    except Exception as error:  # an unpicklable result or error: say so in one line
        sender.send(("error", ModelgifError(f"cannot return the result: {error}"), []))
    sender.close()
    sys.stdout.flush()
    os._exit(0)


def _run(fn: Callable[..., Any], args: tuple[Any, ...], outcome: list[tuple[str, Any]]) -> None:
    try:
        outcome.append(("ok", fn(*args)))
    except MemoryError as error:
        outcome.append(("memory", f"MemoryError: {str(error)[:200]}"))
    except BaseException as error:  # every failure crosses back as data, never a hang
        text = str(error).lower()
        if any(word in text for word in _ALLOCATION_WORDS):
            outcome.append(("memory", str(error).splitlines()[0][:200] if str(error) else ""))
        elif isinstance(error, ModelgifError):
            outcome.append(("error", error))
        else:
            outcome.append(("error", _portable(error)))


def _portable(error: BaseException) -> BaseException:
    """The error itself when it pickles, else a RuntimeError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _cuda_available() -> bool:
    """CUDA reserves far more address space than it uses: RLIMIT_AS would break it."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


def held_by_caller() -> None:
    """Run every later budgeted call of this process inline: a scan worker (a local worker
    or a Ray task) is held to its own memory limit and per-pair timeout, and forking a
    child inside it (daemonic, or a threaded Ray worker) is refused or can hang."""
    global _in_child
    _in_child = True


def _cuda_in_use() -> bool:
    """A parent that initialized CUDA cannot fork a child that uses it: run inline."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())
