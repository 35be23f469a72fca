"""`modelgif fingerprint MODEL --key NAME.key -o MODEL.mgf`: the owner's signed fingerprint."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli import text_model
from modelgif.cli.common import (
    add_force_argument,
    add_key_arguments,
    load_config,
    owner_key,
    progress_bar,
)
from modelgif.cli.output import emit, parse_range
from modelgif.fingerprint.anchors import SOURCES
from modelgif.fingerprint.create import OWNERSHIP_ANCHORS, OWNERSHIP_FIELD, create_fingerprint

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif fingerprint model.onnx --key owner.key -o model.mgf
  modelgif fingerprint model.onnx --key owner.key --anchors pool.npy --anchors-count 128 -o m.mgf
  modelgif fingerprint model.onnx --key owner.key --config fingerprint.yaml -o model.mgf
  modelgif fingerprint minilm/ --key owner.key -o minilm.mgf     # a Hugging Face folder
  modelgif fingerprint bert.onnx --key owner.key --anchors texts.txt --anchor-source subset \\
      -o bert.mgf                      # token ids in, tokenizer.json beside the file

Precedence: command-line flags > --config FILE.yaml (sections `anchors:` and `field:`) >
defaults. The anchors are secret: derived from your key and a fresh fingerprint id. By
default they are synthetic, uniform inside the input's value range (from the model's
metadata, --input-range, or the min/max of your pool): away from the data, where a
fine-tune keeps its parent's function and an independent model does not (BENCHMARKS.md).
--anchor-source subset|augmented draws them from your pool of inputs (--anchors; a secret
subset, or CutMix/mixup and noise): fewer fine-tunes flagged, but a thief who fine-tunes on
noise must use more of it to escape (BENCHMARKS.md, "An adaptive thief"). The field's
scalar is the model's own top-1 logit; a config `field: {target: logsumexp}` needs no
class. The anchors are stored encrypted; only `modelgif reveal` opens them, one
fingerprint at a time. Everything that changes the numbers is signed into the file.

Text models (a Hugging Face folder with config.json, model.safetensors and tokenizer.json,
or an ONNX file with token-id inputs and its tokenizer.json beside it) are cut at their
token-embedding lookup; their anchors are secret token sequences of --length tokens
(synthetic, or from your texts with --anchors texts.txt|texts.jsonl), and the field lives in
the one-hot token space, so suspects of another hidden size compare (README: "Text models").
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fingerprint", help="compute and sign a model's gradient-field fingerprint",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the owner's ONNX model, or a text model: a "
                        "Hugging Face folder or a token-id ONNX file with its tokenizer.json")
    add_key_arguments(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .mgf to write")
    parser.add_argument("--anchors", type=Path, metavar="POOL.npy",
                        help="owner's input pool (.npy/.npz): the value range of synthetic "
                             "anchors, or what subset/augmented anchors are drawn from")
    parser.add_argument("--anchor-source", choices=SOURCES,
                        help=f"where anchors come from (default {OWNERSHIP_ANCHORS.source})")
    parser.add_argument("--anchors-count", type=int, help="number of anchors (default 64)")
    parser.add_argument("--steps", type=int, help="path steps (default 16)")
    parser.add_argument("--sketch-dim", type=int, help="sketch dimension k (default 64)")
    parser.add_argument("--backend", choices=["auto", "exact", "blackbox"])
    parser.add_argument("--input-range", type=parse_range, metavar="LOW,HIGH",
                        help="the input's value range (else from the model or the pool)")
    parser.add_argument("--config", type=Path, metavar="FILE.yaml")
    parser.add_argument("--model-output", metavar="NAME",
                        help="the model output the field is taken of (default: the first); "
                             "recorded, and suspects are read at the output of that name")
    parser.add_argument("--probes", type=int, default=0, metavar="P",
                        help="also seal the model's outputs at P secret probe points, for "
                             "verdicts within a query budget (`verify --query-budget`); "
                             "e.g. 2048")
    text_model.add_text_arguments(parser)
    add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    if text_model.is_text_model(args.model):
        return text_model.fingerprint(args, owner_key(args))
    anchors, field = load_config(args.config, OWNERSHIP_ANCHORS, OWNERSHIP_FIELD)
    if args.anchors_count is not None:
        anchors = replace(anchors, n_anchors=args.anchors_count)
    if args.anchor_source is not None:
        anchors = replace(anchors, source=args.anchor_source)
    overrides = {"n_steps": args.steps, "sketch_dim": args.sketch_dim, "backend": args.backend}
    field = replace(field, **{k: v for k, v in overrides.items() if v is not None})
    key = owner_key(args)
    with progress_bar("field", enabled=not args.json) as progress:
        fingerprint = create_fingerprint(
            args.model, key, args.output, pool=args.anchors, anchor_config=anchors,
            field_config=field, input_range=args.input_range, progress=progress,
            overwrite=args.force, output_name=args.model_output, probes=args.probes)
    size = args.output.stat().st_size
    summary = {"file": str(args.output), "bytes": size, **fingerprint.public_metadata()}
    completeness = fingerprint.config["field"]["completeness"]
    human = (f"{args.output}: fingerprint of sha256:{fingerprint.model_digest[:16]}... "
             f"({size} bytes)\n  {anchors.n_anchors} secret anchors, "
             f"{fingerprint.config['field']['config']['n_steps']} steps, estimator "
             f"{fingerprint.config['field']['estimator']['name']}, completeness error "
             f"(median relative) {completeness['median_relative']:.2g}\n"
             f"  anchor commitment {fingerprint.commitment}")
    emit(summary, args.json, human)
    return 0
