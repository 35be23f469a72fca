"""torch.nn.Module -> ONNX file, through either of torch's exporters.

Why both: a thief may re-export stolen weights through the other exporter, so modelgif must
read both outputs (legacy: opset 17, inline weights; dynamo: opset 18-20, external data), and
the zoo builds "Re-exported" suspects this way. The batch dimension is always dynamic.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Literal

import torch

from modelgif.errors import InputError

__all__ = ["Exporter", "export_torch"]

log = logging.getLogger(__name__)

Exporter = Literal["legacy", "dynamo"]

LEGACY_OPSET = 17


def export_torch(
    module: torch.nn.Module,
    example_input: torch.Tensor,
    path: str | Path,
    exporter: Exporter = "legacy",
    opset: int | None = None,
) -> Path:
    """Export `module` (in eval mode) to `path` and return it.

    `example_input` fixes every dimension but the first (the batch). The dynamo exporter
    writes its weights next to `path` as `<name>.data`.
    """
    if example_input.ndim < 1:
        raise InputError("The example input must have a batch dimension.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if exporter == "legacy":
                _export_legacy(module, example_input, path, opset or LEGACY_OPSET)
            elif exporter == "dynamo":
                _export_dynamo(module, example_input, path, opset)
            else:
                raise InputError(f"Unknown exporter {exporter!r}; use 'legacy' or 'dynamo'.")
    finally:
        module.train(was_training)
    log.debug("exported %s with the %s exporter", path, exporter)
    return path


def _export_legacy(module: torch.nn.Module, x: torch.Tensor, path: Path, opset: int) -> None:
    torch.onnx.export(
        module,
        (x,),
        str(path),
        dynamo=False,
        opset_version=opset,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )


def _export_dynamo(module: torch.nn.Module, x: torch.Tensor, path: Path, opset: int | None) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    program = torch.onnx.export(
        module,
        (x,),
        dynamo=True,
        opset_version=opset,
        dynamic_shapes=({0: batch},),
        verbose=False,
    )
    if program is None:
        raise InputError("torch's dynamo exporter returned no program.")
    program.save(str(path), external_data=True)
