"""A real Open Inference Protocol (KServe v2 REST) server for tests: an onnxruntime session
behind the standard library's ThreadingHTTPServer, on 127.0.0.1 at a free port.

Modes: what the model's output becomes on the wire (logits, probabilities, topk via the
classification extension, labels). `limit_per_s` answers 429 with Retry-After past that many
requests in any one-second window. `misbehave` makes it hostile: "huge" (a body over any
sane cap), "nan" (NaN in the output), "shape" (one row short), "flaky" (a 503 on every other
request), "slow" (sleeps before answering).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import onnxruntime as ort


class V2Server:
    """Start with `start()` (or as a context manager); `url` is its base URL."""

    def __init__(self, model_bytes: bytes, name: str = "suspect", mode: str = "probabilities",
                 limit_per_s: int | None = None, misbehave: str | None = None) -> None:
        self.session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        self.name, self.mode = name, mode
        self.limit_per_s, self.misbehave = limit_per_s, misbehave
        self.accepted: deque[float] = deque()
        self.lock = threading.Lock()
        self.requests = 0
        self.rejected = 0
        self.samples = 0
        self.datatypes: set[str] = set()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> V2Server:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path != f"/v2/models/{server.name}":
                    self._send(404, {"error": "no such model"})
                    return
                self._send(200, server.metadata())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != f"/v2/models/{server.name}/infer":
                    self._send(404, {"error": "no such model"})
                    return
                status, payload, headers = server.infer(body)
                self._send(status, payload, headers)

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None
                      ) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                # the client may hang up on an answer it refuses: what it should do
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def __enter__(self) -> V2Server:
        return self.start()

    def __exit__(self, *args: object) -> None:
        self.stop()

    def metadata(self) -> dict[str, Any]:
        tensor = self.session.get_inputs()[0]
        shape = [d if isinstance(d, int) else -1 for d in tensor.shape]  # a fixed batch shows
        datatype = "UINT8" if tensor.type == "tensor(uint8)" else "FP32"
        out = {"logits": "FP32", "probabilities": "FP32", "topk": "BYTES", "labels": "INT64"}
        return {"name": self.name, "versions": ["1"], "platform": "onnxruntime_onnx",
                "inputs": [{"name": tensor.name, "datatype": datatype, "shape": shape}],
                "outputs": [{"name": "output", "datatype": out[self.mode], "shape": [-1, -1]}]}

    def _admit(self) -> bool:
        with self.lock:
            self.requests += 1
            now = time.monotonic()
            while self.accepted and now - self.accepted[0] >= 1.0:
                self.accepted.popleft()
            if self.limit_per_s is not None and len(self.accepted) >= self.limit_per_s:
                self.rejected += 1
                return False
            self.accepted.append(now)
            return True

    def infer(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        if not self._admit():
            return 429, {"error": "rate limit"}, {"Retry-After": "1"}
        if self.misbehave == "flaky" and self.requests % 2 == 1:
            return 503, {"error": "try again"}, {}
        if self.misbehave == "slow":
            time.sleep(2.0)
        request = json.loads(body)
        tensor = request["inputs"][0]
        self.datatypes.add(tensor["datatype"])
        meta = self.session.get_inputs()[0]
        dtype = np.uint8 if meta.type == "tensor(uint8)" else np.float32
        x = np.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
        logits = np.asarray(self.session.run(None, {meta.name: x})[0], dtype=np.float64)
        self.samples += len(x)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        if self.misbehave == "huge":
            return 200, b'{"outputs": [' + b" " * (80 << 20) + b"]}", {}
        if self.mode == "logits":
            out = {"datatype": "FP32", "shape": list(logits.shape), "data":
                   logits.astype(np.float32).reshape(-1).tolist()}
        elif self.mode == "probabilities":
            out = {"datatype": "FP32", "shape": list(probs.shape),
                   "data": probs.reshape(-1).tolist()}
        elif self.mode == "labels":
            out = {"datatype": "INT64", "shape": [len(x)],
                   "data": np.argmax(logits, axis=1).tolist()}
        else:
            wanted = request.get("outputs", [{}])[0].get("parameters", {})
            k = int(wanted.get("classification", 5))
            order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            out = {"datatype": "BYTES", "shape": [len(x), k],
                   "data": [f"{float(probs[i, j])!r}:{int(j)}"
                            for i, row in enumerate(order) for j in row]}
        if self.misbehave == "nan" and out["datatype"] == "FP32":
            out["data"][0] = float("nan")
        if self.misbehave == "shape":
            out["shape"][0] -= 1
        if self.misbehave == "nested":  # valid: row-major nested lists instead of flat data
            out["data"] = np.asarray(out["data"]).reshape(out["shape"]).tolist()
        payload = {"model_name": self.name, "id": "1", "outputs": [{"name": "output", **out}]}
        if self.misbehave == "nan":
            return 200, json.dumps(payload).encode(), {}
        return 200, payload, {}
