"""A text model as its owner ships it -> TextModel: the cut, normalized, with its table.

    MODEL_DIR/ (config.json, model.safetensors, tokenizer.json) ──hf_folder──┐
    model.onnx (input_ids, attention_mask[, token_type_ids]; + tokenizer.json beside) ──┤
        ──cut.py at length T──> check: cut(E[ids]) == original(ids, ones, zeros) in onnxruntime
        ──normalize──> NormalizedModel (one float input [batch, T, hidden]) + table E

Why the check is run on the model itself, quantized or not: a quantized model must be
compared with its own quantized original, never with a float reference (its int8 rounding is
not an error of the cut); the cut only removes the lookup, so both run the same arithmetic
and agree to float rounding (the tolerance is 1e-4 relative, as for every normalization).

The tokenizer is read from the folder, or from a tokenizer.json beside an .onnx file. An
owner's model needs one (anchors are token sequences of its vocabulary); a suspect without
one is compared when its vocabulary size matches the fingerprint's, and says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from modelgif.budget import run_budgeted
from modelgif.digests import external_data_digests, sha256_file
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.backends.blackbox import is_quantized_graph
from modelgif.fingerprint.checkpoints import refuse_checkpoint
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.safe_onnx import Limits, load_onnx_bytes, load_onnx_file
from modelgif.fingerprint.text.cut import EMBEDDINGS, EmbeddingCut, cut_embedding, is_token_model
from modelgif.fingerprint.text.hf_folder import export_hf_folder, is_hf_folder
from modelgif.fingerprint.text.tokenizer import TextTokenizer, load_tokenizer

__all__ = ["TextModel", "is_text_model", "load_text_model"]

CHECK_TOLERANCE = 1e-4


@dataclass(frozen=True)
class TextModel:
    """A token-id model, cut at its embedding lookup and normalized."""

    normalized: NormalizedModel  # input [batch, T, hidden]
    table: np.ndarray  # (vocab, hidden) float32
    tokenizer: TextTokenizer | None
    name: str
    source_sha256: str  # the .onnx file, or the folder's model.safetensors
    data_files: tuple[tuple[str, str], ...]
    constant_inputs: dict[str, str]
    quantized_table: bool
    exporter: str | None  # how a folder was exported; None for an .onnx file

    @property
    def digest(self) -> str:
        return self.normalized.digest


def is_text_model(path: Path) -> bool:
    """A Hugging Face folder, or an .onnx file with an integer input (cheap: no weights read)."""
    if is_hf_folder(path):
        return True
    if not path.is_file() or path.suffix.lower() != ".onnx":
        return False
    if path.stat().st_size > Limits().max_file_bytes:
        return False  # the image path refuses it in one line
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # onnx raises DecodeError and others; the real loader gives the line
        return False
    return is_token_model(model)


def _tokenizer_for(path: Path) -> TextTokenizer | None:
    folder = path if path.is_dir() else path.parent
    candidate = folder / "tokenizer.json"
    return load_tokenizer(candidate) if candidate.is_file() else None


def load_text_model(path: str | Path, length: int, output: str | None = None,
                    exporter: str = "legacy") -> TextModel:
    """Read a folder or token-id .onnx, cut at `length` tokens, check and normalize it."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model file or folder")
    tokenizer = _tokenizer_for(path)
    files: tuple[tuple[str, str], ...]
    if is_hf_folder(path):
        raw = export_hf_folder(path, length, exporter)
        weights = path / "model.safetensors"
        source, files = sha256_file(weights), (("model.safetensors", sha256_file(weights)),)
        name, how = path.name + "/", exporter
    else:
        refuse_checkpoint(path)
        raw, source, files = None, sha256_file(path), tuple(external_data_digests(path))
        name, how = path.name, None
    cut, normalized = run_budgeted(_cut_and_normalize, path, raw, length, output, name,
                                   what="model")
    return TextModel(normalized, cut.table, tokenizer, name, source, files,
                     cut.constant_inputs, cut.quantized_table, how)


