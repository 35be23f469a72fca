"""Tiny text models as their owners ship them, built in seconds for the text tests.

A real tokenizer.json (WordPiece, BERT normalizer and pre-tokenizer, [CLS] $A [SEP]) built
with the `tokenizers` library from a fixed word list; a tiny BERT (transformers' BertConfig,
random init, seeded) saved as a Hugging Face folder with model.safetensors; its token-id
ONNX exports as torch writes them (3 inputs, dynamic batch and sequence); and a plain torch
token model whose hidden size can be lifted isometrically (same function, other width).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
from pathlib import Path

import torch
from torch import nn

_WORD_TEXT = """
the of and to in is was for on that with as by it at from his an were are which
this be had not or but have first one their new its after who they two has been
her also she all other more time years year up into when there world over many
city some most only can out part then made school during three used than about
later can will would could may might must model field token text anchor owner
secret copy thief tune prune export weight layer head vector space sketch
"""
WORDS = _WORD_TEXT.split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = [
    "the owner made a model and the thief made a copy of its weights",
    "a secret anchor is a token sequence the model has never seen",
    "the field of a text model lives in the space of one hot tokens",
    "two models with the same tokenizer share that space whatever their width",
] * 6


def build_tokenizer(path: Path, extra: tuple[str, ...] = ()) -> Path:
    """A WordPiece tokenizer.json over SPECIAL + WORDS (+ extra) (vocab ~200)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tokens = SPECIAL + sorted(set(WORDS)) + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    tokens += list("abcdefghijklmnopqrstuvwxyz") + list(extra)
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.add_special_tokens(SPECIAL)
    tokenizer.save(str(path))
    return path


def vocab_size(tokenizer: Path) -> int:
    from tokenizers import Tokenizer

    return int(Tokenizer.from_file(str(tokenizer)).get_vocab_size(with_added_tokens=True))


def tiny_bert(folder: Path, tokenizer: Path, seed: int = 0, hidden: int = 32) -> Path:
    """A random-init BERT (2 layers) saved as a Hugging Face folder with safetensors."""
    import transformers

    transformers.logging.set_verbosity_error()
    config = transformers.BertConfig(vocab_size=vocab_size(tokenizer), hidden_size=hidden,
                                     num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=2 * hidden, max_position_embeddings=64)
    torch.manual_seed(seed)
    model = transformers.BertModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    shutil.copy(tokenizer, folder / "tokenizer.json")
    return folder


class BertIds(nn.Module):
    """A BertModel called with the three inputs by name; its last hidden state."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        out = self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types,
                         return_dict=False)
        return out[0]  # type: ignore[no-any-return]


def export_token_onnx(folder: Path, path: Path, dynamo: bool = False) -> Path:
    """The folder's BERT as torch exports it: input_ids, attention_mask, token_type_ids,
    dynamic batch and sequence; tokenizer.json copied beside it."""
    import transformers

    model = BertIds(transformers.BertModel.from_pretrained(str(folder), local_files_only=True,
                                                           use_safetensors=True).eval())
    ids = torch.full((2, 12), 7, dtype=torch.long)
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch")
            seq = torch.export.Dim("sequence", min=2, max=64)
            torch.onnx.export(model, args, str(path), input_names=names,
                              output_names=["last_hidden_state"], dynamo=True,
                              dynamic_shapes=tuple({0: batch, 1: seq} for _ in names))
        else:
            torch.onnx.export(model, args, str(path), input_names=names,
                              output_names=["last_hidden_state"], dynamo=False,
                              opset_version=17,
                              dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names})
    shutil.copy(folder / "tokenizer.json", path.parent / "tokenizer.json")
    return path


class TokenMLP(nn.Module):
    """Token + position embeddings -> per-token MLP -> [batch, T, 16] states (mask-weighted)."""

    def __init__(self, vocab: int, hidden: int, length: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.position = nn.Parameter(torch.randn(length, hidden) * 0.1)
        self.first = nn.Linear(hidden, 48)
        self.second = nn.Linear(48, 16)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.position[: ids.shape[1]]
        mixed = x + x.mean(dim=1, keepdim=True)  # tokens see each other
        out = self.second(torch.tanh(self.first(mixed)))
        return out * mask.unsqueeze(-1).to(out.dtype)

    @torch.no_grad()
    def lifted(self, hidden: int, seed: int = 0) -> TokenMLP:
        """The same function on token ids at a larger hidden size: E' = E Q, W' = W Q^T
        with Q (h x hidden) of orthonormal rows, so x' = x Q and W' x' = W x."""
        h = self.embed.weight.shape[1]
        generator = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(hidden, h, generator=generator))
        q = q.T  # (h, hidden), orthonormal rows
        wide = TokenMLP(self.embed.weight.shape[0], hidden, self.position.shape[0])
        wide.embed.weight.copy_(self.embed.weight @ q)
        wide.position.copy_(self.position @ q)
        wide.first.weight.copy_(self.first.weight @ q)
        wide.first.bias.copy_(self.first.bias)
        wide.second.load_state_dict(self.second.state_dict())
        return wide


def export_token_mlp(model: TokenMLP, path: Path, tokenizer: Path) -> Path:
    """Legacy export with input_ids and attention_mask (dynamic batch and sequence)."""
    ids = torch.full((2, 10), 6, dtype=torch.long)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (ids, torch.ones_like(ids)), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["states"],
                          opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "b", 1: "t"},
                                        "attention_mask": {0: "b", 1: "t"}})
    shutil.copy(tokenizer, path.parent / "tokenizer.json")
    return path


def tiny_causal_lm(folder: Path, tokenizer: Path, texts: list[str], seed: int, steps: int,
                   start: Path | None = None, lr: float = 3e-3) -> Path:
    """A 2-layer GPT-2 (hidden 32) trained here for `steps` next-token steps on `texts`
    (from `start`'s weights when given: a fine-tune), saved as a Hugging Face folder."""
    import transformers
    from tokenizers import Tokenizer

    transformers.logging.set_verbosity_error()
    torch.manual_seed(seed)
    if start is None:
        config = transformers.GPT2Config(vocab_size=vocab_size(tokenizer), n_positions=64,
                                         n_embd=32, n_layer=2, n_head=2)
        model = transformers.GPT2LMHeadModel(config)
    else:
        model = transformers.GPT2LMHeadModel.from_pretrained(str(start), local_files_only=True)
    coder = Tokenizer.from_file(str(tokenizer))
    ids = [i for e in coder.encode_batch(texts, add_special_tokens=False) for i in e.ids]
    windows = torch.tensor([ids[i:i + 16] for i in range(0, len(ids) - 16, 8)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = windows[torch.randint(len(windows), (16,), generator=order)]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(str(folder), safe_serialization=True)
    shutil.copy(tokenizer, folder / "tokenizer.json")
    return folder
