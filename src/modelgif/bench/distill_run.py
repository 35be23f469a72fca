"""`modelgif bench distill`: distilled students and noise thieves of Fashion-MNIST teachers.

Builds (or reuses) the cached Fashion-MNIST zoo (modelgif/zoo/fashion_zoo.py), the teachers'
fingerprints, each teacher's conferrable probes (conferrable.py) and every suspect's field
cosines, scores every method under a pooled null, an architecture-matched one and one matched
on architecture and training data (distill.py), chooses ONE fusion among the candidates on
development models only, and writes held-out tables (Markdown + JSON) and the robustness
figure (distill_report.py).

Needs `apt-get install dataset-fashion-mnist` (or --data / $MODELGIF_FASHION_MNIST naming the
folder of the four IDX files) and, for --figure, matplotlib (the `bench` extra). Cost on
one thread: the zoo about 4 CPU-minutes (5 CPU-seconds per extra independent), the fields
about 10 (most of it the reference's fingerprints), the conferrable probes about 2, the
scoring 2-5; a warm rerun is the scoring alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output, write_file
from modelgif.bench.distill import OUTPUT_STATS, Fusion, score_zoo
from modelgif.bench.distill_report import (
    BASELINES,
    N_BOOT,
    choose_on_development,
    figure,
    held_out_tables,
    markdown,
    null_sizes,
)
from modelgif.errors import InputError
from modelgif.zoo.fashion_zoo import INDEPENDENT_SEEDS, build_fashion_zoo

__all__ = [
    "DistillConfig",
    "fusion_candidates",
    "register_cli",
    "run_cli",
    "run_distill_benchmark",
]

EXTRA_METHODS = ("js-noise", "js-owner", "agree-errors", "js-cutmix")


@dataclass(frozen=True)
class DistillConfig:
    """What one run builds and scores (the zoo's seed and size, the field settings)."""

    seed: int = 0
    independent_seeds: int = INDEPENDENT_SEEDS
    reference: bool = True  # the reference's fingerprints cost minutes per teacher
    n_bootstrap: int = N_BOOT
    data: Path | None = None

    def __post_init__(self) -> None:
        if self.seed < 0 or not 1 <= self.independent_seeds <= 64 or self.n_bootstrap < 0:
            raise InputError("--seed must be >= 0, --independent-seeds 1-64, --bootstrap >= 0; "
                             f"got {self.seed}, {self.independent_seeds}, {self.n_bootstrap}.")

    @property
    def settings(self) -> tuple[str, ...]:
        return ("modelgif", "reference") if self.reference else ("modelgif",)


def fusion_candidates(settings: tuple[str, ...]) -> dict[str, Fusion]:
    """Every fusion development chooses among (all of them scored, one reported).

    Two components: modelgif's field statistic (or the reference's) with an output statistic
    or with the other field, max rule. Three: both fields with an output statistic, max and
    mean rules (the mean adds up weak evidence that no single component carries). And the
    conferrable probes' agreement (which ranks noise thieves well) with another output
    statistic, alone or with the reference's field, max rule."""
    out: dict[str, Fusion] = {f"fusion[{x}]": ("max", ("modelgif-T", x)) for x in OUTPUT_STATS}
    if "reference" in settings:
        out["fusion[reference]"] = ("max", ("modelgif-T", "reference"))
        out |= {f"fusion-ref[{x}]": ("max", ("reference", x)) for x in OUTPUT_STATS}
        for rule in ("max", "mean"):
            out |= {f"fusion3-{rule}[{x}]": (rule, ("modelgif-T", "reference", x))
                    for x in OUTPUT_STATS}
    others = [x for x in OUTPUT_STATS if x != "agree-cae"]
    out |= {f"fusion-cae[{x}]": ("max", ("agree-cae", x)) for x in others}
    if "reference" in settings:
        out |= {f"fusion-ref-cae[{x}]": ("max", ("reference", "agree-cae", x)) for x in others}
    return out


def run_distill_benchmark(cache: Path, config: DistillConfig,
                          progress: Callable[[str], None] | None = None
                          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(results, every scored row). Results: the development choice, held-out tables, the
    null sizes, the zoo's models, the data digest, CPU seconds."""
    started = time.process_time()
    zoo = build_fashion_zoo(cache, config.seed, config.data, progress, config.independent_seeds)
    fusion = fusion_candidates(config.settings)
    scores = score_zoo(zoo, config.settings, fusion, progress)
    chosen = choose_on_development(scores.rows, fusion)
    methods = list(dict.fromkeys([*BASELINES, *OUTPUT_STATS, "modelgif-T", chosen["method"]]))
    if not config.reference:
        methods.remove("reference")
    results = {
        "config": {"seed": config.seed, "independent_seeds": config.independent_seeds,
                   "settings": list(config.settings), "n_bootstrap": config.n_bootstrap},
        "chosen": chosen, "extra_methods": list(EXTRA_METHODS),
        "held_out": held_out_tables(scores.rows, methods, config.n_bootstrap),
        "null_sizes": null_sizes(scores.rows, methods),
        "zoo": [zoo.info(mid) for mid in zoo.models], "signatures": scores.signatures,
        "data_digest": zoo.data.digest(), "cpu_seconds": time.process_time() - started,
    }
    return results, scores.rows


EPILOG = """\
examples:
  modelgif bench distill --cache ~/.cache/modelgif --out distill_results.json \\
      --figure distill_curves.png                 the full benchmark (cached under --cache)
  modelgif bench distill --no-reference --bootstrap 0 --json    quicker, no reference field

exit codes: 0 done, 2 error or unusable input (an existing output needs --force)
"""


def register_cli(sub: Any) -> None:
    """Add `distill` to the `modelgif bench` subcommands."""
    parser = sub.add_parser(
        "distill", help="distillation / noise-thief benchmark on Fashion-MNIST teachers",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="zoo, fingerprint and cosine cache (default $MODELGIF_CACHE or "
                        "~/.cache/modelgif)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="folder of the four Fashion-MNIST IDX files (default "
                        "$MODELGIF_FASHION_MNIST or /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--seed", type=int, default=0, help="zoo seed (default 0)")
    parser.add_argument("--independent-seeds", type=int, default=INDEPENDENT_SEEDS, metavar="N",
                        help="independents per architecture and training data (default "
                        f"{INDEPENDENT_SEEDS}: {4 * INDEPENDENT_SEEDS} independents)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference setting (its fingerprints cost minutes)")
    parser.add_argument("--bootstrap", type=int, default=N_BOOT, metavar="N",
                        help=f"bootstrap resamples for the intervals (default {N_BOOT}; 0: none)")
    parser.add_argument("--out", type=Path, default=Path("distill_results.json"),
                        metavar="FILE.json", help="results (default distill_results.json)")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE.md",
                        help="also write the tables as Markdown")
    parser.add_argument("--figure", type=Path, default=None, metavar="FILE.png",
                        help="also draw the robustness curves (needs matplotlib)")
    parser.add_argument("--rows", type=Path, default=None, metavar="FILE.json",
                        help="also write every scored row")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout instead of the tables")
    parser.add_argument("--force", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Check every output and the data BEFORE any work, run with a bar on stderr, write."""
    from tqdm import tqdm

    from modelgif.zoo.cache import default_cache_dir
    from modelgif.zoo.fashion import load_fashion

    config = DistillConfig(seed=args.seed, independent_seeds=args.independent_seeds,
                           reference=not args.no_reference, n_bootstrap=args.bootstrap,
                           data=args.data)
    outputs = [p for p in (args.out, args.markdown, args.figure, args.rows) if p is not None]
    if len(set(outputs)) != len(outputs):
        raise InputError("--out, --markdown, --figure and --rows must name different files.")
    for path in outputs:
        check_output(path, args.force)
    if args.figure is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("--figure needs matplotlib: pip install 'modelgif[bench]'") from None
    load_fashion(args.data, args.seed)  # a missing or damaged data folder fails here, fast
    cache = args.cache or default_cache_dir()
    with tqdm(desc="bench distill", unit="step", file=sys.stderr, dynamic_ncols=True) as bar:
        def progress(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        results, rows = run_distill_benchmark(cache, config, progress)
    table = markdown(results)
    text = json.dumps(results, indent=1, sort_keys=True) + "\n"
    write_file(args.out, text.encode(), force=args.force)
    if args.markdown is not None:
        write_file(args.markdown, (table + "\n").encode(), force=args.force)
    if args.rows is not None:
        write_file(args.rows, (json.dumps(rows) + "\n").encode(), force=args.force)
    if args.figure is not None:
        figure(rows, results["chosen"], args.figure, force=args.force)
    sys.stdout.write(text if args.json else table + "\n")
    return 0
