"""Tables, the development choice and the robustness figure of `modelgif bench distill`.

Why a separate file: distill.py is the protocol (who is scored under which null); this is
what is read off the scored rows, and nothing here sees a model. The choice of the fusion
(`choose_on_development`) reads development rows only; every table reads held-out rows only.
"""

from __future__ import annotations

import io
import itertools
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelgif.atomic_write import write_file
from modelgif.bench.distill import NULLS, in_claim, summarise
from modelgif.bench.metrics import rate

__all__ = [
    "BASELINES",
    "CATEGORIES",
    "choose_on_development",
    "figure",
    "held_out_tables",
    "markdown",
    "null_sizes",
]

BASELINES = ("reference", "sac-w", "sac-m", "agree-cae", "modelgif")
CATEGORIES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "student-soft": lambda r: r["kind"] == "student-soft",
    "student-top3": lambda r: r["kind"] == "student-top3",
    "student-hard": lambda r: r["kind"] == "student-hard",
    "students keeping >= 95 %": lambda r: r["kind"].startswith("student") and r["share"] >= 0.95,
    "finetune (no noise)": lambda r: r["kind"] == "finetune",
    "noise thief": lambda r: r["kind"] == "noise-thief",
    "noise thieves keeping >= 95 %": lambda r: r["kind"] == "noise-thief" and r["share"] >= 0.95,
}
N_BOOT = 1000


