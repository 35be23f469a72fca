"""Inline SVG charts: the figures of report.html, as text, with no library and no script.

Why hand-written SVG: the report must be ONE offline file that makes no network request and
renders the same everywhere; plotting libraries either pull fonts/scripts or embed bitmaps.
Four shapes cover every figure: a histogram with marker lines, a step curve, horizontal bars,
and grouped bars. Every label is escaped; every number is formatted deterministically, so
rendering the same evidence twice gives byte-identical HTML (report verify relies on that).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bars", "grouped_bars", "histogram", "step_curve"]

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 24, 40
COLORS = {"derived": "#b3261e", "independent": "#1e6b35", "inconclusive": "#8a6d00",
          "forgotten": "#1e6b35", "not forgotten": "#b3261e"}
NEUTRAL = "#4a5a78"


def _num(value: float) -> str:
    return f"{value:.4g}"


def _frame(title: str, body: list[str], x_label: str, y_label: str,
           height: int = HEIGHT) -> str:
    bottom = height - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="14" class="t">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" class="ax"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" class="ax"/>',
        f'<text x="{(LEFT + WIDTH - RIGHT) // 2}" y="{height - 6}" class="l" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="12" y="{(TOP + bottom) // 2}" class="l" text-anchor="middle" '
        f'transform="rotate(-90 12 {(TOP + bottom) // 2})">{escape(y_label)}</text>',
        *body,
        "</svg>",
    ]
    return "".join(parts)


def _markers(markers: Sequence[tuple[str, float, str]], x_of: tuple[float, float]) -> list[str]:
    """Dashed vertical lines with labels beside them (on the left near the right edge)."""
    out = []
    for label, x_value, key in markers:
        x = x_of[0] + x_of[1] * x_value
        color = COLORS.get(key, "#222")
        anchor, offset = ("end", -3) if x > WIDTH - RIGHT - 70 else ("start", 3)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                   f'stroke="{color}" stroke-width="2" stroke-dasharray="5 3"/>')
        out.append(f'<text x="{x + offset:.1f}" y="{TOP + 10}" class="k" fill="{color}" '
                   f'text-anchor="{anchor}">{escape(label)}</text>')
    return out


def _scale(low: float, high: float, start: float, stop: float) -> tuple[float, float]:
    """(offset, factor) mapping [low, high] onto [start, stop]."""
    span = high - low if high > low else 1.0
    factor = (stop - start) / span
    return start - low * factor, factor


def _ticks(low: float, high: float, y: float, x_of: tuple[float, float]) -> list[str]:
    out = []
    for i in range(5):
        value = low + (high - low) * i / 4
        x = x_of[0] + x_of[1] * value
        out.append(f'<text x="{x:.1f}" y="{y + 14:.1f}" class="k" text-anchor="middle">'
                   f"{_num(value)}</text>")
    return out


def histogram(
    title: str,
    values: Sequence[float],
    markers: Sequence[tuple[str, float, str]],
    x_label: str,
    bins: int = 20,
) -> str:
    """A histogram of `values` with vertical marker lines (label, x, decision/colour key)."""
    points = [*values, *(m[1] for m in markers)]
    low, high = (min(points), max(points)) if points else (0.0, 1.0)
    pad = (high - low) * 0.05 or 0.5
    low, high = low - pad, high + pad
    width = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(int((value - low) / width), bins - 1)] += 1
    x_of = _scale(low, high, LEFT, WIDTH - RIGHT)
    y_of = _scale(0, max(counts) or 1, HEIGHT - BOTTOM, TOP + 8)
    body = []
    for index, count in enumerate(counts):
        x0 = x_of[0] + x_of[1] * (low + index * width)
        y = y_of[0] + y_of[1] * count
        body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x_of[1] * width - 1:.1f}" '
                    f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{NEUTRAL}" opacity="0.55"/>')
    body += _markers(markers, x_of)
    body += _ticks(low, high, HEIGHT - BOTTOM, x_of)
    return _frame(title, body, x_label, "count")


def step_curve(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    markers: Sequence[tuple[str, float, str]],
    x_label: str,
    y_label: str,
) -> str:
    """A right-continuous step curve (e.g. false-positive rate against threshold)."""
    low, high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    for _, value, _ in markers:
        low, high = min(low, value), max(high, value)
    pad = (high - low) * 0.05 or 0.5
    x_of = _scale(low - pad, high + pad, LEFT, WIDTH - RIGHT)
    y_of = _scale(0.0, 1.0, HEIGHT - BOTTOM, TOP + 8)
    path = []
    for x_value, y_value in zip(xs, ys, strict=True):
        path.append(f"{x_of[0] + x_of[1] * x_value:.1f},{y_of[0] + y_of[1] * y_value:.1f}")
    body = [f'<polyline points="{" ".join(path)}" fill="none" stroke="{NEUTRAL}" '
            'stroke-width="2"/>'] if path else []
    body += _markers(markers, x_of)
    body += _ticks(low - pad, high + pad, HEIGHT - BOTTOM, x_of)
    return _frame(title, body, x_label, y_label)


def bars(title: str, rows: Sequence[tuple[str, float, str]], x_label: str) -> str:
    """Horizontal bars (label, value, decision/colour key), values >= 0."""
    height = TOP + BOTTOM + 12 + 22 * len(rows)
    top_value = max([r[1] for r in rows] + [1e-12])
    body = []
    for index, (label, value, key) in enumerate(rows):
        y = TOP + 6 + index * 22
        length = (WIDTH - RIGHT - LEFT - 200) * max(value, 0.0) / top_value
        body.append(f'<text x="{LEFT + 134}" y="{y + 13}" class="k" text-anchor="end">'
                    f"{escape(label[:28])}</text>")
        body.append(f'<rect x="{LEFT + 140}" y="{y}" width="{length:.1f}" height="16" '
                    f'fill="{COLORS.get(key, NEUTRAL)}"/>')
        body.append(f'<text x="{LEFT + 144 + length:.1f}" y="{y + 13}" class="k">'
                    f"{_num(value)}</text>")
    return _frame(title, body, x_label, "", height)


def grouped_bars(title: str, groups: dict[str, dict[str, float]], y_label: str) -> str:
    """Vertical bars grouped by outer key (e.g. forget / retain) for each inner key."""
    labels = sorted({inner for values in groups.values() for inner in values})
    values = [v for g in groups.values() for v in g.values()]
    y_of = _scale(0.0, max([*values, 1e-12]), HEIGHT - BOTTOM, TOP + 8)
    slot = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    bar = slot / (len(labels) + 1)
    palette = ["#b3261e", "#1e6b35", NEUTRAL, "#8a6d00", "#6b3fa0", "#0b7285"]
    body = []
    for g_index, (group, inner) in enumerate(sorted(groups.items())):
        x0 = LEFT + g_index * slot + bar / 2
        for l_index, label in enumerate(labels):
            if label not in inner:
                continue
            y = y_of[0] + y_of[1] * inner[label]
            body.append(f'<rect x="{x0 + l_index * bar:.1f}" y="{y:.1f}" '
                        f'width="{bar - 2:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" '
                        f'fill="{palette[l_index % len(palette)]}"/>')
        body.append(f'<text x="{x0 + slot / 2 - bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                    f'class="k" text-anchor="middle">{escape(group)}</text>')
    for l_index, label in enumerate(labels):
        body.append(f'<rect x="{WIDTH - RIGHT - 150}" y="{TOP + l_index * 14}" width="10" '
                    f'height="10" fill="{palette[l_index % len(palette)]}"/>')
        body.append(f'<text x="{WIDTH - RIGHT - 136}" y="{TOP + 9 + l_index * 14}" class="k">'
                    f"{escape(label[:22])}</text>")
    return _frame(title, body, "", y_label)
