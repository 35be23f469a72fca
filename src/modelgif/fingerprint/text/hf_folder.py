"""A Hugging Face model folder -> token-id ONNX, exported in-process, offline, no remote code.

    MODEL_DIR/config.json + model.safetensors (+ tokenizer.json)
        ──transformers (HF_HUB_OFFLINE=1, local_files_only, safetensors only)──> torch module
        ──torch.onnx.export (legacy by default; dynamo on request)──> token-id ONNX bytes
        ──cut.py──> the one-float-input model every other step uses

Why export rather than differentiate the torch module directly: one path for every text
model. The exported graph is what is normalized, digested and checked against onnxruntime,
exactly as a token-id .onnx given by its owner; a folder and its own export get the same
treatment and comparable digests.

Loading is refused before transformers sees the folder when: there is no config.json;
the config asks for remote code (`auto_map`); the weights are not a model.safetensors (a
pytorch_model.bin is a pickle: unpickling runs code, so it is never opened). transformers is
an optional dependency (`pip install 'modelgif[hf]'`); without it, one line says so.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, cast

from modelgif.errors import InputError, ModelLoadError
from modelgif.safe_read import read_json

__all__ = ["EXPORTERS", "export_hf_folder", "is_hf_folder"]

log = logging.getLogger(__name__)

EXPORTERS = ("legacy", "dynamo")
MAX_CONFIG_BYTES = 1 << 20
HEADS = {
    "ForSequenceClassification": "AutoModelForSequenceClassification",
    "ForTokenClassification": "AutoModelForTokenClassification",
    "ForMaskedLM": "AutoModelForMaskedLM",
    "ForCausalLM": "AutoModelForCausalLM",
    "LMHeadModel": "AutoModelForCausalLM",  # GPT-2's name for its causal LM
}


def is_hf_folder(path: Path) -> bool:
    """A folder holding a config.json."""
    return path.is_dir() and (path / "config.json").is_file()


def _check_folder(folder: Path) -> dict[str, Any]:
    config = read_json(folder / "config.json", MAX_CONFIG_BYTES, "config.json")
    if not isinstance(config, dict):
        raise ModelLoadError(f"{folder.name}/config.json is not a JSON object")
    if "auto_map" in config:
        raise ModelLoadError(f"{folder.name}: the config asks for the model's own code "
                             "(auto_map); modelgif never runs remote code")
    weights = folder / "model.safetensors"
    if not weights.is_file() or weights.is_symlink():
        pickles = sorted(p.name for p in folder.glob("*.bin"))
        found = f" (found {', '.join(pickles)}: a pickle, never opened)" if pickles else ""
        raise ModelLoadError(f"{folder.name}: no model.safetensors{found}; save the model with "
                             "`model.save_pretrained(folder, safe_serialization=True)`")
    return config


def _load_module(folder: Path, config: dict[str, Any]) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import transformers
    except ImportError:
        raise InputError("Reading a Hugging Face folder needs transformers: "
                         "pip install 'modelgif[hf]'") from None
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # stderr holds one error line, or nothing
    architectures = config.get("architectures") or []
    name = str(architectures[0]) if architectures else ""
    loader = next((getattr(transformers, cls) for suffix, cls in HEADS.items()
                   if name.endswith(suffix)), transformers.AutoModel)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loader.from_pretrained(str(folder), local_files_only=True,
                                          use_safetensors=True, trust_remote_code=False).eval()
    except Exception as error:  # transformers raises many types; one line
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise ModelLoadError(f"{folder.name}: transformers cannot load it "
                             f"({type(error).__name__}: {first})") from None


def export_hf_folder(folder: Path, length: int, exporter: str = "legacy") -> bytes:
    """The folder's model as token-id ONNX bytes (inputs input_ids, attention_mask
    [, token_type_ids]; dynamic batch and sequence; its first output)."""
    import torch

    if exporter not in EXPORTERS:
        raise InputError(f"exporter must be one of {', '.join(EXPORTERS)}; got {exporter!r}")
    config = _check_folder(folder)
    model = _load_module(folder, config)
    segments = int(config.get("type_vocab_size") or 0) > 0

    class TokenModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            names = ["input_ids", "attention_mask", "token_type_ids"][: len(inputs)]
            output = self.inner(**dict(zip(names, inputs, strict=True)), return_dict=False)
            chosen = output[0] if isinstance(output, tuple | list) else output
            return cast(torch.Tensor, chosen)

    ids = torch.ones((2, length), dtype=torch.long)  # any id of the vocabulary
    args: tuple[torch.Tensor, ...] = (ids, torch.ones_like(ids))
    if segments:
        args = (*args, torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"][: len(args)]
    wrapper = TokenModel().eval()
    with tempfile.TemporaryDirectory(prefix="modelgif-hf-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        try:
            if exporter == "legacy":
                torch.onnx.export(wrapper, args, str(path), input_names=names,
                                  output_names=["output"], opset_version=17, dynamo=False,
                                  dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names})
            else:
                longest = int(config.get("max_position_embeddings") or 512)
                batch = torch.export.Dim("batch")
                seq = torch.export.Dim("sequence", min=2, max=longest)
                shapes = (tuple({0: batch, 1: seq} for _ in names),)  # forward(*inputs)
                with _quiet():
                    torch.onnx.export(wrapper, args, str(path), input_names=names,
                                      output_names=["output"], dynamo=True,
                                      dynamic_shapes=shapes, external_data=False)
        except Exception as error:  # torch's exporters raise many types; one line
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            raise ModelLoadError(f"{folder.name}: torch.onnx.export ({exporter}) failed "
                                 f"({type(error).__name__}: {first})") from None
        return path.read_bytes()


class _quiet:
    """Silence the dynamo exporter's progress prints on stdout and stderr."""

    def __enter__(self) -> None:
        import contextlib

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self._stack.enter_context(contextlib.redirect_stderr(io.StringIO()))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
