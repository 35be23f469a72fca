"""onnxruntime's exception text, cut to the part a user can act on.

Why: onnxruntime messages look like "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero
status code returned while running Reshape node. Name:'n6' Status Message: ... The input
tensor cannot be reshaped to the requested shape. Input shape:{3,16,7,7}, requested
shape:{1,-1}". modelgif never shows that as the whole message: callers put it in
parentheses after their own sentence (what failed, and how to fix it), and this helper keeps
only the op and its status message, on one line, cut at a word boundary.
"""

from __future__ import annotations

import re

__all__ = ["ort_message"]

MAX_CHARS = 160
_PREFIX = re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*")
_NODE = re.compile(r"Non-zero status code returned while running (\w+) node\. Name:'[^']*' "
                   r"Status Message: (?:[^ ]*\.cc:\d+ [^ ]+ )?")


def ort_message(error: BaseException) -> str:
    """One short line from an onnxruntime exception: '<Op>: <status message>'."""
    text = " ".join(str(error).split())
    text = _PREFIX.sub("", text)
    text = _NODE.sub(lambda m: f"{m.group(1)}: ", text)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0] + " ..."
    return text or type(error).__name__