def _select(rows: list[dict[str, Any]], **where: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def choose_on_development(rows: list[dict[str, Any]], fusion: dict[str, Any]) -> dict[str, Any]:
    """The fusion and null with the highest development TPR (ties: AUC) over all positives.

    Uses only development rows: selection positives and selection negatives (those inside
    the null's claim, `in_claim`)."""
    best: tuple[float, float, str, str] | None = None
    table = {}
    for method in fusion:
        for null in NULLS:
            got = summarise(in_claim(_select(rows, split="development", method=method,
                                             null=null), null), lambda r: True, n_boot=0)
            table[f"{method}/{null}"] = got
            key = (got["tpr"][0] - 10 * max(0.0, got["fpr"] - 0.01), got["auc"][0], method, null)
            best = key if best is None or key[:2] > best[:2] else best
    assert best is not None
    return {"method": best[2], "null": best[3], "development": table}


def held_out_tables(rows: list[dict[str, Any]], methods: list[str],
                    n_boot: int = N_BOOT) -> dict[str, Any]:
    held = _select(rows, split="held-out")
    out: dict[str, Any] = {}
    teachers = sorted({r["teacher"] for r in held})
    for method in methods:
        for null in NULLS:
            scored = _select(held, method=method, null=null)
            mine = in_claim(scored, null)
            cell: dict[str, Any] = {}
            for name, test in CATEGORIES.items():
                cell[name] = {"all": summarise(mine, test, n_boot=n_boot)}
                for t in teachers:
                    cell[name][t] = summarise(_select(mine, teacher=t), test, n_boot=0)
            kept = {id(r) for r in mine}
            outside = [r for r in scored if id(r) not in kept]
            cell["outside claim"] = {"flagged": sum(r["flagged"] for r in outside),
                                     "scored": len(outside)}
            out[f"{method}/{null}"] = cell
    return out


def _fmt(v: tuple[float, float, float] | None) -> str:
    if v is None or not math.isfinite(v[0]):
        return "-"
    low, high = v[1], v[2]
    if not math.isfinite(low):
        return f"{v[0]:.2f}"
    return f"{v[0]:.2f} [{low:.2f}, {high:.2f}]"


def markdown(results: dict[str, Any]) -> str:
    tables, chosen = results["held_out"], results["chosen"]
    lines = [f"Fusion chosen on development models: `{chosen['method']}` with the "
             f"{chosen['null']} null.", ""]
    shown = [m for m in [*BASELINES, *results["extra_methods"], chosen["method"]]
             if f"{m}/pooled" in tables]
    for category in CATEGORIES:
        lines += [f"**{category}** (held out; AUC and TPR at the calibrated 1 % FPR threshold, "
                  "95 % bootstrap intervals; FP = held-out negatives flagged / scored, for "
                  "matched-data those not trained on the owner's data, then the owner-data "
                  "ones)", "",
                  "| method | null | AUC | TPR @ 1 % FPR | FP | n |", "|---|---|---|---|---|---|"]
        for method in dict.fromkeys(shown):
            for null in NULLS:
                cell = tables[f"{method}/{null}"][category]["all"]
                if "auc" not in cell:
                    continue
                fp = f"{cell['false_positives']}/{cell['n_neg']}"
                outside = tables[f"{method}/{null}"]["outside claim"]
                if outside["scored"]:
                    fp += f" (owner-data {outside['flagged']}/{outside['scored']})"
                lines.append(f"| {method} | {null} | {_fmt(cell['auc'])} | {_fmt(cell['tpr'])} "
                             f"| {fp} | {cell['n_pos_models']} |")
        lines.append("")
    lines += ["**Per teacher** (held out; TPR at 1 % FPR / AUC; pooled null except the "
              "chosen fusion's)", "",
              "| teacher | category | " + " | ".join(dict.fromkeys(shown)) + " |",
              "|---|---|" + "---|" * len(dict.fromkeys(shown))]
    teachers = sorted(k for k in tables["modelgif/pooled"]["student-soft"] if k != "all")
    for t in teachers:
        for category in ("student-soft", "student-top3", "student-hard", "finetune (no noise)",
                         "noise thief"):
            cells = []
            for method in dict.fromkeys(shown):
                null = chosen["null"] if method == chosen["method"] else "pooled"
                c = tables[f"{method}/{null}"][category][t]
                cells.append(f"{c['tpr'][0]:.2f} / {c['auc'][0]:.2f}" if "auc" in c else "-")
            lines.append(f"| {t} | {category} | " + " | ".join(cells) + " |")
    sizes = results.get("null_sizes", {})
    if sizes:
        lines += ["", "**What a flag must clear** (held out; medians over scored pairs)", "",
                  "| method | null | calibration negatives | threshold (null sd) |",
                  "|---|---|---|---|"]
        for method in dict.fromkeys(shown):
            for null in NULLS:
                got = sizes.get(f"{method}/{null}")
                if got:
                    lines.append(f"| {method} | {null} | {got['n_null']:g} | "
                                 f"{got['threshold_z']:.2f} |")
    return "\n".join(lines)


def figure(rows: list[dict[str, Any]], chosen: dict[str, Any], path: Path,
           force: bool = False) -> None:
    """TPR at 1 % FPR against thief effort and against the accuracy a suspect keeps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = [r for r in rows if r["split"] == "held-out" and r["positive"]]
    present = {r["method"] for r in held}
    methods = [(m, "pooled") for m in BASELINES if m in present]
    methods.append((chosen["method"], chosen["null"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    thieves = [r for r in held if r["kind"] in ("finetune", "noise-thief")]
    shares = sorted({float(r["model"].rsplit("-n", 1)[1]) for r in thieves})
    for method, null in methods:
        mine = [r for r in thieves if r["method"] == method and r["null"] == null]
        ys = [rate([r["flagged"] for r in mine if float(r["model"].rsplit("-n", 1)[1]) == s])
              for s in shares]
        axes[0].plot([f"{s:g}" for s in shares], ys, marker="o", label=f"{method} ({null})")
    axes[0].set_xlabel("noise share of the thief's fine-tuning data (all epochs x lr)")
    axes[0].set_title("thieves, by noise share")
    bins = [0.0, 0.90, 0.95, 0.98, 1.0, math.inf]
    for ax, kinds, title in ((axes[1], ("finetune", "noise-thief"), "thieves"),
                             (axes[2], ("student-soft", "student-top3", "student-hard"),
                              "students")):
        for method, null in methods:
            mine = [r for r in held if r["kind"] in kinds and r["method"] == method
                    and r["null"] == null]
            xs, ys = [], []
            for low, high in itertools.pairwise(bins):
                got = [r["flagged"] for r in mine if low <= r["share"] < high]
                if got:
                    label = f">= {low:.2f}" if high == math.inf else f"{low:.2f}-{high:.2f}"
                    xs.append(f"{label}\n(n={len(got) // 4})")
                    ys.append(rate(got))
            ax.plot(xs, ys, marker="o", label=f"{method} ({null})")
        ax.set_title(f"{title}, by share of teacher accuracy kept")
        ax.set_xlabel("test accuracy / teacher's test accuracy (n: models)")
    for ax in axes:
        ax.set_ylim(-0.03, 1.03)
        ax.axhline(0.9, color="grey", lw=0.6, ls="--")
        ax.set_ylabel("TPR at 1 % FPR (held out)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    write_file(path, png.getvalue(), force=force)


def null_sizes(rows: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Per method and null, over held-out rows: the median number of calibration negatives
    and the median threshold in null standard deviations (what a flag has to clear)."""
    out: dict[str, Any] = {}
    for method in methods:
        for null in NULLS:
            mine = _select(rows, split="held-out", method=method, null=null)
            if mine:
                out[f"{method}/{null}"] = {
                    "n_null": statistics.median(r["n_null"] for r in mine),
                    "threshold_z": statistics.median(r["threshold_z"] for r in mine),
                }
    return out
