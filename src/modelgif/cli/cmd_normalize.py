"""`modelgif normalize MODEL -o OUT.onnx`: any ONNX model -> canonical ONNX + digest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output, write_file
from modelgif.cli.common import add_force_argument
from modelgif.cli.output import emit, parse_range
from modelgif.fingerprint.normalize import normalize

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif normalize suspect.onnx -o suspect.norm.onnx
  modelgif normalize model.onnx -o n.onnx --input-range 0,1 --json

What it does: reads the model safely (no code execution, external data confined to the
model's folder, sizes bounded), converts it to opset 20, strips metadata, names everything
canonically, infers shapes, runs the ONNX checker, and checks in onnxruntime that the result
computes the same function (relative difference <= 1e-4). The digest names the function:
the same weights saved twice with other names give the same digest; any weight change
changes it. Torch modules are normalized from Python: modelgif.fingerprint.normalize().
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "normalize",
        help="turn an ONNX model into modelgif's canonical form and print its digest",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", type=Path, help="the .onnx file (external data beside it)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write")
    parser.add_argument(
        "--input-range",
        type=parse_range,
        metavar="LOW,HIGH",
        help="the input's value range, remembered in the output (e.g. 0,1)",
    )
    parser.add_argument("--model-output", metavar="NAME",
                        help="keep only this output of the model (default: the first)")
    add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    model = normalize(args.model, input_range=args.input_range, output=args.model_output)
    write_file(args.output, model.to_bytes(), force=args.force)
    summary = {**model.summary(), "output_file": str(args.output)}
    shape = "x".join("N" if d is None else str(d) for d in model.input_spec.shape)
    human = (
        f"{args.output}: {model.digest}\n"
        f"  opset {model.opset}, input '{model.input_spec.name}' {shape} "
        f"{model.input_spec.dtype}, max abs diff vs original {model.max_abs_diff:.3g}"
    )
    emit(summary, args.json, human)
    return 0
