"""Text models: fingerprint, compare a suspect, calibrate; the same .mgf and verdicts.

    owner's folder or token-id .onnx ──model.py──> TextModel (cut at T, normalized, table E)
    owner key + fresh id ──HKDF──> anchor secret ──anchors.py──> N token sequences of T ids
                         └────────> sketch secret ──field.py──> one-hot sketches:
        "sketch"         exact gradients (the interpreter; black-box if it cannot run it)
        "sketch_coarse"  black-box differences at the quantization-scale step
    ──write_fingerprint──> signed .mgf: the same file as for images, with a "text" section in
    its config (anchor length, tokenizer digests, scalar, hidden size, ...) and the token ids
    sealed as anchors.

A suspect is read the same way, at the signed length T; its vocabulary must be the
fingerprint's (tokenizer.py); its own table maps the shared one-hot projection into its own
embedding space, so a suspect of another hidden size is compared in the same space. Like
images, a quantized suspect is compared with the coarse sketch, a float one with the exact
sketch; the verdict and calibration code is shared (verifiers/).

Defaults (TextSettings): T = 32 tokens, 32 anchors, 8 Gauss-Legendre steps, k = 64. Text
fields are cheap per point but every text model is a transformer, so the budget is spent on
anchors rather than steps (BENCHMARKS.md, "Text transformers", has the timings).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.budget import run_budgeted
from modelgif.crypto.kdf import (
    derive_anchor_key,
    derive_anchor_secret,
    new_fingerprint_id,
    sketch_secret,
)
from modelgif.crypto.keys import PrivateKey
from modelgif.errors import InputError
from modelgif.fingerprint.backends.blackbox import FLOAT_EPS, QUANTIZED_EPS, is_quantized_graph
from modelgif.fingerprint.create import FingerprintSecrets
from modelgif.fingerprint.field import Progress, field_cosines
from modelgif.fingerprint.model_output import CONFIG_KEY
from modelgif.fingerprint.quadrature import RULES
from modelgif.fingerprint.record import Fingerprint, write_fingerprint
from modelgif.fingerprint.text.anchors import TEXT_SOURCES, text_anchors
from modelgif.fingerprint.text.field import TextField, resolve_scalar, text_field
from modelgif.fingerprint.text.model import TextModel, load_text_model
from modelgif.fingerprint.text.tokenizer import read_texts
from modelgif.validation import check_choice, check_int

__all__ = ["TEXT_KEY", "TextComparison", "TextSettings", "calibrate_text", "compare_text",
           "create_text_fingerprint", "is_text_fingerprint"]

log = logging.getLogger(__name__)

TEXT_KEY = "text"
TEXT_FORMAT = 1


@dataclass(frozen=True)
class TextSettings:
    """The text-specific settings; everything that changes the numbers is signed."""

    length: int = 32
    n_anchors: int = 32
    source: str = "synthetic"
    scalar: str = "auto"
    n_steps: int = 8
    sketch_dim: int = 64
    rule: str = "gauss-legendre"
    backend: str = "auto"
    coarse: bool = False

    def __post_init__(self) -> None:
        check_int(self.length, "length", "TextSettings", 4, 512)
        check_int(self.n_anchors, "n_anchors", "TextSettings", 2, 4096)
        check_choice(self.source, "source", "TextSettings", TEXT_SOURCES)
        check_int(self.n_steps, "n_steps", "TextSettings", 1, 256)
        check_int(self.sketch_dim, "sketch_dim", "TextSettings", 1, 4096)
        check_choice(self.backend, "backend", "TextSettings", ("auto", "exact", "blackbox"))


@dataclass(frozen=True)
class TextComparison:
    """One suspect against a text fingerprint (the shape verify_suspect's Comparison has)."""

    cosines: np.ndarray
    sketch: str
    estimator: dict[str, Any]
    digest: str
    notes: tuple[str, ...] = ()


def is_text_fingerprint(fingerprint: Fingerprint) -> bool:
    return TEXT_KEY in fingerprint.config


def _scale(model: TextModel, ids: np.ndarray) -> float:
    x = model.table[ids.astype(np.int64)].astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) or 1.0


def _field(model: TextModel, ids: np.ndarray, secret: bytes, text: dict[str, Any],
           config: dict[str, Any], backend: str, eps: float | None,
           progress: Progress | None) -> TextField:
    steps, k = check_int(config["n_steps"], "n_steps", "text field", 1, 256), \
        check_int(config["sketch_dim"], "sketch_dim", "text field", 1, 4096)
    rule = check_choice(config["rule"], "rule", "text field", RULES)
    return run_budgeted(
        text_field, model.normalized.model, model.table, ids, secret, str(text["scalar"]),
        steps, rule, k, backend, eps, what="model", progress=progress)


