"""The figures of report.html: matplotlib drawn to SVG text, inlined in the page.

Why matplotlib's SVG backend and these settings: the page must stay ONE offline file, so a
figure is inline SVG, not a link; text stays text (`svg.fonttype: none`) so it prints
sharply, can be searched and copied, and the browser test can measure it; the font is fixed
(DejaVu Sans, which ships with matplotlib and with Debian's fonts-dejavu-core) and the id
salt and date are fixed, so the same evidence gives the same bytes on every run.

One colour meaning throughout: red only for "derived" / "not forgotten", green for
"independent" / "forgotten", amber for "inconclusive", grey-blue for the reference
populations (the calibration negatives, the retrained references), black for thresholds.
Marker labels go into legends below the axes, never onto the data, so no text collides.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from modelgif.verifiers.tails import student_t_sf

__all__ = ["COLORS", "anchors", "distances", "null_and_calibration", "unlearning"]

COLORS = {"derived": "#b3261e", "not forgotten": "#b3261e", "independent": "#1e6b35",
          "forgotten": "#1e6b35", "inconclusive": "#8a6d00"}
POPULATION = "#5b6b8c"  # calibration negatives and retrained references
THRESHOLD = "#222222"
WIDTH = 7.5  # inches; the page shows a figure at about this size, and so does print
RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 10.0,
    "legend.fontsize": 9.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "svg.fonttype": "none",
    "text.parse_math": False,  # names come from the evidence: "$" is text, never TeX
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "axes.axisbelow": True,
    "figure.dpi": 96.0,
}


def _colour(decision: str) -> str:
    return COLORS.get(decision, POPULATION)


@contextmanager
def _style(salt: str) -> Iterator[None]:
    settings: Any = {**RC, "svg.hashsalt": f"modelgif-{salt}"}  # rc keys are typed Literals
    with matplotlib.rc_context(settings):
        yield


def _svg(figure: Figure, label: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, no metadata, no date."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    start = text.index("<svg")
    text = text[start:]
    head, rest = text.split(">", 1)
    head = head.replace("<svg ", f'<svg class="fig" role="img" aria-label="{escape(label)}" ', 1)
    rest = _drop_metadata(rest)
    return f"{head}>{rest.strip()}"


def _drop_metadata(text: str) -> str:
    begin = text.find("<metadata>")
    end = text.find("</metadata>")
    if begin >= 0 and end > begin:
        return text[:begin] + text[end + len("</metadata>"):]
    return text


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _probability(value: float, _: object = None) -> str:
    """A log-axis tick as plain text (no mathtext): 1, 0.1, 0.01, 0.001, 1e-6."""
    if value >= 1e-3:
        return f"{value:g}"
    return f"1e{round(math.log10(value))}"


def _legend_below(figure: Figure, handles: Sequence[Any], columns: int = 2) -> None:
    figure.legend(handles=list(handles), loc="outside lower center", ncols=columns,
                  frameon=False)


def _view(points: Sequence[float], suspect: float) -> tuple[float, float, bool]:
    """x limits covering the null and threshold, and the suspect unless it is far away."""
    low, high = min(points), max(points)
    span = high - low if high > low else max(abs(high), 1.0)
    if low - 1.5 * span <= suspect <= high + 1.5 * span:
        low, high = min(low, suspect), max(high, suspect)
        span = high - low
        return low - 0.08 * span, high + 0.08 * span, False
    if suspect > high:  # room on the right for the suspect's label
        return low - 0.1 * span, high + 0.6 * span, True
    return low - 0.6 * span, high + 0.1 * span, True


def null_and_calibration(finding: dict[str, Any], salt: str) -> str:
    """Top: the negatives' statistic T, the threshold and the suspect's T.
    Bottom: the chance an independent model scores at least T (the p-value curve the
    verdict uses, and the fraction of negatives that did), the suspect at its p-value."""
    verdict, calibration = finding["verdict"], finding["calibration"]
    null = sorted(float(v) for v in calibration["null_statistics"])
    m = len(null)
    mean, sd = float(calibration["null_mean"]), float(calibration["null_sd"])
    threshold, statistic = float(verdict["threshold"]), float(verdict["statistic"])
    p_value, target = float(verdict["p_value"]), float(verdict["target_fpr"])
    decision = str(verdict["decision"])
    low, high, off_scale = _view([*null, threshold, mean - 2.5 * sd, mean + 2.5 * sd],
                                 statistic)
    with _style(salt):
        figure = Figure(figsize=(WIDTH, 5.4), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True)
        xs = [low + (high - low) * i / 200 for i in range(201)]
        density = [math.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
                   for x in xs]
        top.plot(xs, density, color=POPULATION, linewidth=1.5)
        top.plot(null, [0.0] * m, linestyle="none", marker="|", markersize=16,
                 markeredgewidth=2, color=POPULATION, clip_on=False)
        top.set_ylim(0.0, max(density) * 1.2)
        top.set_ylabel("density of T\n(independent models)")
        top.tick_params(labelbottom=True)
        top.set_title("The suspect against the independent negatives", loc="left")
        floor = min(target / 20.0, 1e-3)
        if p_value > 0.0:
            floor = min(floor, p_value / 5.0)
        floor = max(floor, 1e-12)
        scale = sd * math.sqrt(1.0 + 1.0 / m)
        curve = [max(student_t_sf((x - mean) / scale, m - 1), floor) for x in xs]
        bottom.plot(xs, curve, color=POPULATION, linewidth=1.5)
        bottom.plot(null, [sum(v >= x for v in null) / m for x in null], linestyle="none",
                    marker="o", markersize=4, color=POPULATION)
        bottom.axhline(target, color=THRESHOLD, linestyle=":", linewidth=1.2)
        bottom.set_yscale("log")
        bottom.set_ylim(floor, 2.0)
        bottom.yaxis.set_major_locator(LogLocator(numticks=6))
        bottom.yaxis.set_minor_locator(NullLocator())
        bottom.yaxis.set_major_formatter(FuncFormatter(_probability))
        bottom.set_xlabel("statistic T (higher = more like the owner's model)")
        bottom.set_ylabel("chance an independent\nmodel scores ≥ T")
        bottom.set_title("Calibration: how rare is the suspect's T?", loc="left")
        for axis in (top, bottom):
            axis.axvline(threshold, color=THRESHOLD, linestyle="--", linewidth=1.4)
            axis.set_xlim(low, high)
        suspect_colour = _colour(decision)
        shown_p = min(max(p_value, floor), 1.0)
        if off_scale:
            right = statistic > high
            edge, arrow = (1.0, "→") if right else (0.0, "←")
            text = (f"suspect T = {_fmt(statistic)} {arrow}" if right
                    else f"{arrow} suspect T = {_fmt(statistic)}")
            for axis, y in ((top, 0.85), (bottom, 0.15)):
                axis.text(edge, y, text, transform=axis.transAxes, color=suspect_colour,
                          ha="right" if right else "left", va="center", fontsize=10,
                          fontweight="bold")
        else:
            top.axvline(statistic, color=suspect_colour, linewidth=2.2)
            bottom.plot([statistic], [shown_p], marker="D", markersize=8,
                        color=suspect_colour, linestyle="none", zorder=5)
        below = " (below the axis)" if p_value < floor else ""
        target_text = f"{100 * target:.3g}%"
        handles = [
            Line2D([], [], color=POPULATION, marker="|", markersize=10, linestyle="none",
                   markeredgewidth=2, label=f"T of each negative (n = {m})"),
            Line2D([], [], color=POPULATION, linewidth=1.5,
                   label="bell curve fitted to the negatives"),
            Line2D([], [], color=POPULATION, marker="o", linestyle="none", markersize=4,
                   label="fraction of negatives scoring ≥ T"),
            Line2D([], [], color=THRESHOLD, linestyle="--",
                   label=f"decision threshold, T = {_fmt(threshold)}"),
            Line2D([], [], color=THRESHOLD, linestyle=":",
                   label=f"target false-positive rate, {target_text}"),
            Line2D([], [], color=suspect_colour, linewidth=2.2,
                   marker="" if off_scale else "D",
                   label=f"suspect: T = {_fmt(statistic)}, p = {_fmt(p_value)}{below}"),
        ]
        _legend_below(figure, handles)
        return _svg(figure, "The suspect's statistic against the independent negatives, "
                    "and the calibration curve")


def anchors(finding: dict[str, Any], salt: str) -> str:
    """Histogram of the suspect's per-anchor evidence, with what independence looks like."""
    verdict = finding["verdict"]
    decision = str(verdict["decision"])
    values = [float(v) for v in verdict.get("anchor_z") or []]
    standardised = bool(values)
    if not standardised:
        values = [float(v) for v in verdict.get("anchor_similarity") or []]
    with _style(salt):
        figure = Figure(figsize=(WIDTH, 3.0), layout="constrained")
        axis = figure.subplots()
        low, high = min([*values, -3.0 if standardised else 0.0]), max(
            [*values, 3.0 if standardised else 1.0])
        bins = 24
        width = (high - low) / bins or 1.0
        edges = [low + width * i for i in range(bins + 1)]
        axis.hist(values, bins=edges, color=_colour(decision), alpha=0.75,
                  edgecolor="white")
        handles: list[Any] = [Patch(color=_colour(decision), alpha=0.75,
                                    label=f"the suspect's {len(values)} anchors")]
        if standardised:
            xs = [low + (high - low) * i / 200 for i in range(201)]
            scale = len(values) * width
            axis.plot(xs, [scale * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) for x in xs],
                      color=POPULATION, linewidth=1.5)
            handles.append(Line2D([], [], color=POPULATION, linewidth=1.5,
                                  label="expected for an independent model"))
            axis.set_xlabel("z per anchor: suspect's similarity in negatives' standard "
                            "deviations from their mean")
        else:
            axis.set_xlabel("cosine similarity per anchor (uncalibrated)")
        mean = sum(values) / len(values) if values else 0.0
        axis.axvline(mean, color=THRESHOLD, linestyle="--", linewidth=1.4)
        handles.append(Line2D([], [], color=THRESHOLD, linestyle="--",
                              label=f"suspect's mean = {_fmt(mean)}"))
        axis.set_ylabel("number of anchors")
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_below(figure, handles, 2)
        return _svg(figure, "Per-anchor evidence of the suspect")


