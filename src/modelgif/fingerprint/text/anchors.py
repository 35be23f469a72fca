"""Secret token-id anchors: N sequences of exactly T tokens, framed as the tokenizer frames
one text (e.g. [CLS] ... [SEP]).

Sources (all drawn by a keyed stream from the per-fingerprint anchor secret):
- "synthetic": every inner token uniform over the vocabulary minus its special tokens. Like
  uniform images, these lie away from any data, where a model's function is set by its
  weights, which a fine-tune keeps and an independently trained model does not.
- "subset": a secret subset of the windows of the owner's own texts (tokenizer.py: the
  texts' tokens concatenated and cut into windows of T, nothing padded).
- "augmented": those windows with secret token substitutions (15 % of the inner tokens
  replaced by uniform tokens) and span mixing (a secret span copied in from another
  window): data-like, but not any text a thief holds.

Token ids are stored sealed as float32 (exact for any id below 2^24): N x T x 4 bytes, 4 KiB
for 32 anchors of 32 tokens.
"""

from __future__ import annotations

import numpy as np

from modelgif.crypto.keystream import KeyStream
from modelgif.errors import InputError
from modelgif.fingerprint.text.tokenizer import TextTokenizer

__all__ = ["TEXT_SOURCES", "text_anchors"]

TEXT_SOURCES = ("synthetic", "subset", "augmented")
SUBSTITUTION = 0.15


def text_anchors(
    secret: bytes,
    tokenizer: TextTokenizer,
    n_anchors: int,
    length: int,
    source: str = "synthetic",
    texts: list[str] | None = None,
) -> np.ndarray:
    """(n_anchors, length) int64 token ids."""
    if source not in TEXT_SOURCES:
        raise InputError(f"The text anchor source must be one of {', '.join(TEXT_SOURCES)}.")
    if not 2 <= n_anchors <= 4096 or not 4 <= length <= 512:
        raise InputError("Text anchors: 2..4096 anchors of 4..512 tokens.")
    stream = KeyStream(secret, f"text-anchors/{source}/{n_anchors}x{length}")
    ordinary = tokenizer.ordinary_ids()
    if source == "synthetic":
        body = length - len(tokenizer.prefix) - len(tokenizer.suffix)
        inner = ordinary[stream.integers(n_anchors * body, len(ordinary))].reshape(n_anchors, body)
        return _frame(tokenizer, inner)
    if not texts:
        raise InputError(f"Text anchors from '{source}' need the owner's texts (--anchors).")
    windows = tokenizer.windows(texts, length)
    if len(windows) < n_anchors:
        raise InputError(f"The texts give {len(windows)} windows of {length} tokens; "
                         f"{n_anchors} anchors need at least as many.")
    chosen: np.ndarray = windows[stream.child("subset").choice(len(windows), n_anchors)].copy()
    if source == "subset":
        return chosen
    return _augment(stream.child("augment"), chosen, windows, tokenizer, ordinary)


def _frame(tokenizer: TextTokenizer, inner: np.ndarray) -> np.ndarray:
    n = len(inner)
    prefix = np.broadcast_to(np.asarray(tokenizer.prefix, np.int64), (n, len(tokenizer.prefix)))
    suffix = np.broadcast_to(np.asarray(tokenizer.suffix, np.int64), (n, len(tokenizer.suffix)))
    return np.concatenate([prefix, inner.astype(np.int64), suffix], axis=1)


def _augment(stream: KeyStream, chosen: np.ndarray, windows: np.ndarray,
             tokenizer: TextTokenizer, ordinary: np.ndarray) -> np.ndarray:
    n, length = chosen.shape
    lo, hi = len(tokenizer.prefix), length - len(tokenizer.suffix)
    body = hi - lo
    inner = chosen[:, lo:hi].copy()
    swap = stream.child("substitute").uniform(n * body).reshape(n, body) < SUBSTITUTION
    new = ordinary[stream.child("tokens").integers(n * body, len(ordinary))].reshape(n, body)
    inner[swap] = new[swap]
    span = max(1, body // 4)
    donors = stream.child("donor").integers(n, len(windows))
    starts = stream.child("start").integers(n, body - span + 1)
    for row in range(n):
        start = int(starts[row])
        inner[row, start:start + span] = windows[int(donors[row]), lo + start:lo + start + span]
    return _frame(tokenizer, inner)
