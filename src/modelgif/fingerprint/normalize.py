"""Any model -> NormalizedModel: one canonical, checked ONNX form with a content digest.

    torch.nn.Module + example ─export─┐
    .onnx (+ external data) ──────────┼─safe_onnx─> canonicalize ─> check ─> NormalizedModel
    onnx.ModelProto ──────────────────┘              │                      {model, digest,
                                                      │                       input_spec,
    opset -> 20, local functions inlined, one output  │                       output_spec}
    (model_output.py), names and metadata canonical,  │
    uint8 input -> float view (input_space.py), fixed │
    batch -> dynamic (batching.py), shapes inferred <─┘

A training checkpoint (.pt, .pth, .bin, .ckpt, .safetensors, or a pickle or zip under any
name) is refused before anything reads it (checkpoints.py). onnxruntime's own messages are
never the whole error: each failure says which file, what failed, and the fix.

Why canonical: the same function saved twice (other node names, other doc strings, other
producer) must get the same digest, so a fingerprint names a function, not a file; any weight
change must change it. The digest hashes the deterministic serialization of the canonical
graph and opsets, never metadata. modelgif's own metadata (the input value range and input
dtype) rides in `metadata_props` of the saved file and is stripped again before hashing, so
normalizing a normalized file is the identity.

Every normalization is checked numerically: the normalized model in onnxruntime is compared
with the original (the torch module, or the original ONNX in onnxruntime) and a relative
difference over 1e-4 is an error, never a warning. A quantized graph is compared with its
own quantized original, both in onnxruntime without its extended fusions (runtime.py): the
fused integer kernels round differently depending on the graph around them, by far more
than 1e-4, which says nothing about normalization.

Why one file of about 500 lines: normalization is one ordered pipeline (load, convert the
opset, inline, pick the output, fix the batch, rename, check), and each step's precondition
is the previous step's result; the steps with a life of their own already live apart
(safe_onnx, onnx_walk, batching, input_space, model_output, checkpoints).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.inliner
import torch
from onnx import TensorProto, checker, shape_inference, version_converter

from modelgif.budget import run_budgeted
from modelgif.digests import sha256_file
from modelgif.errors import InputError, ModelLoadError
from modelgif.fingerprint.backends.blackbox import is_quantized_graph
from modelgif.fingerprint.batching import make_batch_dynamic
from modelgif.fingerprint.checkpoints import refuse_checkpoint
from modelgif.fingerprint.export import Exporter, export_torch
from modelgif.fingerprint.input_space import (
    DTYPE_KEY,
    INTEGER_SPACES,
    float_view,
    source_dtype,
    space_range,
    stored_dtype,
    to_source_dtype,
)
from modelgif.fingerprint.model_output import choose_output, keep_output
from modelgif.fingerprint.ort_errors import ort_message
from modelgif.fingerprint.reference import Reference, onnx_reference, run_error
from modelgif.fingerprint.safe_onnx import Limits, load_onnx_bytes, load_onnx_file
from modelgif.fingerprint.tensor_spec import TensorSpec
from modelgif.runtime import make_session

__all__ = [
    "CANONICAL_OPSET",
    "NORMALIZATION_VERSION",
    "NormalizedModel",
    "TensorSpec",
    "load_normalized",
    "normalize",
]

log = logging.getLogger(__name__)

CANONICAL_OPSET = 20
INPUT_NAME = "input"
OUTPUT_NAME = "output"
RANGE_KEY = "modelgif.input_range"
MAX_RELATIVE_ERROR = 1e-4
CHECK_BATCH = 8
# The version of the canonical form the digest hashes. A digest names a function only
# within one version: bump this whenever a change to normalization could change the digest
# of an unchanged model, so records say which canonical form their digests are of.
NORMALIZATION_VERSION = 1
INPUT_TYPES = {TensorProto.FLOAT, *(elem for _, elem in INTEGER_SPACES.values())}
MAX_INPUT_ELEMENTS = 1 << 24  # per sample: 3x1024x1024 images fit, a [batch, 1e8] input not
OUTPUT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16})


@dataclass(frozen=True)
class NormalizedModel:
    """A model in modelgif's canonical ONNX form. `digest` names its function."""

    model: onnx.ModelProto
    digest: str
    input_spec: TensorSpec
    output_spec: TensorSpec
    opset: int
    source_sha256: str | None = None
    max_abs_diff: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    output_name: str | None = None  # the chosen output's name in the original model

    def to_bytes(self) -> bytes:
        """The serialized model with modelgif's metadata (not part of the digest)."""
        return bytes(self.model.SerializeToString(deterministic=True))

    def save(self, path: str | Path) -> Path:
        """Write one self-contained .onnx file (weights inline)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path

    def summary(self) -> dict[str, Any]:
        """JSON-able public description."""
        return {
            "digest": self.digest,
            "normalization_version": NORMALIZATION_VERSION,
            "opset": self.opset,
            "input": self.input_spec.to_dict(),
            "output": self.output_spec.to_dict(),
            "source_sha256": self.source_sha256,
            "max_abs_diff": self.max_abs_diff,
            "notes": list(self.notes),
            "output_name": self.output_name,
        }


def normalize(
    model: torch.nn.Module | str | Path | onnx.ModelProto | bytes,
    example_input: torch.Tensor | None = None,
    *,
    exporter: Exporter = "legacy",
    input_range: tuple[float, float] | None = None,
    limits: Limits | None = None,
    check: bool = True,
    output: str | None = None,
    strict_output: bool = True,
) -> NormalizedModel:
    """Turn a torch module, an .onnx path, a ModelProto or ONNX bytes into a NormalizedModel.

    `input_range` declares the input's value range (used for anchors and checks); a
    normalized file remembers it. `check` compares the result with the original numerically.
    `output` names the output the field is taken of (default: the first); without
    `strict_output` a model lacking that name is read at its first output (a suspect).
    ONNX input is loaded and checked in a child process held to the budget (budget.py).
    """
    choice = (output, strict_output)
    if isinstance(model, torch.nn.Module):
        return _normalize_module(model, example_input, exporter, input_range, limits, check,
                                 choice)
    return run_budgeted(_normalize_onnx, model, input_range, limits, check, choice,
                        what="model")


def _normalize_onnx(
    model: str | Path | onnx.ModelProto | bytes,
    input_range: tuple[float, float] | None,
    limits: Limits | None,
    check: bool,
    choice: tuple[str | None, bool],
) -> NormalizedModel:
    source_sha256: str | None = None
    name = "model"
    if isinstance(model, str | Path):
        path = Path(model)
        refuse_checkpoint(path)
        original = load_onnx_file(path, limits)
        source_sha256 = sha256_file(path)
        name = path.name
    elif isinstance(model, bytes):
        original = load_onnx_bytes(model, limits=limits)
        source_sha256 = hashlib.sha256(model).hexdigest()
    elif isinstance(model, onnx.ModelProto):
        original = load_onnx_bytes(model.SerializeToString(), limits=limits)
    else:
        raise InputError(f"Cannot normalize a {type(model).__name__}; give a path, bytes, "
                         "an onnx.ModelProto or a torch.nn.Module with an example input.")
    declared = input_range or _stored_range(original)
    return _finish(original, declared, check, None, source_sha256, name, choice)


def load_normalized(path: str | Path, limits: Limits | None = None) -> NormalizedModel:
    """Read a model file and normalize it (idempotent on files written by `save`)."""
    return normalize(Path(path), limits=limits)


def _normalize_module(
    module: torch.nn.Module,
    example_input: torch.Tensor | None,
    exporter: Exporter,
    input_range: tuple[float, float] | None,
    limits: Limits | None,
    check: bool,
    choice: tuple[str | None, bool],
) -> NormalizedModel:
    if example_input is None:
        raise InputError("Normalizing a torch module needs an example input (any batch size).")
    with tempfile.TemporaryDirectory(prefix="modelgif-export-") as folder:
        path = export_torch(module, example_input, Path(folder) / "model.onnx", exporter)
        original = load_onnx_file(path, limits)

    def reference(batch: np.ndarray) -> np.ndarray:
        module.eval()
        with torch.no_grad():
            output = module(torch.from_numpy(to_source_dtype(batch, dtype)))
        if isinstance(output, tuple | list):  # several outputs: the chosen one
            output = output[names.index(chosen)]
        return np.asarray(output.detach().cpu().numpy(), dtype=np.float32)

    dtype = source_dtype(original)
    names = [o.name for o in original.graph.output]
    chosen = choose_output(original, *choice)
    return _finish(original, input_range, check, reference, None, "model", choice)


def _finish(
    original: onnx.ModelProto,
    input_range: tuple[float, float] | None,
    check: bool,
    reference: Reference | None,
    source_sha256: str | None,
    name: str,
    choice: tuple[str | None, bool],
) -> NormalizedModel:
    output_name = choose_output(original, *choice)
    dtype = source_dtype(original)
    dtype = stored_dtype(original) if dtype == "float32" else dtype  # a normalized file
    input_range = input_range or space_range(dtype)
    canonical, notes = _canonicalize(original, output_name, input_range, dtype, name)
    input_spec = _input_spec(canonical, input_range, dtype)
    output_spec = _output_spec(canonical)
    digest = "sha256:" + hashlib.sha256(canonical.SerializeToString(deterministic=True)).hexdigest()
    if input_range is not None:
        _set_metadata(canonical, RANGE_KEY, f"{input_range[0]!r},{input_range[1]!r}")
    if dtype != "float32":
        _set_metadata(canonical, DTYPE_KEY, dtype)
    opset = next(o.version for o in canonical.opset_import if o.domain in ("", "ai.onnx"))
    diff = None
    if check:
        normalized = NormalizedModel(canonical, digest, input_spec, output_spec, opset)
        diff = _compare(normalized, reference or onnx_reference(original, output_name, name),
                        name)
    return NormalizedModel(canonical, digest, input_spec, output_spec, opset,
                           source_sha256, diff, tuple(notes), output_name)


def _canonicalize(
    original: onnx.ModelProto,
    output_name: str,
    input_range: tuple[float, float] | None,
    dtype: str,
    name: str,
) -> tuple[onnx.ModelProto, list[str]]:
    """Inline functions, keep one output, convert the opset, strip metadata, rename
    canonically, take the float view, make the batch dynamic, infer shapes."""
    notes: list[str] = []
    model = onnx.ModelProto()
    model.CopyFrom(original)
    if len(model.functions) > 0:
        model = onnx.inliner.inline_local_functions(model)
    _check_io(model)
    if len(model.graph.output) > 1:
        keep_output(model, output_name)
        notes.append(f"field taken of output '{output_name}'")
    _drop_initializer_inputs(model)
    _strip_metadata(model)
    model = _convert_opset(model, notes)
    _rename(model)
    float_view(model)
    _clear_value_info(model.graph)
    shape = tuple(int(d.dim_value) for d in model.graph.input[0].type.tensor_type.shape.dim)
    spec = TensorSpec(INPUT_NAME, (None, *shape[1:]), dtype, input_range)
    plan = make_batch_dynamic(model, spec.example_batch, name)
    model = plan.model
    if plan.note:
        notes.append(plan.note)
        log.info("%s: %s", name, plan.note)
    try:
        model = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        checker.check_model(model, full_check=True)
    except Exception as error:  # onnx raises several unrelated types here
        raise ModelLoadError(f"model fails the ONNX checker: {_first_line(error)}") from None
    return model, notes


def _check_io(model: onnx.ModelProto) -> None:
    """One float input with a known shape, at least one output: else a clear refusal."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(f"'{i.name}'" for i in inputs)
        raise ModelLoadError(
            f"model has {len(inputs)} inputs ({names}); modelgif needs exactly one float input "
            "(declare an input space by wrapping the model)"
        )
    tensor_type = inputs[0].type.tensor_type
    if tensor_type.elem_type not in INPUT_TYPES:
        kind = TensorProto.DataType.Name(tensor_type.elem_type).lower()
        raise ModelLoadError(
            f"input '{inputs[0].name}' is {kind}; modelgif needs a float32 or uint8 input "
            "(other types have no declared input space to take gradients in)"
        )
    if not tensor_type.HasField("shape") or len(tensor_type.shape.dim) == 0:
        raise ModelLoadError(f"input '{inputs[0].name}' has no declared shape")
    for position, dim in enumerate(tensor_type.shape.dim[1:], start=1):
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            raise ModelLoadError(
                f"input '{inputs[0].name}' has no fixed size in dimension {position}; "
                "only the batch dimension may be dynamic"
            )
    elements = 1
    for dim in tensor_type.shape.dim[1:]:
        elements *= dim.dim_value
        if elements > MAX_INPUT_ELEMENTS:
            raise ModelLoadError(
                f"input '{inputs[0].name}' has over {MAX_INPUT_ELEMENTS} values per sample, "
                "over the limit"
            )
    if len(model.graph.output) == 0:
        raise ModelLoadError("model declares no output")
    output_type = model.graph.output[0].type.tensor_type.elem_type
    if output_type not in OUTPUT_TYPES:
        kind = TensorProto.DataType.Name(output_type).lower()
        raise ModelLoadError(
            f"output '{model.graph.output[0].name}' is {kind}; modelgif needs a float output "
            "(a gradient field needs real-valued answers)"
        )


