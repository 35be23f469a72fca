"""Loading ONNX files that come from an adversary.

A suspect model is hostile input. This module is the front door and the only place that
reads model files. Its promises:
- no code runs on load: ONNX is protobuf, never pickle;
- memory is bounded: the file size, every tensor's DECLARED size (strings by their real
  content) and the node count after inlining local functions (computed before inlining)
  are checked against `Limits` before any tensor data is read or allocated;
- no file outside the model's folder is opened: ONE confinement rule covers every tensor of
  every graph, subgraph (If/Loop/Scan bodies) and local function. External-data locations
  must be relative, must not climb out (`..`, absolute paths, symlinks resolving elsewhere),
  must be regular files with a single link (a hard link can point anywhere), and are read
  here, by Python, never by onnx's or onnxruntime's own loaders. After loading, no tensor
  anywhere is external, so onnxruntime (which is only given bytes) never resolves a path;
- weights are finite: a NaN or Inf weight is refused, naming the tensor;
- every failure is a ModelLoadError with one line naming the problem and the tensor or node.

Why our own external-data reader: `onnx.load(..., load_external_data=True)` resolves
locations itself and its checks have changed between releases; one small reader we test
beats relying on a moving target.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, numpy_helper

from modelgif.errors import ModelLoadError
from modelgif.fingerprint.onnx_walk import (
    all_graphs,
    all_nodes,
    all_tensors,
    inlined_node_count,
)
from modelgif.safe_read import open_regular, read_bytes

__all__ = [
    "ALLOWED_DOMAINS", "Limits", "external_data_files", "load_onnx_bytes", "load_onnx_file",
]

GiB = 1 << 30

# Domains whose ops onnxruntime implements: the standard sets (ai.onnx, ai.onnx.ml, which
# onnxruntime's quantizer declares) and onnxruntime's contrib ops (emitted by its quantizer).
# Anything else could need a custom-op library: refused.
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
FLOAT_DTYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                          TensorProto.BFLOAT16})


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked before reading or allocating anything."""

    max_file_bytes: int = 2 * GiB
    max_tensor_bytes: int = 1 * GiB
    max_total_bytes: int = 4 * GiB
    max_nodes: int = 200_000  # after inlining local functions, subgraphs included


def load_onnx_file(path: str | Path, limits: Limits | None = None) -> onnx.ModelProto:
    """Parse `path` and read its external data (confined to the file's folder).

    Returns a model whose tensors are all inline, ready for checking and normalization.
    """
    limits = limits or Limits()
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model file")
    with os.fdopen(open_regular(path, "model file"), "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limits.max_file_bytes:
            raise ModelLoadError(
                f"{path.name}: file is {size} bytes, over the limit of {limits.max_file_bytes}"
            )
        data = handle.read(min(size, limits.max_file_bytes) + 1)
    return load_onnx_bytes(data, folder=path.parent, name=path.name, limits=limits)


def load_onnx_bytes(
    data: bytes,
    folder: Path | None = None,
    name: str = "model",
    limits: Limits | None = None,
) -> onnx.ModelProto:
    """Parse serialized ONNX; external data is allowed only when `folder` is given."""
    limits = limits or Limits()
    if len(data) > limits.max_file_bytes:
        raise ModelLoadError(
            f"{name}: {len(data)} bytes, over the limit of {limits.max_file_bytes}"
        )
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise ModelLoadError(
            f"{name}: not a valid ONNX protobuf (truncated or garbage?): {error}"
        ) from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ModelLoadError(f"{name}: not an ONNX model (no graph or no nodes)")
    nodes = inlined_node_count(model, limits.max_nodes, name)
    if nodes > limits.max_nodes:
        raise ModelLoadError(
            f"{name}: over {limits.max_nodes} nodes once subgraphs and local functions are "
            "counted, over the limit"
        )
    _check_domains(model, name)
    _check_unique_initializers(model, name)
    _check_and_inline_tensors(model, folder, name, limits)
    return model


def _check_unique_initializers(model: onnx.ModelProto, name: str) -> None:
    """Two initializers of one name: which one a runtime takes is not defined."""
    for graph in all_graphs(model):
        seen: set[str] = set()
        for tensor in [*graph.initializer, *(t.values for t in graph.sparse_initializer)]:
            if tensor.name in seen:
                raise ModelLoadError(f"{name}: two initializers are named '{tensor.name}'")
            seen.add(tensor.name)


def _check_domains(model: onnx.ModelProto, name: str) -> None:
    for opset in model.opset_import:
        if opset.domain not in ALLOWED_DOMAINS:
            raise ModelLoadError(f"{name}: opset import from unknown domain '{opset.domain}'")
    newest = onnx.defs.onnx_opset_version()
    for opset in [*model.opset_import, *(o for f in model.functions for o in f.opset_import)]:
        if opset.domain in ("", "ai.onnx") and not 1 <= opset.version <= newest:
            raise ModelLoadError(
                f"{name}: ONNX opset {opset.version} is not one this onnx knows (1 to {newest})"
            )
    for node in all_nodes(model):
        if node.domain not in ALLOWED_DOMAINS:
            raise ModelLoadError(
                f"{name}: node '{node.name or '?'}' uses op '{node.op_type}' from unknown "
                f"domain '{node.domain}'"
            )


def _declared_bytes(tensor: TensorProto, name: str, limits: Limits) -> int:
    """Bytes the tensor will occupy: dims x itemsize, or for strings their real content."""
    if any(dim < 0 for dim in tensor.dims):
        raise ModelLoadError(f"{name}: tensor '{tensor.name}' declares a negative dimension")
    count = int(math.prod(tensor.dims))
    if count > limits.max_tensor_bytes:  # checked before multiplying: no huge ints needed
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' declares {count} elements, over the limit of "
            f"{limits.max_tensor_bytes} bytes"
        )
    if tensor.data_type == TensorProto.STRING:
        if tensor.data_location == TensorProto.EXTERNAL:
            raise ModelLoadError(f"{name}: string tensor '{tensor.name}' has external data")
        declared = sum(len(item) for item in tensor.string_data) + 8 * count
    else:
        try:
            itemsize = int(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize)
        except (KeyError, ValueError, TypeError):
            raise ModelLoadError(
                f"{name}: tensor '{tensor.name}' has unsupported data type {tensor.data_type}"
            ) from None
        declared = count * itemsize
    if declared > limits.max_tensor_bytes:
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' declares {declared} bytes, over the limit of "
            f"{limits.max_tensor_bytes}"
        )
    return declared


