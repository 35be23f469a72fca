"""The query log: one JSON line per HTTP request attempt to a suspect's inference server.

Why: a verdict reached through someone else's API rests on what that server answered. The
log records, for every attempt (retries included), the time, method and path, the status or
the transport error, the sha256 and size of the request and response bodies, how many
samples it carried and any Retry-After; the bodies themselves stay out (they would carry
the secret probe points). The verdict record lists the log as an input file, so its sha256
is signed with the verdict and `modelgif report verify --files` re-hashes it; whoever kept
the bodies (a proxy's capture, the server's own log) can match them line by line.

The file is created exclusively (an existing log is never appended to or replaced unless
`force`), every line is flushed as it is written, and the file is fsynced on close.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.errors import InputError

__all__ = ["QueryLog"]

SCHEMA = "modelgif.query-log/v1"


class QueryLog:
    """An append-only JSONL file of request attempts; use as a context manager."""

    def __init__(self, path: str | Path, force: bool = False) -> None:
        self.path = Path(path)
        check_output(self.path, force)
        if force and self.path.exists():
            self.path.unlink()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except OSError as error:
            raise InputError(f"Cannot create the query log {self.path}: "
                             f"{error.strerror}.") from None
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        self.lines = 0
        self._line({"schema": SCHEMA})

    def _line(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, sort_keys=True, allow_nan=False) + "\n")
        self._file.flush()

    def write(self, *, method: str, path: str, request: bytes, response: bytes,
              status: int | None, error: str | None, attempt: int, samples: int,
              retry_after: float | None) -> None:
        """One request attempt."""
        from modelgif.verifiers.record import now_utc

        self.lines += 1
        self._line({"seq": self.lines, "at": now_utc(), "method": method, "path": path,
                    "status": status, "error": error, "attempt": attempt, "samples": samples,
                    "retry_after": retry_after,
                    "request_sha256": hashlib.sha256(request).hexdigest(),
                    "request_bytes": len(request),
                    "response_sha256": hashlib.sha256(response).hexdigest(),
                    "response_bytes": len(response)})

    def close(self) -> None:
        """Flush, fsync and close (idempotent)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> QueryLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