def _drop_initializer_inputs(model: onnx.ModelProto) -> None:
    """Old exporters list weights as graph inputs; they are not inputs of the function."""
    initializers = {t.name for t in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(keep)


def _strip_metadata(model: onnx.ModelProto) -> None:
    for name in ("producer_name", "producer_version", "domain", "doc_string", "model_version"):
        model.ClearField(name)  # type: ignore[arg-type]
    del model.metadata_props[:]
    model.graph.ClearField("doc_string")
    model.graph.name = "modelgif"
    for node in model.graph.node:
        node.ClearField("doc_string")
        del node.metadata_props[:]
    for value in [*model.graph.input, *model.graph.output, *model.graph.initializer]:
        value.ClearField("doc_string")
    for tensor in model.graph.initializer:
        del tensor.metadata_props[:]


def _convert_opset(model: onnx.ModelProto, notes: list[str]) -> onnx.ModelProto:
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if version is None:
        raise ModelLoadError("model imports no standard ONNX opset")
    if version == CANONICAL_OPSET:
        return model
    try:
        converted = version_converter.convert_version(model, CANONICAL_OPSET)
    except Exception as error:  # the converter raises RuntimeError or ValueError subclasses
        notes.append(f"kept opset {version}: conversion to {CANONICAL_OPSET} failed "
                     f"({_first_line(error)})")
        log.warning(notes[-1])
        return model
    return converted


def _rename(model: onnx.ModelProto) -> None:
    """Name everything by position: input, output, w0.., t0.., n0.. (order is the graph's)."""
    graph = model.graph
    mapping = {graph.input[0].name: INPUT_NAME}
    for index, output in enumerate(graph.output):
        mapping[output.name] = OUTPUT_NAME if index == 0 else f"{OUTPUT_NAME}{index}"
    used_order: list[str] = []
    for node in graph.node:
        used_order.extend(n for n in node.input if n)
    initializers = {t.name: t for t in graph.initializer}
    weight_names = [n for n in dict.fromkeys(used_order) if n in initializers]
    weight_names += [n for n in initializers if n not in weight_names]
    for index, name in enumerate(weight_names):
        mapping.setdefault(name, f"w{index}")
    count = 0
    for node in graph.node:
        for name in node.output:
            if name and name not in mapping:
                mapping[name] = f"t{count}"
                count += 1
    for index, node in enumerate(graph.node):
        node.name = f"n{index}"
        node.input[:] = [mapping.get(n, n) if n else n for n in node.input]
        node.output[:] = [mapping.get(n, n) if n else n for n in node.output]
    ordered = [initializers[n] for n in weight_names]
    for tensor in ordered:
        tensor.name = mapping[tensor.name]
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    for value in [*graph.input, *graph.output]:
        value.name = mapping[value.name]


def _clear_value_info(graph: onnx.GraphProto) -> None:
    """Drop inferred shapes, in subgraphs too (a per-sample Scan body), to re-infer them."""
    del graph.value_info[:]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _clear_value_info(attribute.g)


def _input_spec(
    model: onnx.ModelProto, value_range: tuple[float, float] | None, dtype: str
) -> TensorSpec:
    value = model.graph.input[0]
    dims = value.type.tensor_type.shape.dim
    shape = (None, *[int(d.dim_value) for d in dims[1:]])
    if value_range is not None and not (
        np.isfinite(value_range).all() and value_range[0] < value_range[1]
    ):
        raise InputError(
            f"The input range must be finite (low, high) with low < high. Got {value_range}."
        )
    return TensorSpec(value.name, shape, dtype, value_range)


def _output_spec(model: onnx.ModelProto) -> TensorSpec:
    value = model.graph.output[0]
    tensor_type = value.type.tensor_type
    dims = tensor_type.shape.dim if tensor_type.HasField("shape") else []
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in dims)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    return TensorSpec(value.name, shape, dtype)


