"""`modelgif verify MODEL.mgf SUSPECT --key NAME.key`: was SUSPECT derived from my model?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli.common import (
    add_budget_arguments,
    add_force_argument,
    add_key_arguments,
    command_line,
    owner_key,
    progress_bar,
)
from modelgif.cli.fused_options import add_fused_arguments, run_fused, wants_fused
from modelgif.cli.output import emit
from modelgif.errors import InputError
from modelgif.remote import ClientLimits
from modelgif.workflows.verify import RemoteSuspect, VerifyResult, verify

__all__ = ["register", "run"]

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

Within a query budget (a fingerprint made with --probes): --query-budget N compares the
suspect's outputs at the first N secret probe points with the owner's, as an API of
--output-kind answers them (logits, probabilities, topk, labels); N queries, one per point.
The calibration must be made for the same kind and N (`modelgif calibrate --output-kind K
--query-budget N`); another is refused. A suspect behind a KServe v2 / Open Inference
Protocol server is queried with --suspect-url URL --model-name NAME --query-log LOG.jsonl
(one line per request attempt; its sha256 goes into the signed verdict record):
  modelgif verify model.mgf --suspect-url http://host:8080 --model-name suspect \\
      --output-kind probabilities --query-budget 1024 --query-log q.jsonl \\
      --key owner.key --calibration cal-prob-1024.json -o verdict.json

exit codes: 0 a verdict was reached; 1 with --fail-on derived and a derived verdict;
2 error or unusable input.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "verify", help="decide whether a suspect model was derived from the fingerprinted one",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fingerprint", type=Path, help="the owner's .mgf")
    parser.add_argument("suspect", type=Path, nargs="?", help="the suspect's ONNX file (for a "
                        "text fingerprint: a Hugging Face folder or a token-id ONNX file)")
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
    add_budget_arguments(parser)
    remote = parser.add_argument_group("a suspect behind an inference server")
    remote.add_argument("--suspect-url", metavar="URL",
                        help="base URL of a KServe v2 / Open Inference Protocol REST server")
    remote.add_argument("--model-name", metavar="NAME", help="the model's name on that server")
    remote.add_argument("--query-log", type=Path, metavar="LOG.jsonl",
                        help="where to write one line per request (required with a URL)")
    remote.add_argument("--rate-limit", type=float, metavar="REQ_PER_S",
                        help="at most this many requests per second")
    remote.add_argument("--batch-size", type=int, default=64, help="samples per request")
    remote.add_argument("--timeout-s", type=float, default=30.0,
                        help="per connect and per read (default 30)")
    remote.add_argument("--max-retries", type=int, default=8,
                        help="retries on connection errors, 5xx and 429 (default 8)")
    parser.add_argument("--json", action="store_true", help="print the verdict record as JSON")
    add_fused_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if wants_fused(args):
        return run_fused(args)
    if (args.suspect is None) == (args.suspect_url is None):
        raise InputError("Give the suspect's ONNX file or --suspect-url, not both or neither.")
    if args.suspect_url is not None and (args.query_budget is None or args.model_name is None
                                         or args.query_log is None):
        raise InputError("--suspect-url needs --model-name, --query-budget and --query-log.")
    if args.output:
        check_output(args.output, args.force)
    key = owner_key(args)
    remote = None
    if args.suspect_url is not None:
        limits = ClientLimits(timeout_s=args.timeout_s, rate_per_s=args.rate_limit,
                              batch_size=args.batch_size, max_retries=args.max_retries)
        remote = RemoteSuspect(args.suspect_url, args.model_name, args.query_log, limits)
    with progress_bar("suspect field", enabled=not args.json) as progress:
        result = verify(args.fingerprint, args.suspect, key=key, calibration=args.calibration,
                        backend=args.backend, model_output=args.model_output,
                        query_budget=args.query_budget, output_kind=args.output_kind,
                        top_k=args.top_k, remote=remote, command=command_line(args),
                        output=args.output, force=args.force, progress=progress)
    emit(result.to_dict(), args.json, _human(result))
    return 1 if args.fail_on == "derived" and result.verdict.decision == "derived" else 0


def _human(result: VerifyResult) -> str:
    verdict = result.verdict.to_dict()
    lines = [f"{result.suspect_name}: {verdict['decision'].upper()}"]
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
    lines += [f"  note: {note}" for note in result.notes]
    if result.queries is not None:
        plan = result.queries.plan
        lines.append(f"  {result.queries.spent} queries ({plan.kind}"
                     f"{f' top-{plan.top_k}' if plan.kind == 'topk' else ''}) of a budget of "
                     f"{result.queries.budget}; output agreement at {plan.queries} secret "
                     "probe points")
    return "\n".join(lines)
