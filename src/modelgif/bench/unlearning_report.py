"""Tables and the curve figure of the unlearning benchmark, from its claims.

Why Clopper-Pearson: acceptance rates are counts out of a few dozen runs; an exact binomial
interval never claims more than the counts support (0 of 60 still allows up to 6 %).
Why a hand-written SVG: the figure is a few polylines on a log axis; writing it directly
keeps the library free of a plotting dependency, and the file diffs as text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from modelgif.bench.unlearning_run import SCENARIOS, Claim
from modelgif.verifiers.rates import clopper_pearson_interval
from modelgif.zoo.unlearners import APPROXIMATE, CHEATS, HONEST, UNLEARNERS

__all__ = ["CURVE_FLOOR", "acceptance_rows", "curve_svg", "markdown_tables", "targets"]

HONEST_TARGET = 0.95
CHEAT_TARGET = 0.05
CURVE_FLOOR = 1e-3
Curves = Mapping[str, Mapping[str, Sequence[Sequence[tuple[int, float]]]]]


def _kind(unlearner: str) -> str:
    return ("honest" if unlearner in HONEST else "approximate" if unlearner in APPROXIMATE
            else "cheat")


def _rate(claims: Sequence[Claim], decision: str) -> dict[str, float | int]:
    k = sum(c.decision == decision for c in claims)
    n = len(claims)
    low, high = clopper_pearson_interval(k, n) if n else (math.nan, math.nan)
    return {"k": k, "n": n, "rate": k / n if n else math.nan, "low": low, "high": high}


def acceptance_rows(claims: Sequence[Claim]) -> list[dict[str, object]]:
    """Per unlearner: acceptance per scenario and overall (with 95 % CIs), and medians."""
    rows: list[dict[str, object]] = []
    for unlearner in UNLEARNERS:
        mine = [c for c in claims if c.unlearner == unlearner]
        if not mine:
            continue
        row: dict[str, object] = {"unlearner": unlearner, "kind": _kind(unlearner)}
        for scenario in SCENARIOS:
            row[scenario] = _rate([c for c in mine if c.scenario == scenario], "forgotten")
        row["all"] = _rate(mine, "forgotten")
        row["not forgotten"] = _rate(mine, "not forgotten")
        row["inconclusive"] = _rate(mine, "inconclusive")
        # 'inconclusive' only ever comes from the retained-data test overruling a pass
        row["forget alone"] = _rate([replace(c, decision="forgotten")
                                     if c.decision == "inconclusive" else c for c in mine],
                                    "forgotten")
        row["max_p_forget"] = max((c.p_forget for c in mine if c.p_forget is not None),
                                  default=math.nan)
        row["median_forget_similarity"] = float(np.median([c.forget_similarity for c in mine]))
        row["median_forget_accuracy"] = {s: float(np.median([c.forget_accuracy for c in mine
                                                              if c.scenario == s]))
                                         for s in SCENARIOS
                                         if any(c.scenario == s for c in mine)}
        rows.append(row)
    return rows


def targets(claims: Sequence[Claim]) -> dict[str, dict[str, object]]:
    """The issue's targets, met or not, on the point estimate (CIs reported beside it)."""
    out: dict[str, dict[str, object]] = {}
    for unlearner in (*HONEST, *CHEATS):
        rate = _rate([c for c in claims if c.unlearner == unlearner], "forgotten")
        if not rate["n"]:
            continue
        honest = unlearner in HONEST
        goal = HONEST_TARGET if honest else CHEAT_TARGET
        met = rate["rate"] >= goal if honest else rate["rate"] <= goal
        out[unlearner] = {**rate, "target": f"{'>=' if honest else '<='} {goal:.0%}",
                          "met": bool(met)}
    return out


def _cell(rate: object) -> str:
    if not isinstance(rate, dict) or not rate["n"]:
        return "n/a"
    return (f"{rate['k']}/{rate['n']} = {rate['rate']:.1%} "
            f"[{rate['low']:.1%}, {rate['high']:.1%}]")


