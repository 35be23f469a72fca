"""The field of a text model in the one-hot token space every model of a tokenizer shares.

A token-id model is a function of one-hot tokens X (T x vocab) through its own embedding
table E (vocab x hidden): the cut model (cut.py) sees X E. Along the straight path
X(a) = a X from the zero one-hot (the image, in each model's own embedding space, of the
path from zero to E[ids]), the gradient with respect to the one-hot tokens is

    dF/dX[t, v] = E[v] . g_t,        g_t = dF/d(embedding at position t),

so for two models with the same tokenizer (the same token behind each id) the one-hot
gradients live in the same space whatever their hidden sizes. The sketch projects the
cumulative integrated one-hot gradient G_s (T x vocab) by a secret Gaussian matrix whose
block for position t is P R_t (P: vocab x k, R_t: k x k, both from the fingerprint's sketch
secret):

    sketch_s = sum_t (G_s,t E^T) P R_t = sum_t G_s,t (E^T P R_t)

so each model needs only its own (hidden x k) blocks E^T P R_t, computed once, and the
backends differentiate the cut model in its own embedding space. Why P R_t rather than an
independent vocab x k matrix per position: the same expected inner products (the R_t are
independent and zero-mean, so cross-position terms vanish in expectation) for one vocab x k
draw and one E^T P product per model instead of T of them (30522 x 384 x 64 each).

The scalar F per output kind (`scalar`, signed into the fingerprint):
- "cosine" (an encoder's token states [batch, T, hidden], or a pooled embedding
  [batch, hidden]): mean pooling over the T tokens (all real: no padding), then the cosine
  to the model's OWN pooled embedding of a reference: anchor n's reference is anchor
  (n + 1) mod N. A cosine between two of its own embeddings is what a sentence encoder is
  for, is unchanged by any rotation or rescaling of its output space, and needs no output
  of the owner's model, so a student of another hidden size has the same scalar.
- "top1" (logits [batch, classes]): the own top-1 logit at the anchor, as for images.
- "next-token" (a decoder's logits over the vocabulary [batch, T, vocab]): the own top-1
  next-token logit at the last position (the last real token: anchors are never padded),
  the prediction a causal language model is used for; the logits of earlier positions see
  only a prefix of the anchor.

The field is the cumulative integrated gradient itself, not times (x - x0) as for images:
in one-hot space (x - x0) keeps a single entry per position (the anchor's own token), and
the substitution gradients to every other token are exactly what tells models apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelgif.crypto.keystream import KeyStream
from modelgif.errors import BackendError, InputError
from modelgif.fingerprint.backends.base import Backend
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend
from modelgif.fingerprint.backends.select import fall_back_reason, select_backend
from modelgif.fingerprint.field import Progress
from modelgif.fingerprint.quadrature import quadrature
from modelgif.fingerprint.sketch import Projection
from modelgif.fingerprint.text.per_sample import PerSampleExact
from modelgif.fingerprint.torch_graph import graph_ops
from modelgif.runtime import make_session

__all__ = [
    "SCALARS",
    "TextField",
    "cosine_head",
    "last_position_head",
    "onehot_projection",
    "pooled",
    "resolve_scalar",
    "text_field",
]


SCALARS = ("cosine", "top1", "next-token")
HIDDEN = "modelgif_text_hidden"


@dataclass(frozen=True)
class TextField:
    """A text model's sketch (N, S, k) float32 and how it was measured."""

    sketch: np.ndarray
    classes: np.ndarray  # reference index (cosine) or top-1 class per anchor
    estimator: dict[str, Any]
    eps: float | None  # the black-box step used, in embedding units (None: exact)


def resolve_scalar(scalar: str, output_shape: tuple[int | None, ...],
                   vocab: int | None = None) -> str:
    """'auto' -> 'next-token' for logits over the vocabulary [B, T, vocab], 'cosine' for
    other token states [B, T, H], 'top1' for a [B, C] output."""
    if scalar != "auto":
        if scalar not in SCALARS:
            raise InputError(f"The text scalar must be auto, {', '.join(SCALARS)}; got {scalar}.")
        if scalar == "top1" and len(output_shape) != 2:
            raise InputError("The 'top1' scalar needs a [batch, classes] output.")
        if scalar == "next-token" and len(output_shape) != 3:
            raise InputError("The 'next-token' scalar needs a [batch, T, vocab] output.")
        return scalar
    if len(output_shape) == 3:
        return "next-token" if vocab is not None and output_shape[2] == vocab else "cosine"
    if len(output_shape) == 2:
        return "top1"
    raise InputError(f"A text model's output must be [batch, T, hidden] or [batch, C]; got "
                     f"{len(output_shape)} dimensions.")


