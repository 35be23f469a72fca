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
from modelgif.cli.output import emit
from modelgif.crypto.keys import PrivateKey, keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets, open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.remote import ClientLimits, InferenceClient, QueryLog, remote_oracle
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.ownership import (
    SKETCHES,
    load_calibration,
    ownership_record,
    verify_suspect,
)
from modelgif.verifiers.probe_record import probe_record
from modelgif.verifiers.probe_verdict import (
    bound_calibration,
    onnx_oracle,
    plan_queries,
    verify_with_probes,
)
from modelgif.verifiers.record import write_record

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
  modelgif verify model.mgf --suspect-url http://host:8080 --model-name suspect \
      --output-kind probabilities --query-budget 1024 --query-log q.jsonl \
      --key owner.key --calibration cal-prob-1024.json -o verdict.json

exit codes: 0 a verdict was reached; 1 with --fail-on derived and a derived verdict;
2 error or unusable input.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "verify", help="decide whether a suspect model was derived from the fingerprinted one",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fingerprint", type=Path, help="the owner's .mgf")
    parser.add_argument("suspect", type=Path, nargs="?", help="the suspect's ONNX file")
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.suspect is None) == (args.suspect_url is None):
        raise InputError("Give the suspect's ONNX file or --suspect-url, not both or neither.")
    if args.suspect_url is not None and (args.query_budget is None or args.model_name is None
                                         or args.query_log is None):
        raise InputError("--suspect-url needs --model-name, --query-budget and --query-log.")
    if args.output:
        check_output(args.output, args.force)
    key = owner_key(args)
    fingerprint = load_fingerprint(args.fingerprint, key.public_key())
    secrets = open_secrets(fingerprint, key)
    calibrations = (load_calibration(args.calibration, fingerprint, key.public_key())
                    if args.calibration else None)
    if args.query_budget is not None:
        return _run_budgeted(args, key, fingerprint, secrets, calibrations)
    if calibrations is not None and not set(calibrations) & set(SKETCHES):
        raise InputError(f"{args.calibration} was made for {', '.join(sorted(calibrations))}, "
                         "not for the field; pass the same --output-kind and --query-budget")
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


def _run_budgeted(args: argparse.Namespace, key: PrivateKey, fingerprint: Fingerprint,
                  secrets: FingerprintSecrets, calibrations: dict[str, Calibration] | None
                  ) -> int:
    plan = plan_queries(fingerprint, args.query_budget, args.output_kind, args.top_k)
    bound_calibration(plan, calibrations)  # before the log is opened or a query is spent
    spec = fingerprint.config["input_spec"]
    suspect: NormalizedModel | None = None
    server: dict[str, Any] | None = None
    if args.suspect_url is None:
        wanted = args.model_output or recorded_output(fingerprint.config)
        suspect = normalize(args.suspect, output=wanted,
                            strict_output=args.model_output is not None)
        verdict, comparison = verify_with_probes(
            fingerprint, secrets, onnx_oracle(suspect, plan.kind, plan.top_k), plan,
            calibrations, suspect.digest)
        name = args.suspect.name
    else:
        limits = ClientLimits(timeout_s=args.timeout_s, rate_per_s=args.rate_limit,
                              batch_size=args.batch_size, max_retries=args.max_retries)
        with QueryLog(args.query_log, args.force) as log:
            client = InferenceClient(args.suspect_url, args.model_name, limits, log)
            oracle = remote_oracle(client, plan.kind, tuple(spec["shape"][1:]),
                                   str(spec["dtype"]), int(fingerprint.config["probes"]["classes"]),
                                   plan.top_k, args.model_output)
            verdict, comparison = verify_with_probes(fingerprint, secrets, oracle, plan,
                                                     calibrations)
        server = {"url": args.suspect_url, "model_name": args.model_name,
                  "requests": client.requests, "retries": client.retries}
        name = f"{args.model_name} at {args.suspect_url}"
    record = probe_record(args.fingerprint, fingerprint, verdict, comparison, keyid(key),
                          command_line(args), args.query_budget, suspect_path=args.suspect,
                          suspect=suspect, query_log=args.query_log if server else None,
                          server=server, calibration_path=args.calibration,
                          calibrations=calibrations)
    if args.output:
        write_record(args.output, record, key, args.force)
    human = _human(name, verdict.to_dict())
    human += (f"\n  {comparison.queries} queries ({plan.kind}"
              f"{f' top-{plan.top_k}' if plan.kind == 'topk' else ''}) of a budget of "
              f"{args.query_budget}; output agreement at {plan.queries} secret probe points")
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
