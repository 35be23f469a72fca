"""`modelgif verify MODEL.mgf SUSPECT --key NAME.key`: was SUSPECT derived from my model?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli import text_model
from modelgif.cli.common import (
    add_force_argument,
    add_key_arguments,
    command_line,
    owner_key,
    progress_bar,
)
from modelgif.cli.output import emit
from modelgif.crypto.keys import keyid
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.fingerprint.text.fingerprint import is_text_fingerprint
from modelgif.verifiers.ownership import load_calibration, ownership_record, verify_suspect
from modelgif.verifiers.record import write_record

EPILOG = """\
examples:
  modelgif verify model.mgf suspect.onnx --key owner.key
  modelgif verify model.mgf suspect.onnx --key owner.key --calibration cal.json --json \\
      -o suspect.verdict.json --fail-on derived

The suspect's field is recomputed with the settings signed into the fingerprint. Float ONNX
suspects use exact gradients (--backend blackbox forces forward passes only); quantized ONNX
suspects are compared by finite differences at the quantization-scale step. Without
--calibration the verdict is 'inconclusive' and says so: only independent models (see
`modelgif calibrate`) give the statistic a false-positive rate.

exit codes: 0 a verdict was reached; 1 with --fail-on derived and a derived verdict;
2 error or unusable input.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "verify", help="decide whether a suspect model was derived from the fingerprinted one",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fingerprint", type=Path, help="the owner's .mgf")
    parser.add_argument("suspect", type=Path, help="the suspect's ONNX file (for a text "
                        "fingerprint: a Hugging Face folder or a token-id ONNX file)")
    add_key_arguments(parser)
    parser.add_argument("--calibration", type=Path, metavar="CAL.json",
                        help="null fitted by `modelgif calibrate`")
    parser.add_argument("--backend", choices=["auto", "exact", "blackbox"], default="auto")
    parser.add_argument("--fail-on", choices=["derived"], help="exit 1 on a derived verdict")
    parser.add_argument("-o", "--output", type=Path, metavar="VERDICT.json",
                        help="also write the verdict record, signed with --key (input of "
                        "`modelgif report`)")
    parser.add_argument("--model-output", metavar="NAME",
                        help="the suspect's output to compare (default: the one named as in "
                             "the fingerprint, else the first)")
    add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the verdict record as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output:
        check_output(args.output, args.force)
    key = owner_key(args)
    fingerprint = load_fingerprint(args.fingerprint, key.public_key())
    secrets = open_secrets(fingerprint, key)
    calibrations = (load_calibration(args.calibration, fingerprint, key.public_key())
                    if args.calibration else None)
    if is_text_fingerprint(fingerprint):
        return text_model.verify(args, key, fingerprint, secrets, calibrations)
    wanted = args.model_output or recorded_output(fingerprint.config)
    suspect = normalize(args.suspect, output=wanted, strict_output=args.model_output is not None)
    with progress_bar("suspect field", enabled=not args.json) as progress:
        verdict, comparison = verify_suspect(fingerprint, secrets, suspect, calibrations,
                                             args.backend, progress)
    record = ownership_record(args.fingerprint, fingerprint, args.suspect, suspect, verdict,
                              comparison, keyid(key), command_line(args), args.calibration,
                              calibrations)
    if args.output:
        write_record(args.output, record, key, args.force)
    human = _human(args.suspect.name, verdict.to_dict())
    emit(record, args.json, human)
    return 1 if args.fail_on == "derived" and verdict.decision == "derived" else 0


def _human(name: str, verdict: dict[str, Any]) -> str:
    lines = [f"{name}: {verdict['decision'].upper()}"]
    if verdict["calibrated"]:
        lines.append(f"  statistic T = {verdict['statistic']:.3g} (threshold "
                     f"{verdict['threshold']:.3g} for FPR {verdict['target_fpr']:.3g}); "
                     f"p = {verdict['p_value']:.3g} (empirical {verdict['p_value_empirical']:.3g})")
        lines.append(f"  false-positive bound {verdict['fpr_bound']:.3g} (Gaussian, "
                     f"{verdict['confidence']:.0%}); distribution-free "
                     f"{verdict['fpr_bound_empirical']:.3g} from {verdict['n_null']} negatives")
    else:
        lines.append("  UNCALIBRATED: no false-positive rate can be stated; run "
                     "`modelgif calibrate` with independent models")
    lines.append(f"  mean similarity {verdict['mean_similarity']:.3f}, mean cosine distance "
                 f"{verdict['mean_distance']:.3f} over {verdict['n_anchors']} anchors")
    return "\n".join(lines)