def create_text_fingerprint(
    model: str | Path | TextModel,
    private_key: PrivateKey,
    output: str | Path,
    *,
    settings: TextSettings | None = None,
    texts: str | Path | list[str] | None = None,
    output_name: str | None = None,
    exporter: str = "legacy",
    progress: Progress | None = None,
    created_at: datetime | None = None,
    overwrite: bool = False,
) -> Fingerprint:
    """Fingerprint a text model (a Hugging Face folder, a token-id .onnx, or a TextModel)."""
    settings = settings or TextSettings()
    loaded = model if isinstance(model, TextModel) else load_text_model(
        model, settings.length, output_name, exporter)
    if loaded.tokenizer is None:
        raise InputError(f"{loaded.name}: no tokenizer.json (in the folder, or beside the "
                         ".onnx file); anchors are token sequences of the model's vocabulary")
    tokenizer = loaded.tokenizer
    if tokenizer.vocab_size > loaded.table.shape[0]:
        raise InputError(f"{loaded.name}: the tokenizer has {tokenizer.vocab_size} tokens, the "
                         f"embedding table {loaded.table.shape[0]} rows")
    text_list, texts_sha256 = _texts(texts)
    scalar = resolve_scalar(settings.scalar, loaded.normalized.output_spec.shape,
                            int(loaded.table.shape[0]))
    fingerprint_id = new_fingerprint_id()
    anchor_secret = derive_anchor_secret(private_key, fingerprint_id)
    secret = sketch_secret(derive_anchor_key(private_key, fingerprint_id))
    ids = text_anchors(anchor_secret, tokenizer, settings.n_anchors, settings.length,
                       settings.source, text_list)
    text = {
        "format": TEXT_FORMAT, "length": settings.length, "n_anchors": settings.n_anchors,
        "source": settings.source, "texts_sha256": texts_sha256, "scalar": scalar,
        "reference": "the model's own mean-pooled embedding of anchor (n + 1) mod N"
        if scalar == "cosine" else None,
        "field": "cumulative integrated one-hot gradient, projection E^T P R_t",
        "tokenizer": {"file_sha256": tokenizer.file_sha256,
                      "vocab_sha256": tokenizer.vocab_sha256,
                      "vocab_size": tokenizer.vocab_size},
        "vocab": int(loaded.table.shape[0]), "hidden": int(loaded.table.shape[1]),
        "constant_inputs": loaded.constant_inputs, "exporter": loaded.exporter,
        "quantized_table": loaded.quantized_table,
    }
    if scalar == "next-token":
        text["position"] = "the last (T - 1): the own top-1 next-token logit"
    fine_cfg = {"n_steps": settings.n_steps, "rule": settings.rule, "baseline": "zeros",
                "sketch_dim": settings.sketch_dim, "projection": "gaussian"}
    scale = _scale(loaded, ids)
    eps = (QUANTIZED_EPS if is_quantized_graph(loaded.normalized.model) else FLOAT_EPS) * scale
    fine = _field(loaded, ids, secret, text, fine_cfg, settings.backend, eps, progress)
    arrays = {"sketch": _compact(fine.sketch), "classes": fine.classes.astype(np.int32)}
    echo: dict[str, Any] = {
        TEXT_KEY: text,
        "field": {"config": _resolved(fine_cfg, fine), "estimator": fine.estimator},
        "input_spec": loaded.normalized.input_spec.to_dict(),
        "output_spec": loaded.normalized.output_spec.to_dict(),
        "opset": loaded.normalized.opset,
        CONFIG_KEY: loaded.normalized.output_name,
    }
    if settings.coarse:
        coarse_eps = QUANTIZED_EPS * scale
        coarse = _field(loaded, ids, secret, text, fine_cfg, "blackbox", coarse_eps, progress)
        arrays["sketch_coarse"] = _compact(coarse.sketch)
        echo["field_coarse"] = {"config": _resolved(fine_cfg, coarse),
                                "estimator": coarse.estimator}
    return write_fingerprint(
        output, arrays=arrays, anchors=ids.astype(np.float32), config=echo,
        model_digest=loaded.digest.split(":", 1)[1], original_name=loaded.name,
        original_sha256=loaded.source_sha256, private_key=private_key,
        fingerprint_id=fingerprint_id, created_at=created_at, overwrite=overwrite,
        data_files=loaded.data_files)


