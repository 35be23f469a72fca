"""onnxruntime sessions, created in one place so the providers are always checked.

Why: onnxruntime-gpu lists CUDA as *available* even on a machine without a GPU and, asked for
it, logs an error and silently falls back to CPU. So we never trust
`get_available_providers()`; we ask for what we want and then read `session.get_providers()`.
"""

from __future__ import annotations

import logging

import onnxruntime as ort

from modelgif.errors import BackendError

__all__ = ["first_line", "limit_threads", "make_session", "preferred_providers"]

log = logging.getLogger(__name__)

_default_threads: int | None = None  # None: onnxruntime's own default (every core)

# onnxruntime logs failing kernels to stderr in colour before raising; modelgif reports every
# failure itself, in one line, so its own logger is silenced (4 = FATAL; 3 still logs errors).
ort.set_default_logger_severity(4)


def first_line(error: BaseException) -> str:
    """The first line of an error's text (at most 300 characters), for one-line messages."""
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def preferred_providers() -> list[str]:
    """CUDA first when this onnxruntime build offers it, CPU always."""
    offered = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in offered else []
    return [*wanted, "CPUExecutionProvider"]


def limit_threads(threads: int) -> None:
    """Hold this process's math to `threads` threads (torch and every later session).

    Why: N worker processes on N cores, each with thread pools sized to the whole machine,
    spin against each other; a scan worker takes its share of the cores instead.
    """
    import torch  # torch is heavy; only the processes that limit threads pay for it here

    global _default_threads
    _default_threads = max(1, int(threads))
    torch.set_num_threads(_default_threads)


def make_session(
    model_bytes: bytes,
    providers: list[str] | None = None,
    require: str | None = None,
    threads: int | None = None,
) -> ort.InferenceSession:
    """Create an InferenceSession and log (or, with `require`, enforce) the provider it got.

    `require` names a provider that must be active, e.g. "CUDAExecutionProvider" on a GPU
    benchmark; without it a silent CPU fallback is logged as a warning, never hidden.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 4  # FATAL only: errors become exceptions, never log lines
    threads = threads if threads is not None else _default_threads
    if threads is not None:
        options.intra_op_num_threads = threads
    asked = providers if providers is not None else preferred_providers()
    try:
        session = ort.InferenceSession(model_bytes, sess_options=options, providers=asked)
    except Exception as error:  # onnxruntime raises its own exception types
        raise BackendError(f"onnxruntime cannot load the model: {first_line(error)}") from None
    got = session.get_providers()
    if require is not None and require not in got:
        raise BackendError(f"onnxruntime did not activate {require}; active providers: {got}")
    if asked and asked[0] not in got:
        log.warning("onnxruntime asked for %s but runs on %s", asked[0], got)
    log.debug("onnxruntime session on %s", got)
    return session