def _check_and_inline_tensors(
    model: onnx.ModelProto, folder: Path | None, name: str, limits: Limits
) -> None:
    total = 0
    tensors = all_tensors(model, name)
    for tensor in tensors:
        declared = _declared_bytes(tensor, name, limits)
        total += declared
        if total > limits.max_total_bytes:
            raise ModelLoadError(
                f"{name}: tensors declare over {limits.max_total_bytes} bytes in total "
                f"(at '{tensor.name}')"
            )
        if tensor.data_location == TensorProto.EXTERNAL:
            _read_external(tensor, folder, name, declared)
        elif tensor.HasField("raw_data") and len(tensor.raw_data) != declared:
            raise ModelLoadError(
                f"{name}: tensor '{tensor.name}' holds {len(tensor.raw_data)} bytes but "
                f"declares {declared}"
            )
    for tensor in all_tensors(model, name):  # the promise onnxruntime relies on
        if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data) > 0:
            raise ModelLoadError(f"{name}: tensor '{tensor.name}' is still external")
    for tensor in tensors:
        _check_finite(tensor, name)


def _check_finite(tensor: TensorProto, name: str) -> None:
    """A NaN or Inf weight makes every output NaN-prone: refused, naming the tensor.

    One exception: a single-value constant of -inf or +inf is the fill value of an
    attention mask in transformer exports (`Where(mask, 0, -inf)`), not a weight; it is
    allowed. NaN never is.
    """
    if tensor.data_type not in FLOAT_DTYPES:
        return
    try:
        values = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise ModelLoadError(f"{name}: tensor '{tensor.name}' cannot be decoded: {error}") from None
    if values.size == 1 and np.all(np.isinf(values)):
        return
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' holds {bad} NaN or infinite values"
        )


def _read_external(tensor: TensorProto, folder: Path | None, name: str, declared: int) -> None:
    """Read one external tensor from inside `folder` and make it inline."""
    if folder is None:
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' has external data, but the model was given as "
            "bytes; load it from its file"
        )
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    target = _confined_path(folder, location, tensor.name, name)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info.get("length", str(declared)))
    except ValueError:
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' has a malformed offset or length"
        ) from None
    if offset < 0:
        raise ModelLoadError(f"{name}: tensor '{tensor.name}' has a negative external offset")
    if length != declared:
        raise ModelLoadError(
            f"{name}: tensor '{tensor.name}' external length {length} does not match its "
            f"declared size {declared}"
        )
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
            raise ModelLoadError(
                f"{name}: tensor '{tensor.name}' external data file '{location}' is not a "
                "plain file of the model's folder (hard link or special file)"
            )
        if offset + length > status.st_size:
            raise ModelLoadError(
                f"{name}: tensor '{tensor.name}' reads past the end of '{location}'"
            )
        handle.seek(offset)
        raw = handle.read(length)
    tensor.raw_data = raw
    del tensor.external_data[:]
    tensor.data_location = TensorProto.DEFAULT


def _confined_path(folder: Path, location: str, tensor: str, name: str) -> Path:
    """Resolve an external-data location, refusing anything that leaves `folder`."""
    relative = Path(location)
    if not location or relative.is_absolute() or ".." in relative.parts or "\x00" in location:
        raise ModelLoadError(
            f"{name}: tensor '{tensor}' external data location '{location}' escapes the "
            "model's folder"
        )
    root = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(root / relative))
    if root != target and root not in target.parents:
        raise ModelLoadError(
            f"{name}: tensor '{tensor}' external data location '{location}' escapes the "
            "model's folder"
        )
    try:
        status = os.stat(target)
    except OSError:
        raise ModelLoadError(
            f"{name}: tensor '{tensor}' external data file '{location}' is missing"
        ) from None
    if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
        raise ModelLoadError(
            f"{name}: tensor '{tensor}' external data file '{location}' is not a plain file "
            "of the model's folder (hard link or special file)"
        )
    return target


def external_data_files(path: str | Path, limits: Limits | None = None) -> list[str]:
    """The external-data locations a model file reads (confined to its folder), sorted.

    Why: evidence must cover every byte of a model, and a model's weights may live beside
    its graph (`model.onnx.data`); swapping that file changes the function while the graph
    file's hash stays the same. Refuses what `load_onnx_file` refuses.
    """
    limits = limits or Limits()
    path = Path(path)
    if not path.is_file() or path.stat().st_size > limits.max_file_bytes:
        raise ModelLoadError(f"{path}: no such model file, or over the size limit")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(read_bytes(path, limits.max_file_bytes, "model file"))
    except (DecodeError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{path.name}: not a valid ONNX protobuf: {error}") from None
    locations: set[str] = set()
    for tensor in all_tensors(model, path.name):
        if tensor.data_location == TensorProto.EXTERNAL:
            location = {e.key: e.value for e in tensor.external_data}.get("location", "")
            _confined_path(path.parent, location, tensor.name, path.name)
            locations.add(Path(location).as_posix())
    return sorted(locations)