def onehot_projection(secret: bytes, table: np.ndarray, length: int, k: int) -> Projection:
    """The (T * hidden, k) matrix whose block t is E^T P R_t (module docstring)."""
    vocab, hidden = table.shape
    p = KeyStream(secret, f"text/onehot/{vocab}x{k}").normal(vocab * k).reshape(vocab, k)
    r = KeyStream(secret, f"text/positions/{length}x{k}").normal(length * k * k)
    r = r.reshape(length, k, k) / math.sqrt(k)
    base = table.astype(np.float64).T @ (p / math.sqrt(k))  # (hidden, k)
    matrix = np.einsum("hk,tkj->thj", base, r).reshape(length * hidden, k).astype(np.float32)
    matrix.setflags(write=False)
    return Projection(dim=length * hidden, k=k, kind="gaussian", matrix=matrix)


def pooled(outputs: np.ndarray) -> np.ndarray:
    """Mean over the tokens of [B, T, H] (all real tokens), or [B, H] as it is."""
    out = np.asarray(outputs, dtype=np.float64)
    return out.mean(axis=1) if out.ndim == 3 else out.reshape(len(out), -1)


def cosine_head(model: onnx.ModelProto, references: np.ndarray) -> onnx.ModelProto:
    """`model` followed by mean pooling and the cosine to each reference: [B, N] output."""
    head = onnx.ModelProto()
    head.CopyFrom(model)
    graph = head.graph
    out = graph.output[0]
    rank = len(out.type.tensor_type.shape.dim)
    for node in graph.node:
        node.output[:] = [HIDDEN if n == out.name else n for n in node.output]
        node.input[:] = [HIDDEN if n == out.name else n for n in node.input]
    unit = references / np.maximum(np.linalg.norm(references, axis=1, keepdims=True), 1e-12)
    consts = {
        "modelgif_text_axis": np.array([1], np.int64),
        "modelgif_text_tiny": np.array(1e-24, np.float32),
        "modelgif_text_refs": unit.T.astype(np.float32),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    pooled_name = HIDDEN
    if rank == 3:
        graph.node.append(helper.make_node("ReduceMean", [HIDDEN, "modelgif_text_axis"],
                                           ["modelgif_text_pooled"], keepdims=0))
        pooled_name = "modelgif_text_pooled"
    graph.node.extend([
        helper.make_node("Mul", [pooled_name, pooled_name], ["modelgif_text_sq"]),
        helper.make_node("ReduceSum", ["modelgif_text_sq", "modelgif_text_axis"],
                         ["modelgif_text_sum"], keepdims=1),
        helper.make_node("Max", ["modelgif_text_sum", "modelgif_text_tiny"],
                         ["modelgif_text_safe"]),
        helper.make_node("Sqrt", ["modelgif_text_safe"], ["modelgif_text_norm"]),
        helper.make_node("Div", [pooled_name, "modelgif_text_norm"], ["modelgif_text_unit"]),
        helper.make_node("MatMul", ["modelgif_text_unit", "modelgif_text_refs"], [out.name]),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(out.name, TensorProto.FLOAT,
                                                      ["batch", len(references)]))
    del graph.value_info[:]
    return head


def last_position_head(model: onnx.ModelProto, length: int) -> onnx.ModelProto:
    """`model` ([B, T, vocab] logits) followed by the logits at the last position: [B, vocab]."""
    head = onnx.ModelProto()
    head.CopyFrom(model)
    graph = head.graph
    out = graph.output[0]
    for node in graph.node:
        node.output[:] = [HIDDEN if n == out.name else n for n in node.output]
        node.input[:] = [HIDDEN if n == out.name else n for n in node.input]
    graph.initializer.append(numpy_helper.from_array(np.array(length - 1, np.int64),
                                                     "modelgif_text_last"))
    graph.node.append(helper.make_node("Gather", [HIDDEN, "modelgif_text_last"], [out.name],
                                       axis=1))
    vocab = out.type.tensor_type.shape.dim[2]
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(
        out.name, TensorProto.FLOAT, ["batch", vocab.dim_value or "vocab"]))
    del graph.value_info[:]
    return head


def _forward(model: onnx.ModelProto, x: np.ndarray, per_sample: bool) -> np.ndarray:
    session = make_session(model.SerializeToString())
    name = session.get_inputs()[0].name
    step = 1 if per_sample else 64
    return np.concatenate([np.asarray(session.run(None, {name: x[i:i + step]})[0])
                           for i in range(0, len(x), step)])


def _engine(head: onnx.ModelProto, x: np.ndarray, backend: str,
            eps: float | None) -> tuple[Backend, str]:
    """select_backend, except that a batch-coupled graph gets the per-sample vmap backend."""
    if backend == "blackbox":
        return BlackBoxBackend.from_onnx(head, eps=eps), "black-box requested"
    if "DynamicQuantizeLinear" not in graph_ops(head):
        return select_backend(head, x, backend)
    try:
        engine = PerSampleExact(head)
        engine.check(x)
    except BackendError as error:
        return BlackBoxBackend.from_onnx(head, eps=eps), fall_back_reason(error, backend)
    return engine, ("exact backend, per sample: converted graph matches onnxruntime on the "
                    "anchors")


def text_field(
    model: onnx.ModelProto,
    table: np.ndarray,
    ids: np.ndarray,
    secret: bytes,
    scalar: str,
    n_steps: int,
    rule: str,
    sketch_dim: int,
    backend: str = "auto",
    eps: float | None = None,
    progress: Progress | None = None,
) -> TextField:
    """The text field of a cut model (cut.py; normalized) at token-id anchors `ids` (N, T).

    `backend` "auto" | "exact" | "blackbox"; black-box needs `eps` (embedding units).
    Run it under run_budgeted: it runs the model.
    """
    n, length = ids.shape
    if ids.min() < 0 or ids.max() >= len(table):
        raise InputError(f"Anchor token ids fall outside this model's vocabulary of {len(table)}.")
    x = table[ids.astype(np.int64)].astype(np.float32)  # (N, T, H)
    per_sample = "DynamicQuantizeLinear" in {node.op_type for node in model.graph.node}
    if scalar == "cosine":
        references = pooled(_forward(model, x[(np.arange(n) + 1) % n], per_sample))
        head = cosine_head(model, references)
        classes = np.arange(n, dtype=np.int64)
    elif scalar == "next-token":
        head = last_position_head(model, length)
        classes = np.argmax(_forward(head, x, per_sample).reshape(n, -1), axis=1)
    else:
        head = model
        classes = np.argmax(_forward(model, x, per_sample).reshape(n, -1), axis=1)
    engine, reason = _engine(head, x, backend, eps)
    if engine.name == "blackbox" and eps is None:
        raise InputError("The black-box text field needs a finite-difference step.")
    if isinstance(engine, BlackBoxBackend):
        engine.eps = eps
    projection = onehot_projection(secret, table, length, sketch_dim)
    quad = quadrature(rule, n_steps)
    s = quad.n_steps
    sketch = np.zeros((n, s, sketch_dim), dtype=np.float64)
    ones = np.ones_like(x)
    total, chunk = n * s, 64 if engine.name == "exact" else 16
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        a_idx, s_idx = idx // s, idx % s
        points = (quad.nodes[s_idx].reshape(-1, 1, 1) * x[a_idx]).astype(np.float32)
        grads = engine.point_gradients(points, ones[a_idx], projection, "class", classes[a_idx])
        sketch[a_idx, s_idx] = grads.sketch
        if progress is not None:
            progress(int(idx[-1]) + 1, total)
    cumulative = np.cumsum(sketch * quad.weights.reshape(1, s, 1), axis=1).astype(np.float32)
    estimator = {"name": engine.name, "params": engine.params(), "reason": reason}
    return TextField(cumulative, classes, estimator, eps if engine.name == "blackbox" else None)