def markdown_tables(claims: Sequence[Claim], settings: Sequence[str]) -> str:
    """The acceptance table (all settings pooled) and the per-setting breakdown."""
    lines = ["| unlearner | kind | accepted, class forgotten | accepted, random 10 % | "
             "accepted, all [95 % CI] | 'not forgotten' | 'inconclusive' | "
             "accepted on forget data alone | largest forget-test p | "
             "median forget-field similarity | median forget-set accuracy (class / random) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in acceptance_rows(claims):
        acc = row["median_forget_accuracy"]
        assert isinstance(acc, dict)
        accuracy = " / ".join(f"{acc[s]:.2f}" if s in acc else "n/a" for s in SCENARIOS)
        cells = [str(row["unlearner"]), str(row["kind"]),
                 *(_cell(row[s]) for s in (*SCENARIOS, "all")),
                 _cell(row["not forgotten"]), _cell(row["inconclusive"]),
                 _cell(row["forget alone"]), f"{row['max_p_forget']:.2g}",
                 f"{row['median_forget_similarity']:.3f}", accuracy]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Acceptance per setting (both scenarios pooled):", "",
              "| unlearner | " + " | ".join(settings) + " |",
              "|---|" + "---|" * len(settings)]
    for unlearner in UNLEARNERS:
        cells = [_cell(_rate([c for c in claims if c.unlearner == unlearner
                              and c.setting == s], "forgotten")) for s in settings]
        lines.append(f"| {unlearner} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the figure

_COLOURS = {"retrain": "#1b7837", "finetune-retain": "#2166ac", "relabel": "#67a9cf",
            "gradient-ascent": "#8073ac", "no-change": "#b2182b", "mask-logit": "#f4a582",
            "last-layer": "#d6604d"}
_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 420, 300, 52, 12, 28, 40


def _mean_curve(runs: Sequence[Sequence[tuple[int, float]]]) -> list[tuple[int, float]]:
    """Mean over runs per epoch; a run that stopped early (gradient ascent reached its
    target) keeps its last distance, because its model no longer changes."""
    runs = [sorted(run) for run in runs if run]
    last = max((run[-1][0] for run in runs), default=-1)
    out = []
    for epoch in range(last + 1):
        values = [next((d for e, d in reversed(run) if e <= epoch), run[0][1]) for run in runs]
        if any(e == epoch for run in runs for e, _ in run):
            out.append((epoch, float(np.mean(values))))
    return out


def _panel(title: str, curves: Mapping[str, Sequence[Sequence[tuple[int, float]]]],
           band: tuple[float, float], x0: float, max_epoch: int) -> list[str]:
    low_log, high_log = math.log10(CURVE_FLOOR), math.log10(2.0)
    width, height = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def px(epoch: float) -> float:
        return x0 + _PAD_L + width * epoch / max(max_epoch, 1)

    def py(distance: float) -> float:
        value = math.log10(min(max(distance, CURVE_FLOOR), 2.0))
        return _PAD_T + height * (high_log - value) / (high_log - low_log)

    out = [f'<text x="{x0 + _PAD_L + width / 2:.1f}" y="16" text-anchor="middle" '
           f'font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{x0 + _PAD_L}" y="{_PAD_T}" width="{width}" height="{height}" '
           'fill="none" stroke="#444"/>',
           f'<rect x="{x0 + _PAD_L}" y="{py(band[1]):.1f}" width="{width}" '
           f'height="{max(py(band[0]) - py(band[1]), 1):.1f}" fill="#1b7837" '
           'fill-opacity="0.15"/>']
    for tick in (1e-3, 1e-2, 1e-1, 1.0):
        y = py(tick)
        out.append(f'<line x1="{x0 + _PAD_L - 4}" y1="{y:.1f}" x2="{x0 + _PAD_L}" '
                   f'y2="{y:.1f}" stroke="#444"/><text x="{x0 + _PAD_L - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{tick:g}</text>')
    for tick in range(0, max_epoch + 1, 5):
        x = px(tick)
        out.append(f'<line x1="{x:.1f}" y1="{_PAD_T + height}" x2="{x:.1f}" '
                   f'y2="{_PAD_T + height + 4}" stroke="#444"/><text x="{x:.1f}" '
                   f'y="{_PAD_T + height + 16}" text-anchor="middle">{tick}</text>')
    out.append(f'<text x="{x0 + _PAD_L + width / 2:.1f}" y="{_H - 6}" '
               'text-anchor="middle">unlearning epoch</text>')
    for unlearner, runs in curves.items():
        points = _mean_curve(runs)
        if not points:
            continue
        colour = _COLOURS.get(unlearner, "#000")
        coords = " ".join(f"{px(e):.1f},{py(d):.1f}" for e, d in points)
        if len(points) == 1:
            e, d = points[0]
            coords = f"{px(e):.1f},{py(d):.1f} {px(max_epoch):.1f},{py(d):.1f}"
        dash = ' stroke-dasharray="5,3"' if unlearner in CHEATS else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
    return out


def curve_svg(curves: Curves, bands: Mapping[str, tuple[float, float]], setting: str) -> str:
    """Distance to the original on the forget data across unlearning epochs, per scenario.

    `curves[scenario][unlearner]` holds one [(epoch, distance)] run per seed (averaged
    here); `bands[scenario]` is the (min, max) final distance of the retrained references.
    """
    max_epoch = max((e for s in curves.values() for runs in s.values() for run in runs
                     for e, _ in run), default=1)
    titles = {"class": "a whole class forgotten", "random": "a random 10 % forgotten"}
    total_w = _W * len(curves) + 150
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{_H + 20}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{total_w}" height="{_H + 20}" fill="white"/>',
             f'<text x="14" y="{_PAD_T + 110}" transform="rotate(-90 14 {_PAD_T + 110})" '
             'text-anchor="middle">field distance to the original, forget data</text>']
    for i, (scenario, by_unlearner) in enumerate(curves.items()):
        parts += _panel(f"{setting}: {titles.get(scenario, scenario)}", by_unlearner,
                        bands.get(scenario, (CURVE_FLOOR, CURVE_FLOOR)), i * _W, max_epoch)
    x = _W * len(curves) + 4
    for j, unlearner in enumerate(UNLEARNERS):
        y = _PAD_T + 14 * j + 8
        dash = ' stroke-dasharray="5,3"' if unlearner in CHEATS else ""
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" '
                     f'stroke="{_COLOURS[unlearner]}" stroke-width="2"{dash}/>'
                     f'<text x="{x + 26}" y="{y + 4}">{unlearner}</text>')
    y = _PAD_T + 14 * len(UNLEARNERS) + 8
    parts.append(f'<rect x="{x}" y="{y - 5}" width="22" height="10" fill="#1b7837" '
                 f'fill-opacity="0.15"/><text x="{x + 26}" y="{y + 4}">references</text>')
    parts.append(f'<text x="{x}" y="{y + 22}">floor {CURVE_FLOOR:g}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