def _stored_range(model: onnx.ModelProto) -> tuple[float, float] | None:
    for prop in model.metadata_props:
        if prop.key == RANGE_KEY:
            try:
                low, high = (float(v) for v in prop.value.split(","))
            except ValueError:
                raise ModelLoadError(f"malformed {RANGE_KEY} metadata: {prop.value!r}") from None
            return (low, high)
    return None


def _set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    entry = model.metadata_props.add()
    entry.key = key
    entry.value = value


def _compare(normalized: NormalizedModel, reference: Reference, name: str) -> float:
    """Max abs difference on a deterministic batch; an error past 1e-4 relative."""
    batch = normalized.input_spec.example_batch(CHECK_BATCH)
    try:
        session = make_session(normalized.to_bytes(),
                               fused=not is_quantized_graph(normalized.model))
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelLoadError(f"{name}: onnxruntime cannot load the normalized model "
                             f"({ort_message(error)})") from None
    try:
        ours = np.asarray(session.run(None, {INPUT_NAME: batch})[0])
    except Exception as error:  # onnxruntime raises its own exception types
        raise run_error(session, INPUT_NAME, batch, error, name) from None
    theirs = reference(batch)
    if ours.shape != theirs.shape:
        raise ModelLoadError(f"normalized output shape {ours.shape} differs from {theirs.shape}")
    if ours.ndim == 0 or ours.shape[0] != len(batch):
        raise ModelLoadError(
            f"the model's output {ours.shape} does not keep the batch dimension of its input "
            f"({len(batch)} samples in); modelgif needs one answer per sample"
        )
    bad = int(np.count_nonzero(~np.isfinite(ours).reshape(len(batch), -1).all(axis=1)))
    bad = max(bad, int(np.count_nonzero(~np.isfinite(theirs).reshape(len(batch), -1).all(1))))
    if bad:
        raise ModelLoadError(
            f"the model returns NaN/Inf on {bad} of {len(batch)} check inputs: its answers "
            "are not evidence"
        )
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    scale = max(float(np.max(np.abs(theirs))), 1e-12)
    if diff / scale > MAX_RELATIVE_ERROR:
        raise ModelLoadError(
            f"normalized model differs from the original by {diff:.3g} "
            f"({diff / scale:.3g} relative, over {MAX_RELATIVE_ERROR})"
        )
    log.info("normalized model matches the original: max abs diff %.3g", diff)
    return diff


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
