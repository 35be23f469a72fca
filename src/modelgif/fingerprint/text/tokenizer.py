"""The model's own tokenizer.json: its vocabulary digest, special tokens, and text windows.

Why a vocabulary digest next to the file's sha256: the field lives in the one-hot token
space (field.py), so two models are comparable exactly when the same id means the same
token. The file's sha256 changes with settings that do not touch that (truncation length,
padding strategy, a re-serialization), so what is compared is the sha256 of the ordered
vocabulary (canonical JSON of the tokens by id, added tokens included); the file's own
sha256 is signed too, as what was read. A suspect whose vocabulary differs is refused in one
line: its token ids mean other tokens, and no comparison is possible.

Read with the `tokenizers` package (Rust; JSON only, no code runs), from a bounded regular
file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelgif.errors import InputError, ModelLoadError
from modelgif.safe_read import read_text

__all__ = [
    "MAX_TOKENIZER_BYTES",
    "TextTokenizer",
    "load_tokenizer",
    "read_texts",
]

MAX_TOKENIZER_BYTES = 64 << 20
MAX_TEXT_BYTES = 64 << 20


@dataclass(frozen=True)
class TextTokenizer:
    """A tokenizer.json, opened: what anchors and comparisons need from it."""

    file_sha256: str
    vocab_sha256: str
    vocab_size: int
    special_ids: tuple[int, ...]
    prefix: tuple[int, ...]  # what the post-processor puts before a text ([CLS])
    suffix: tuple[int, ...]  # and after it ([SEP])
    text: str  # the JSON, to tokenize with

    def ordinary_ids(self) -> np.ndarray:
        """Token ids that are not special tokens (what synthetic anchors draw from)."""
        mask = np.ones(self.vocab_size, dtype=bool)
        mask[[i for i in self.special_ids if 0 <= i < self.vocab_size]] = False
        return np.flatnonzero(mask).astype(np.int64)

    def windows(self, texts: list[str], length: int) -> np.ndarray:
        """The texts' tokens, concatenated and cut into windows of exactly `length` ids.

        Each window is prefix + (length - len(prefix) - len(suffix)) text tokens + suffix,
        as the tokenizer frames one text; nothing is padded (cut.py says why).
        """
        from tokenizers import Tokenizer

        body = length - len(self.prefix) - len(self.suffix)
        if body < 1:
            raise InputError(f"Anchor length {length} leaves no room between the special tokens.")
        tokenizer = Tokenizer.from_str(self.text)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        stream: list[int] = []
        for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
            stream.extend(encoding.ids)
        count = len(stream) // body
        if count == 0:
            raise InputError(f"The texts give {len(stream)} tokens, fewer than one window of "
                             f"{body}.")
        rows = np.asarray(stream[: count * body], dtype=np.int64).reshape(count, body)
        prefix = np.broadcast_to(np.asarray(self.prefix, np.int64), (count, len(self.prefix)))
        suffix = np.broadcast_to(np.asarray(self.suffix, np.int64), (count, len(self.suffix)))
        return np.concatenate([prefix, rows, suffix], axis=1)


def load_tokenizer(path: str | Path) -> TextTokenizer:
    """Open a tokenizer.json (bounded, JSON only) and describe it."""
    from tokenizers import Tokenizer

    path = Path(path)
    text = read_text(path, MAX_TOKENIZER_BYTES, "tokenizer.json")
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as error:  # the Rust side raises Exception subclasses of its own
        raise ModelLoadError(f"{path.name}: not a tokenizer.json the tokenizers package reads "
                             f"({str(error).splitlines()[0][:200] if str(error) else error})"
                             ) from None
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    size = max(vocab.values()) + 1 if vocab else 0
    ordered = [""] * size
    for token, index in vocab.items():
        ordered[index] = token
    canonical = json.dumps(ordered, ensure_ascii=True, separators=(",", ":")).encode()
    added = tokenizer.get_added_tokens_decoder()
    special = tuple(sorted(i for i, t in added.items() if t.special))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    framed = tokenizer.encode("a", add_special_tokens=True).ids
    bare = tokenizer.encode("a", add_special_tokens=False).ids
    start = _find(framed, bare)
    prefix, suffix = tuple(framed[:start]), tuple(framed[start + len(bare):])
    return TextTokenizer(
        file_sha256=hashlib.sha256(text.encode()).hexdigest(),
        vocab_sha256=hashlib.sha256(canonical).hexdigest(),
        vocab_size=size,
        special_ids=special,
        prefix=prefix,
        suffix=suffix,
        text=text,
    )


def _find(framed: list[int], bare: list[int]) -> int:
    for start in range(len(framed) - len(bare) + 1):
        if framed[start:start + len(bare)] == bare:
            return start
    return 0


def read_texts(path: str | Path) -> list[str]:
    """The owner's texts: one per line (.txt), or {"text": ...} per line (.jsonl)."""
    path = Path(path)
    raw = read_text(path, MAX_TEXT_BYTES, "texts file")
    lines = [line for line in raw.splitlines() if line.strip()]
    if path.suffix.lower() != ".jsonl":
        return lines
    texts: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path.name}: line {number} is not JSON") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise InputError(f"{path.name}: line {number} has no string field 'text'")
        texts.append(item["text"])
    return texts