def distances(rows: Sequence[tuple[str, float, str]], salt: str) -> str:
    """Horizontal bars: each compared model's mean field distance to the owner's."""
    with _style(salt):
        figure = Figure(figsize=(WIDTH, 1.2 + 0.42 * len(rows)), layout="constrained")
        axis = figure.subplots()
        names = [name if len(name) <= 36 else name[:33] + "..." for name, _, _ in rows]
        values = [value for _, value, _ in rows]
        positions = list(range(len(rows)))[::-1]
        axis.barh(positions, values, color=[_colour(d) for _, _, d in rows], height=0.6)
        top = max([*values, 1e-9])
        for y, value in zip(positions, values, strict=True):
            axis.text(value + top * 0.01, y, f"{value:.3f}", va="center", fontsize=9)
        axis.set_xlim(0.0, top * 1.18)
        axis.set_yticks(positions, names)
        axis.set_xlabel("mean cosine distance to the owner's field (0 = same, 1 = unrelated)")
        axis.grid(axis="y", visible=False)
        decisions = sorted({d for _, _, d in rows})
        _legend_below(figure, [Patch(color=_colour(d), label=d) for d in decisions],
                      len(decisions))
        return _svg(figure, "Field distance of every compared model to the owner's")


def unlearning(finding: dict[str, Any], salt: str) -> str:
    """Claimed model against retrained references, on forget and on retained data."""
    verdict = finding["verdict"]
    decision = str(verdict["decision"])
    groups = [("forget data", verdict.get("forget_similarity"),
               verdict.get("reference_forget_similarity") or []),
              ("retained data", verdict.get("retain_similarity"),
               verdict.get("reference_retain_similarity") or [])]
    groups = [g for g in groups if isinstance(g[1], float)]
    with _style(salt):
        figure = Figure(figsize=(WIDTH, 3.4), layout="constrained")
        axis = figure.subplots()
        values = [1.0 - float(s) for _, s, _ in groups]
        references = [[1.0 - float(s) for s in refs] for _, _, refs in groups]
        top = max([*values, *(v for refs in references for v in refs), 1e-6])
        for index, (value, refs) in enumerate(zip(values, references, strict=True)):
            axis.bar(index - 0.2, value, width=0.32, color=_colour(decision),
                     edgecolor=_colour(decision), linewidth=2.0)
            axis.text(index - 0.2, value + top * 0.02, f"{value:.3f}", ha="center",
                      va="bottom", fontsize=9)
            if refs:
                n = len(refs)
                xs = [index + 0.2 + 0.14 * ((i % 5) / 4 - 0.5) for i in range(n)]
                axis.plot(xs, refs, linestyle="none", marker="o", markersize=5,
                          color=POPULATION, alpha=0.85)
                axis.vlines(index + 0.2, min(refs), max(refs), color=POPULATION,
                            linewidth=1.0)
                mean = sum(refs) / n
                axis.hlines(mean, index + 0.08, index + 0.32, color=POPULATION, linewidth=2.4)
        axis.set_xticks(range(len(groups)), [g[0] for g in groups])
        axis.set_xlim(-0.6, len(groups) - 0.4)
        axis.set_ylim(0.0, top * 1.2)
        axis.set_ylabel("field distance to the original\n(1 − mean cosine similarity)")
        axis.grid(axis="x", visible=False)
        handles: list[Any] = [Patch(color=_colour(decision),
                                    label=f"claimed model (verdict: {decision})")]
        n_refs = max((len(r) for r in references), default=0)
        if n_refs:
            handles.append(Line2D([], [], color=POPULATION, marker="o", linestyle="none",
                                  label=f"retrained references (n = {n_refs}): one dot each, "
                                  "bar = mean"))
        _legend_below(figure, handles, 2)
        return _svg(figure, "Unlearning: the claimed model against retrained references")
