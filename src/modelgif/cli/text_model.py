"""The text-model branch of `fingerprint` (not a command itself).

A Hugging Face folder or a token-id .onnx given to `fingerprint` comes here; everything else
stays on the image path. The flags are the same command's flags (cmd_fingerprint.py), read
here for text models (fingerprint/text/fingerprint.py says what they mean). A fingerprint
whose config has a "text" section, given to `verify` or `calibrate`, takes the text branch
of those workflows (modelgif.workflows.text).
"""

from __future__ import annotations

import argparse
from typing import Any

from modelgif.cli.common import progress_bar
from modelgif.cli.output import emit
from modelgif.crypto.keys import PrivateKey
from modelgif.errors import InputError
from modelgif.fingerprint.text.fingerprint import TextSettings, create_text_fingerprint
from modelgif.fingerprint.text.model import is_text_model

__all__ = ["add_text_arguments", "fingerprint", "is_text_model"]


def add_text_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `fingerprint` that only text models read."""
    parser.add_argument("--length", type=int, metavar="T",
                        help="text models: tokens per anchor (default 32)")
    parser.add_argument("--exporter", choices=["legacy", "dynamo"], default="legacy",
                        help="Hugging Face folders: torch's ONNX exporter (default legacy)")
    parser.add_argument("--coarse", choices=["on", "off"],
                        help="text models: also store the black-box coarse sketch "
                             "(default off: see README)")


def fingerprint(args: argparse.Namespace, key: PrivateKey) -> int:
    """`modelgif fingerprint MODEL_DIR/|model.onnx` for a text model."""
    settings = TextSettings()
    overrides: dict[str, Any] = {
        "length": args.length, "n_anchors": args.anchors_count, "n_steps": args.steps,
        "sketch_dim": args.sketch_dim, "backend": args.backend,
        "source": args.anchor_source if args.anchor_source != "auto" else None,
        "coarse": None if args.coarse is None else args.coarse == "on",
    }
    values = {**settings.__dict__, **{k: v for k, v in overrides.items() if v is not None}}
    settings = TextSettings(**values)
    if settings.source != "synthetic" and args.anchors is None:
        raise InputError(f"--anchor-source {settings.source} needs the owner's texts: "
                         "--anchors texts.txt (one per line) or texts.jsonl")
    with progress_bar("text field", enabled=not args.json) as progress:
        made = create_text_fingerprint(
            args.model, key, args.output, settings=settings, texts=args.anchors,
            output_name=args.model_output, exporter=args.exporter, progress=progress,
            overwrite=args.force)
    size = args.output.stat().st_size
    text = made.config["text"]
    summary = {"file": str(args.output), "bytes": size, **made.public_metadata()}
    human = (f"{args.output}: text fingerprint of sha256:{made.model_digest[:16]}... "
             f"({size} bytes)\n  {text['n_anchors']} secret anchors of {text['length']} "
             f"tokens ({text['source']}), scalar {text['scalar']}, estimator "
             f"{made.config['field']['estimator']['name']}, hidden {text['hidden']}\n"
             f"  tokenizer vocabulary sha256:{text['tokenizer']['vocab_sha256'][:16]}...\n"
             f"  anchor commitment {made.commitment}")
    emit(summary, args.json, human)
    return 0
