"""A suspect behind an inference server, as an oracle: probe points in, Answers out.

The server's metadata must match the fingerprint's input (the same sample shape; a UINT8
input only for a fingerprint whose input space is uint8, so the points are whole grey
levels). What each output kind expects back (Open Inference Protocol tensors):

    logits, probabilities   FP32/FP64/FP16, shape [B, C]
    labels                  an integer tensor, shape [B] or [B, 1]
    topk                    BYTES, shape [B, k], each "score:index" or "score:index:label"
                            (the protocol's classification extension; the request asks for it
                            with the output parameter {"classification": k})
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.remote.client import InferenceClient, RemoteError
from modelgif.verifiers.output_kinds import Answers
from modelgif.verifiers.probe_verdict import Oracle

__all__ = ["remote_oracle"]

_FLOATS = ("FP32", "FP64", "FP16")
_INTEGERS = ("INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16", "UINT32", "UINT64")
_MAX_CLASS = 1 << 20


def _input(client: InferenceClient, meta: dict[str, Any], shape: tuple[int, ...],
           dtype: str) -> tuple[str, str]:
    tensor = meta["inputs"][0]
    served = tuple(tensor["shape"][1:])
    if len(served) != len(shape) or any(s not in (-1, d) for s, d in zip(served, shape,
                                                                         strict=True)):
        raise RemoteError(f"{client.url}: the served input has shape {tensor['shape']}; the "
                          f"fingerprint's samples are {list(shape)}")
    datatype = tensor["datatype"]
    if datatype == "UINT8" and dtype != "uint8":
        raise RemoteError(f"{client.url}: the server takes UINT8 pixels but the fingerprint's "
                          "input space is float; fingerprint the model as it is served")
    if datatype not in ("FP32", "FP64", "UINT8"):
        raise RemoteError(f"{client.url}: input datatype {datatype} is not supported")
    return str(tensor["name"]), str(datatype)


def _numbers(tensor: dict[str, Any], url: str) -> np.ndarray:
    flat = tensor["data"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in flat):
        raise RemoteError(f"{url}: output data must be numbers")
    return np.asarray(flat, dtype=np.float64).reshape(tensor["shape"])


def _topk(tensor: dict[str, Any], url: str, classes: int) -> tuple[np.ndarray, np.ndarray]:
    if tensor.get("datatype") != "BYTES" or len(tensor["shape"]) != 2:
        raise RemoteError(f"{url}: top-k answers must be BYTES [batch, k] "
                          "(\"score:index[:label]\")")
    scores, indices = [], []
    for item in tensor["data"]:
        parts = item.split(":", 2) if isinstance(item, str) and len(item) <= 512 else []
        try:
            score, index = float(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise RemoteError(f"{url}: a top-k entry is not \"score:index\"") from None
        if not (math.isfinite(score) and 0 <= index < classes):
            raise RemoteError(f"{url}: a top-k entry has a score that is not finite or a class "
                              f"outside 0..{classes - 1}")
        scores.append(score)
        indices.append(index)
    shape = tensor["shape"]
    return (np.asarray(scores).reshape(shape), np.asarray(indices, dtype=np.int64).reshape(shape))


def remote_oracle(
    client: InferenceClient,
    kind: str,
    input_shape: tuple[int, ...],
    input_dtype: str,
    classes: int,
    top_k: int = 5,
    output_name: str | None = None,
) -> Oracle:
    """An oracle that sends probe points to `client`'s model, `batch_size` per request (or
    the model's fixed batch, when its metadata declares one)."""
    meta = client.metadata()
    name, datatype = _input(client, meta, input_shape, input_dtype)
    output = output_name or str(meta["outputs"][0]["name"])
    if output not in {o["name"] for o in meta["outputs"]}:
        raise InputError(f"{client.url}: the model has no output {output!r}")
    parameters = {"classification": top_k} if kind == "topk" else None
    served_batch = meta["inputs"][0]["shape"][0] if meta["inputs"][0]["shape"] else -1
    step = client.limits.batch_size if served_batch < 1 else min(client.limits.batch_size,
                                                                  served_batch)

    def answer(points: np.ndarray) -> Answers:
        parts: list[Answers] = []
        for i in range(0, len(points), step):
            batch = points[i:i + step]
            if datatype == "UINT8" and not np.array_equal(batch, np.clip(np.rint(batch), 0, 255)):
                raise InputError("probe points off the pixel grid cannot be sent as UINT8")
            tensor = client.infer(batch, name, datatype, output, parameters)
            parts.append(_decode(tensor, kind, len(batch), classes, client.url))
        values = np.concatenate([p.values for p in parts])
        got = [p.classes for p in parts if p.classes is not None]
        return Answers(kind, values, np.concatenate(got) if got else None)

    return answer


def _decode(tensor: dict[str, Any], kind: str, rows: int, classes: int, url: str) -> Answers:
    if kind == "topk":
        scores, indices = _topk(tensor, url, classes)
        return Answers(kind, scores, indices)
    datatype = tensor.get("datatype")
    if kind == "labels":
        values = _numbers(tensor, url)
        if datatype not in _INTEGERS or values.size != rows:
            raise RemoteError(f"{url}: labels must be one integer per sample")
        labels = values.reshape(rows)
        if np.any(labels < 0) or np.any(labels >= min(classes, _MAX_CLASS)):
            raise RemoteError(f"{url}: a label is outside 0..{classes - 1}")
        return Answers(kind, labels.astype(np.int64))
    values = _numbers(tensor, url)
    if datatype not in _FLOATS or values.ndim != 2:
        raise RemoteError(f"{url}: {kind} must be a float tensor [batch, classes]")
    if kind == "probabilities" and (np.any(values < 0) or np.any(values > 1)):
        raise RemoteError(f"{url}: probabilities outside [0, 1]")
    return Answers(kind, values)
