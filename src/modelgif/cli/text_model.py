"""The text-model branch of `fingerprint`, `verify` and `calibrate` (not a command itself).

A Hugging Face folder or a token-id .onnx given to `fingerprint`, and any fingerprint whose
config has a "text" section given to `verify` or `calibrate`, come here; everything else
stays on the image path. The flags are the same commands' flags (cmd_*.py), read here for
text models (fingerprint/text/fingerprint.py says what they mean).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from modelgif.cli.common import command_line, progress_bar
from modelgif.cli.output import emit
from modelgif.crypto.keys import PrivateKey, keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets
from modelgif.fingerprint.record import Fingerprint
from modelgif.fingerprint.text.fingerprint import (
    TextSettings,
    calibrate_text,
    compare_text,
    create_text_fingerprint,
)
from modelgif.fingerprint.text.hf_folder import is_hf_folder
from modelgif.fingerprint.text.model import is_text_model, load_text_model

__all__ = [
    "add_text_arguments",
    "calibrate",
    "fingerprint",
    "is_text_model",
    "text_negatives",
    "verify",
]


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


def verify(args: argparse.Namespace, key: PrivateKey, made: Fingerprint,
           secrets: FingerprintSecrets, calibrations: dict[str, Any] | None) -> int:
    """`modelgif verify TEXT.mgf SUSPECT_DIR/|suspect.onnx`."""
    from modelgif.cli.cmd_verify import _human
    from modelgif.verifiers.ownership import Comparison, ownership_record
    from modelgif.verifiers.record import write_record
    from modelgif.verifiers.verdict import compute_verdict

    suspect = load_text_model(args.suspect, int(made.config["text"]["length"]),
                              args.model_output or made.config.get("model_output"))
    with progress_bar("suspect text field", enabled=not args.json) as progress:
        compared = compare_text(made, secrets, suspect, args.backend, progress)
    calibration = (calibrations or {}).get(compared.sketch)
    verdict = compute_verdict(compared.cosines, calibration, compared={
        "owner": "sha256:" + made.model_digest, "suspect": compared.digest,
        "fingerprint_commitment": made.commitment, "estimator": compared.sketch})
    comparison = Comparison(compared.cosines, compared.sketch, compared.estimator,
                            compared.digest)
    normalized, hashed = suspect.normalized, args.suspect
    if args.suspect.is_dir():  # a folder: its weights file is what the evidence hashes
        hashed = args.suspect / "model.safetensors"
        normalized = replace(normalized, opset=cast(Any, None))  # not an ONNX file
    record = ownership_record(args.fingerprint, made, hashed, normalized,
                              verdict, comparison, keyid(key), command_line(args),
                              args.calibration, calibrations)
    if args.output:
        write_record(args.output, record, key, args.force)
    human = _human(args.suspect.name, verdict.to_dict())
    for note in compared.notes:
        human += f"\n  note: {note}"
    emit(record, args.json, human)
    return 1 if args.fail_on == "derived" and verdict.decision == "derived" else 0


def text_negatives(items: list[Path]) -> list[Path]:
    """Negatives for a text fingerprint: Hugging Face folders and token-id .onnx files; a
    folder that is not a model is searched one level down."""
    found: list[Path] = []
    for item in items:
        if is_hf_folder(item) or item.is_file():
            found.append(item)
        elif item.is_dir():
            found += sorted(p for p in item.iterdir()
                            if is_hf_folder(p) or (p.is_file() and p.suffix == ".onnx"))
        else:
            raise InputError(f"{item}: no such file or folder")
    if len(found) < 5:
        raise InputError(f"Calibration needs at least 5 negative models; got {len(found)}.")
    return found


def calibrate(args: argparse.Namespace, made: Fingerprint,
              secrets: FingerprintSecrets) -> tuple[dict[str, Any], list[Path]]:
    """The text branch of `modelgif calibrate`: (fitted calibrations, negative paths)."""
    files = text_negatives(args.negatives)
    with progress_bar("negatives", enabled=not args.json) as progress:
        fitted = calibrate_text(made, secrets, list(files), args.target_fpr, progress)
    return fitted, files