def _cut_and_normalize(
    path: Path, raw: bytes | None, length: int, output: str | None, name: str
) -> tuple[EmbeddingCut, NormalizedModel]:
    original = load_onnx_bytes(raw, name=name) if raw is not None else load_onnx_file(path)
    if not is_token_model(original):
        raise ModelLoadError(f"{name}: no integer input; not a token-id model")
    cut = cut_embedding(original, length)
    _check_cut(original, cut, name)
    quantized = is_quantized_graph(cut.model)
    normalized = normalize(cut.model.SerializeToString(), output=output, strict_output=False,
                           input_range=(float(cut.table.min()), float(cut.table.max())),
                           check=not quantized)
    if quantized:
        _check_per_sample(cut, normalized, name)
    return cut, normalized


def _check_per_sample(cut: EmbeddingCut, normalized: NormalizedModel, name: str) -> None:
    """A dynamically quantized graph quantizes each batch by its own range, so samples of a
    batch change each other's answers; the normalized graph is checked against the cut one
    request at a time (what one inference computes), both unfused, to 1e-4 relative."""
    ids = _check_ids(cut.vocab, cut.length)
    theirs_session, ours_session = _basic_session(cut.model), _basic_session(normalized.model)
    ours_name = ours_session.get_inputs()[0].name
    for row in ids:
        x = cut.table[row[None]]
        theirs = np.asarray(theirs_session.run(None, {EMBEDDINGS: x})[0], dtype=np.float64)
        ours = np.asarray(ours_session.run(None, {ours_name: x})[0], dtype=np.float64)
        scale = max(float(np.max(np.abs(theirs))), 1e-12)
        diff = float(np.max(np.abs(theirs - ours))) if theirs.shape == ours.shape else np.inf
        if not diff / scale <= CHECK_TOLERANCE:
            raise ModelLoadError(f"{name}: the normalized quantized model differs from the "
                                 f"original by {diff:.3g} ({diff / scale:.3g} relative, over "
                                 f"{CHECK_TOLERANCE})")


def _check_cut(original: onnx.ModelProto, cut: EmbeddingCut, name: str) -> None:
    """The cut model on E[ids] equals the original on ids (mask ones, types zeros)."""
    ids = _check_ids(cut.vocab, cut.length)
    try:
        whole = _basic_session(original)
        part = _basic_session(cut.model)
        outputs = []
        for row in ids:
            feeds = {}
            for value in whole.get_inputs():
                role = "ids" if value.name == cut.id_input else cut.constant_inputs[value.name]
                dtype = np.int32 if "int32" in value.type else np.int64
                feeds[value.name] = _feed(role, row, dtype)
            theirs = np.asarray(whole.run([part.get_outputs()[0].name], feeds)[0])
            ours = np.asarray(part.run(None, {EMBEDDINGS: cut.table[row[None]]})[0])
            outputs.append((theirs, ours))
    except Exception as error:  # onnxruntime raises its own exception types
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise ModelLoadError(f"{name}: onnxruntime cannot run the model at sequence length "
                             f"{cut.length} ({first})") from None
    for theirs, ours in outputs:
        if theirs.shape != ours.shape:
            raise ModelLoadError(f"{name}: the cut model's output {ours.shape} differs from "
                                 f"the original's {theirs.shape}")
        scale = max(float(np.max(np.abs(theirs))), 1e-12)
        diff = float(np.max(np.abs(theirs.astype(np.float64) - ours)))
        if not np.isfinite(diff) or diff / scale > CHECK_TOLERANCE:
            raise ModelLoadError(
                f"{name}: the model cut at its embedding lookup differs from the original by "
                f"{diff:.3g} ({diff / scale:.3g} relative, over {CHECK_TOLERANCE})"
            )


def _basic_session(model: onnx.ModelProto) -> ort.InferenceSession:
    """A CPU session without the extended fusions: onnxruntime fuses a quantized graph's
    MatMulInteger chains differently when the lookup is there or not, and the fused kernels
    round differently (0.4 % on an int8 MiniLM); unfused, the cut and the original run the
    same arithmetic and agree exactly."""
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                providers=["CPUExecutionProvider"])


def _check_ids(vocab: int, length: int) -> np.ndarray:
    seed = hashlib.sha256(b"modelgif text cut check").digest()
    rng = np.random.default_rng(int.from_bytes(seed[:8], "little"))
    return rng.integers(0, vocab, size=(3, length), dtype=np.int64)


def _feed(role: str, row: np.ndarray, dtype: type) -> np.ndarray:
    if role == "ids":
        return row[None].astype(dtype)
    if role == "positions":
        return np.arange(len(row), dtype=dtype)[None]
    return np.full((1, len(row)), 1 if role == "ones" else 0, dtype=dtype)
