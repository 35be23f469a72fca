"""A client for a suspect behind a KServe v2 / Open Inference Protocol REST server.

    GET  {url}/v2/models/{name}          metadata: {"name", "inputs": [{"name", "datatype",
                                          "shape"}], "outputs": [...]}
    POST {url}/v2/models/{name}/infer    {"inputs": [{"name", "shape", "datatype", "data"}],
                                          "outputs": [{"name", "parameters"?}]}
                                      -> {"model_name", "outputs": [{"name", "shape",
                                          "datatype", "data"}]}

The server is hostile (it is the suspect's): every request has a timeout and a deadline for
the whole response, request and response bodies are capped before they are read or parsed,
JSON nesting is bounded, and what comes back is checked against what was asked (shape,
datatype, finite numbers) before it is evidence. Failures that can pass (connection errors,
5xx, 429) are retried with exponential backoff, a 429's Retry-After honoured up to a cap;
everything else is one error line. A client-side rate limit spaces requests. Every request
attempt is one line of the query log (querylog.py), whose sha256 the verdict record signs.

Why the standard library's http.client and not httpx or requests: it is always there (no
dependency for the one feature that talks to a network), and it gives exactly the control
a hostile peer needs: a socket timeout per read, a body read in bounded chunks under a
deadline, and no automatic redirects, proxies from the environment, cookies or decompression
(a gzip bomb cannot inflate under us: we never ask for or decode compressed bodies).
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import math
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.remote.querylog import QueryLog

__all__ = ["ClientLimits", "InferenceClient", "RemoteError", "body_sha256"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_DATATYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "UINT8": np.uint8,
              "INT8": np.int8, "INT32": np.int32, "INT64": np.int64}
_MAX_JSON_DEPTH = 16
_CHUNK = 65536


class RemoteError(InputError):
    """The server could not be used: unreachable, refusing, or answering garbage."""


@dataclass(frozen=True)
class ClientLimits:
    """What the client tolerates from a server (all bounded; the server is hostile)."""

    timeout_s: float = 30.0  # per connect and per read
    deadline_s: float = 120.0  # a whole request, response included
    max_request_bytes: int = 64 << 20
    max_response_bytes: int = 64 << 20
    max_retries: int = 8
    backoff_s: float = 0.5  # doubled per retry, capped at max_backoff_s
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0  # a longer Retry-After is refused, not slept
    rate_per_s: float | None = None  # client-side limit on requests per second
    batch_size: int = 64  # samples per infer request

    def __post_init__(self) -> None:
        for name in ("timeout_s", "deadline_s", "backoff_s", "max_backoff_s",
                     "max_retry_after_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number; got {value!r}.")
        if self.rate_per_s is not None and not (math.isfinite(self.rate_per_s)
                                                and self.rate_per_s > 0):
            raise InputError(f"The rate limit must be positive; got {self.rate_per_s!r}.")
        for name in ("max_request_bytes", "max_response_bytes", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InputError(f"{name} must be a positive integer.")
        if not isinstance(self.max_retries, int) or not 0 <= self.max_retries <= 100:
            raise InputError("max_retries must be an integer in 0..100.")


def _depth(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise RemoteError(f"the server's JSON is nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list) and item and isinstance(item[0], list | dict):
            stack += [(v, depth + 1) for v in item]


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), else None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text[:12]))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class InferenceClient:
    """One model on one Open Inference Protocol server. `clock`/`sleep` are injectable."""

    def __init__(
        self,
        url: str,
        model: str,
        limits: ClientLimits | None = None,
        log: QueryLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InputError(f"--suspect-url must be an http:// or https:// URL; got {url!r}.")
        if parsed.query or parsed.fragment or parsed.username or parsed.password:
            raise InputError("--suspect-url takes no query, fragment or credentials.")
        if not model or "/" in model or not model.isprintable() or len(model) > 256:
            raise InputError(f"--model-name must be a plain model name; got {model!r}.")
        self.url = url.rstrip("/")
        self.model = model
        self._parsed = parsed
        self._base = parsed.path.rstrip("/")
        self.limits = limits or ClientLimits()
        self.log = log
        self._sleep = sleep
        self._clock = clock
        self._next_allowed = 0.0
        self.requests = 0
        self.retries = 0

    # ------------------------------------------------------------------ transport

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parsed.hostname or "", self._parsed.port
        timeout = self.limits.timeout_s
        if self._parsed.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _pace(self) -> None:
        if self.limits.rate_per_s is None:
            return
        wait = self._next_allowed - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._next_allowed = max(self._clock(), self._next_allowed) + 1.0 / self.limits.rate_per_s

    def _read_body(self, response: http.client.HTTPResponse, started: float) -> bytes:
        declared = response.getheader("Content-Length")
        cap = self.limits.max_response_bytes
        if declared is not None and (not declared.strip().isdigit() or int(declared) > cap):
            raise RemoteError(f"the server's response is larger than {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            if self._clock() - started > self.limits.deadline_s:
                raise TimeoutError("response deadline")
            chunk = response.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise RemoteError(f"the server's response is larger than {cap} bytes")
            chunks.append(chunk)

    def _once(self, method: str, path: str, body: bytes | None
              ) -> tuple[int, bytes, str | None]:
        connection = self._connection()
        started = self._clock()
        try:
            headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = self._read_body(response, started)
            return response.status, data, response.getheader("Retry-After")
        finally:
            connection.close()

    def _request(self, method: str, path: str, body: bytes | None, samples: int) -> bytes:
        if body is not None and len(body) > self.limits.max_request_bytes:
            raise InputError(f"A request of {len(body)} bytes is over the "
                             f"{self.limits.max_request_bytes}-byte cap; lower --batch-size.")
        full = self._base + path
        for attempt in range(self.limits.max_retries + 1):
            self._pace()
            self.requests += 1
            status, data, wait, error = 0, b"", None, None
            try:
                status, data, header = self._once(method, full, body)
                wait = _retry_after(header, datetime.now(UTC).timestamp())
            except RemoteError as failure:
                error = str(failure)
            except (OSError, http.client.HTTPException, TimeoutError) as failure:
                error = f"{type(failure).__name__}: {failure}"[:200]
            if self.log is not None:
                self.log.write(method=method, path=full, request=body or b"", response=data,
                               status=status or None, error=error, attempt=attempt,
                               samples=samples, retry_after=wait)
            if error is None and status == 200:
                return data
            retryable = error is not None or status in _RETRY_STATUS
            if error is not None and "larger than" in error:
                retryable = False
            if not retryable or attempt == self.limits.max_retries:
                raise RemoteError(self._failure(method, full, status, data, error))
            delay = min(self.limits.backoff_s * 2 ** attempt, self.limits.max_backoff_s)
            if status == 429 and wait is not None:
                if wait > self.limits.max_retry_after_s:
                    raise RemoteError(f"{self.url}: the server asks to wait {wait:.0f} s "
                                      f"(Retry-After), over the {self.limits.max_retry_after_s:.0f}"
                                      " s cap")
                delay = max(delay, wait)
            self.retries += 1
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _failure(self, method: str, path: str, status: int, data: bytes, error: str | None
                 ) -> str:
        if error is not None:
            return f"{self.url}: {method} {path} failed: {error}"
        snippet = data[:160].decode("utf-8", errors="replace")
        snippet = "".join(c if c.isprintable() else "?" for c in snippet)
        return f"{self.url}: {method} {path} answered HTTP {status}: {snippet}"

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
            raise RemoteError(f"{self.url}: the server's answer is not JSON") from None
        if not isinstance(value, dict):
            raise RemoteError(f"{self.url}: the server's answer is not a JSON object")
        _depth(value, _MAX_JSON_DEPTH)
        return value

    # ------------------------------------------------------------------ protocol

    def metadata(self) -> dict[str, Any]:
        """The model's metadata: its first input (name, datatype, shape) and its outputs."""
        data = self._request("GET", f"/v2/models/{urllib.parse.quote(self.model)}", None, 0)
        meta = self._json(data)
        inputs, outputs = meta.get("inputs"), meta.get("outputs")
        if not (isinstance(inputs, list) and inputs and isinstance(outputs, list) and outputs):
            raise RemoteError(f"{self.url}: model metadata without inputs and outputs")
        for tensor in (*inputs, *outputs):
            if not (isinstance(tensor, dict) and isinstance(tensor.get("name"), str)
                    and isinstance(tensor.get("datatype"), str)
                    and isinstance(tensor.get("shape"), list)
                    and all(isinstance(d, int) and not isinstance(d, bool)
                            for d in tensor["shape"])):
                raise RemoteError(f"{self.url}: malformed tensor metadata")
        return meta

    def infer(
        self,
        batch: np.ndarray,
        input_name: str,
        datatype: str,
        output_name: str,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One infer request for `batch`; the named output tensor, shape and data checked."""
        if datatype not in _DATATYPES:
            raise RemoteError(f"{self.url}: input datatype {datatype!r} is not supported")
        values = np.asarray(batch).astype(_DATATYPES[datatype])
        data = values.reshape(-1).tolist()
        wanted: dict[str, Any] = {"name": output_name}
        if parameters:
            wanted["parameters"] = parameters
        body = json.dumps({"inputs": [{"name": input_name, "shape": list(values.shape),
                                       "datatype": datatype, "data": data}],
                           "outputs": [wanted]}, allow_nan=False).encode()
        answer = self._json(self._request(
            "POST", f"/v2/models/{urllib.parse.quote(self.model)}/infer", body, len(values)))
        outputs = answer.get("outputs")
        if not isinstance(outputs, list):
            raise RemoteError(f"{self.url}: infer answer without outputs")
        tensor = next((o for o in outputs if isinstance(o, dict)
                       and o.get("name") == output_name), None)
        if tensor is None:
            raise RemoteError(f"{self.url}: the answer lacks output {output_name!r}")
        shape, flat = tensor.get("shape"), _flatten(tensor.get("data"))
        if not (isinstance(shape, list) and shape and all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                and isinstance(flat, list) and shape[0] == len(values)
                and math.prod(shape) == len(flat)):
            raise RemoteError(f"{self.url}: output {output_name!r} has a malformed shape or "
                              "data (or another batch size than asked)")
        return {**tensor, "data": flat}


def _flatten(data: Any) -> Any:
    """Row-major nested lists (the protocol allows them) as one flat list; others as they
    are (the caller checks). Nesting is already bounded (_depth)."""
    if not (isinstance(data, list) and data and isinstance(data[0], list)):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        item = next(stack[-1], stack)
        if item is stack:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def body_sha256(data: bytes) -> str:
    """sha256 hex of a request or response body (what the query log records)."""
    return hashlib.sha256(data).hexdigest()