def _resolved(config: dict[str, Any], result: TextField) -> dict[str, Any]:
    return {**config, "backend": result.estimator["name"], "fd_eps": result.eps}


def _compact(sketch: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(sketch.astype(np.float64), axis=-1, keepdims=True)
    return (sketch / np.where(norms > 0, norms, 1.0)).astype(np.float16)


def _texts(texts: str | Path | list[str] | None) -> tuple[list[str] | None, str | None]:
    if texts is None:
        return None, None
    items = read_texts(texts) if isinstance(texts, str | Path) else list(texts)
    digest = hashlib.sha256("\n".join(items).encode()).hexdigest()
    return items, digest


def _check_suspect(fingerprint: Fingerprint, suspect: TextModel) -> list[str]:
    text = fingerprint.config[TEXT_KEY]
    expected = text["tokenizer"]
    notes = []
    if suspect.tokenizer is not None:
        if suspect.tokenizer.vocab_sha256 != expected["vocab_sha256"]:
            raise InputError(
                f"{suspect.name}: another tokenizer (vocabulary sha256 "
                f"{suspect.tokenizer.vocab_sha256[:16]}..., the fingerprint's "
                f"{expected['vocab_sha256'][:16]}...): its token ids mean other tokens, so it "
                "cannot be compared")
    else:
        notes.append("no tokenizer.json beside the suspect: its vocabulary is assumed to be the "
                     "fingerprint's (same size)")
    if suspect.table.shape[0] != int(text["vocab"]):
        raise InputError(f"{suspect.name}: a vocabulary of {suspect.table.shape[0]} tokens, the "
                         f"fingerprint's {text['vocab']}: another tokenizer, cannot be compared")
    return notes


def compare_text(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    suspect: str | Path | TextModel,
    backend: str = "auto",
    progress: Progress | None = None,
    sketch: str | None = None,
) -> TextComparison:
    """Recompute the suspect's text field with the fingerprint's settings; cosines (N, S)."""
    text = fingerprint.config[TEXT_KEY]
    model = suspect if isinstance(suspect, TextModel) else load_text_model(
        suspect, int(text["length"]), fingerprint.config.get(CONFIG_KEY))
    notes = _check_suspect(fingerprint, model)
    ids = np.asarray(secrets.anchors).astype(np.int64)
    if sketch is None:
        quantized = is_quantized_graph(model.normalized.model)
        sketch = "sketch_coarse" if quantized and "sketch_coarse" in fingerprint.arrays \
            else "sketch"
    key = "field" if sketch == "sketch" else "field_coarse"
    if key not in fingerprint.config:
        raise InputError(f"This fingerprint has no {sketch} (made without the coarse sketch).")
    config = dict(fingerprint.config[key]["config"])
    scale = _scale(model, ids)
    if sketch == "sketch_coarse":
        chosen, eps = "blackbox", QUANTIZED_EPS * scale
    else:
        chosen, eps = backend, FLOAT_EPS * scale
    result = _field(model, ids, secrets.sketch_secret, text, config, chosen, eps, progress)
    cosines = field_cosines(np.asarray(fingerprint.arrays[sketch]), result.sketch, "suspect")
    return TextComparison(cosines, sketch, result.estimator, model.digest, tuple(notes))


def calibrate_text(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    negatives: list[str | Path | TextModel],
    target_fpr: float = 0.01,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit a null for each owner sketch from independent text models (verifiers' format)."""
    from modelgif.verifiers.calibration import fit_calibration

    text = fingerprint.config[TEXT_KEY]
    models = [n if isinstance(n, TextModel) else load_text_model(
        n, int(text["length"]), fingerprint.config.get(CONFIG_KEY)) for n in negatives]
    digests = [m.digest for m in models]
    if len(set(digests)) != len(digests):
        raise InputError("Two calibration negatives compute the same function (same digest).")
    if "sha256:" + fingerprint.model_digest in digests:
        raise InputError("The fingerprinted model itself is among the negatives.")
    sketches = [s for s in ("sketch", "sketch_coarse") if s in fingerprint.arrays]
    result = {}
    done = 0
    for sketch in sketches:
        cosines = []
        for model in models:
            cosines.append(compare_text(fingerprint, secrets, model, sketch=sketch).cosines)
            done += 1
            if progress is not None:
                progress(done, len(models) * len(sketches))
        result[sketch] = fit_calibration(np.stack(cosines), digests, target_fpr=target_fpr,
                                         anchor_commitment=fingerprint.commitment)
    return result
