"""Training checkpoints where an ONNX model is expected: recognised and refused, never read.

Why: `.pt`, `.pth`, `.bin` and `.ckpt` files are pickles (or zip archives of pickles), and
unpickling runs arbitrary code; a forensics tool handed a suspect's file must never do that,
not even through `torch.load(weights_only=True)`. A `.safetensors` file is safe but holds
only weights, no function. So each is refused in one line that says how to export to ONNX.
Files are recognised by extension AND by their first bytes, so a pickle renamed `model.onnx`
is caught too. Only a few header bytes are read.
"""

from __future__ import annotations

import struct
from pathlib import Path

from modelgif.errors import ModelLoadError

__all__ = ["CHECKPOINT_SUFFIXES", "checkpoint_kind", "refuse_checkpoint"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
EXPORT_HINT = (
    "export it to ONNX first: torch.onnx.export(model, (x,), 'model.onnx', "
    "dynamic_shapes=({0: torch.export.Dim('batch')},)) (README: bring your own torch model)"
)
_HEADER_BYTES = 16
_MAX_SAFETENSORS_HEADER = 100 << 20


def checkpoint_kind(path: Path) -> str | None:
    """'a PyTorch checkpoint (zip)', '... (pickle)', 'a safetensors file', or None."""
    if not path.is_file():  # a FIFO or device is refused by the loader, never opened here
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEADER_BYTES)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a torch.save checkpoint)"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (a torch checkpoint)"
    if len(head) >= 10 and head[8:10] in (b'{"', b"{'", b"{ "):
        (size,) = struct.unpack("<Q", head[:8])
        if 0 < size < _MAX_SAFETENSORS_HEADER:
            return "a safetensors file (weights without a graph)"
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return f"a {path.suffix.lower()} checkpoint"
    return None


def refuse_checkpoint(path: Path) -> None:
    """Raise ModelLoadError naming the export fix if `path` is a checkpoint, not ONNX."""
    kind = checkpoint_kind(path)
    if kind is not None:
        raise ModelLoadError(
            f"{path.name}: {kind}, not an ONNX model; modelgif never unpickles model files: "
            f"{EXPORT_HINT}"
        )
