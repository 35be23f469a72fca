"""The IP benchmark's results as Markdown: one table per setting, per-source counts.

Why apart from ip.py: the protocol (who is scored against which null) and the way its
numbers are printed change for different reasons; BENCHMARKS.md's tables come from here,
and benchmarks/pool_ip.py prints pooled counts with the same table shape.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CATEGORY_TITLES", "TARGET_ANCHORS", "counts_markdown", "markdown"]

TARGET_ANCHORS = 64  # the anchor count the ownership targets are stated at (per-source table)
CATEGORY_TITLES = {
    "finetune-a": "Finetune-A", "finetune-l": "Finetune-L", "pruned": "Pruning",
    "extract-l": "Extract-L", "extract-p": "Extract-P", "extract-adv": "Extract-Adv",
    "transfer": "Transfer", "quantized": "Quantized", "reexported": "Re-exported",
}  # fmt: skip


def _fmt(cell: Any) -> str:
    if not isinstance(cell, list | tuple):
        return "n/a" if cell is None or (isinstance(cell, float) and math.isnan(cell)) else (
            f"{cell:.3f}" if isinstance(cell, float) else str(cell))
    value, low, high = cell
    if math.isnan(low):
        return f"{value:.3f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables: one per setting, a row per category, anchor columns."""
    lines: list[str] = []
    for setting in results["settings"].values():
        counts = list(setting["anchors"])
        calibrated = setting["calibrated"]
        lines += [f"### {setting['title']}", ""]
        metric = ("AUC / TPR at the calibrated threshold (target FPR "
                  f"{results['config']['target_fpr']:g})" if calibrated else
                  "AUC / TPR at the oracle threshold (set on the evaluation negatives)")
        lines += [f"{metric}; 95 % bootstrap intervals; n = positives, negatives pairs.", ""]
        header = "| category | " + " | ".join(f"{n} anchors" for n in counts) + " |"
        lines += [header, "|---|" + "---|" * len(counts)]
        seen = {c for n in counts for c in setting["anchors"][n]["categories"]}
        categories = [c for c in CATEGORY_TITLES if c in seen]
        for category in categories:
            cells = []
            for n in counts:
                row = setting["anchors"][n]["categories"].get(category, {})
                if "auc" not in row:
                    cells.append("n/a")
                    continue
                tpr = row["tpr"] if calibrated else row["tpr_oracle"]
                cells.append(f"{_fmt(row['auc'])} / {_fmt(tpr)} (n={row['n_pos']},{row['n_neg']})")
            lines.append(f"| {CATEGORY_TITLES[category]} | " + " | ".join(cells) + " |")
        foot = []
        for n in counts:
            summary = setting["anchors"][n]["summary"]
            part = f"{n} anchors: "
            if calibrated:
                part += (f"realised FPR {summary['false_positives']}/"
                         f"{summary['n_negative_pairs']} = {summary['fpr_realised']:.3f} "
                         f"(95 % upper {summary['fpr_upper_95']:.3f}); ")
            size = setting["anchors"][n]["fingerprint_bytes_estimate"] / 1024
            part += (f"{summary.get('seconds_per_verdict_median', math.nan):.2f} s/verdict; "
                     f"fingerprint ~{size:.0f} KiB")
            foot.append(part)
        lines += ["", *[f"- {f}" for f in foot], ""]
        if calibrated:
            shown = str(TARGET_ANCHORS) if str(TARGET_ANCHORS) in counts else counts[-1]
            lines += _by_source_markdown(setting["anchors"][shown]["summary"], shown)
    return "\n".join(lines)


def _by_source_markdown(summary: dict[str, Any], n_anchors: str) -> list[str]:
    """Flagged / scored per source and category (negatives: false positives / scored)."""
    table = summary.get("by_source", {})
    if not table:
        return []
    return [f"Verdict \"derived\" per source at {n_anchors} anchors (flagged / scored):", "",
            *counts_markdown(dict(sorted(table.items())), "source"), ""]


def counts_markdown(
    table: dict[str, dict[str, list[int]]], row_title: str, with_rate: bool = False
) -> list[str]:
    """A Markdown table of [flagged, scored] per row and category, categories in the
    benchmark's order; `with_rate` adds the fraction flagged."""
    categories = [c for c in [*CATEGORY_TITLES, "negatives"]
                  if any(c in row for row in table.values())]
    lines = [f"| {row_title} | " + " | ".join(CATEGORY_TITLES.get(c, "Negatives (FP)")
                                              for c in categories) + " |",
             "|---|" + "---|" * len(categories)]
    for name, row in table.items():
        cells = [("-" if c not in row else f"{row[c][0]}/{row[c][1]}"
                  + (f" ({row[c][0] / row[c][1]:.2f})" if with_rate else ""))
                 for c in categories]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
