"""Per-category statistics of a built zoo, as data and as a Markdown table.

Why in the library: BENCHMARKS.md must show numbers measured on a real build, reproducibly;
`modelgif zoo table DIR` prints exactly this, so the table in the docs is one command away
from the zoo it describes. "Agreement with the source" is the share of test inputs where the
model and its source predict the same class (for independents: the mean over the dataset's
sources, which they never saw).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean

from modelgif.zoo.manifest import CATEGORIES, ModelRecord, Zoo

__all__ = ["CategoryRow", "category_rows", "markdown_table", "student_rows"]


@dataclass(frozen=True)
class CategoryRow:
    """One line of the table: a dataset's category, pooled over its sources."""

    dataset: str
    category: str
    count: int
    mean_test_accuracy: float
    mean_source_agreement: float | None
    min_source_agreement: float | None
    max_source_agreement: float | None


def source_agreement(record: ModelRecord) -> float | None:
    """Agreement with the model's own source, or the mean over all sources if it has none."""
    if record.category == "source":
        return None
    if record.source is not None:
        return record.agreement.get(record.source)
    values = list(record.agreement.values())
    return fmean(values) if values else None


def category_rows(zoo: Zoo) -> list[CategoryRow]:
    """One row per (dataset, category), in the zoo's dataset order and CATEGORIES order."""
    groups: dict[tuple[str, str], list[ModelRecord]] = defaultdict(list)
    for record in zoo.models:
        groups[(record.dataset, record.category)].append(record)
    rows = []
    for dataset in zoo.manifest.datasets:
        for category in CATEGORIES:
            members = groups.get((dataset, category), [])
            if not members:
                continue
            agreements = [a for m in members if (a := source_agreement(m)) is not None]
            rows.append(CategoryRow(
                dataset, category, len(members), fmean(m.test_accuracy for m in members),
                fmean(agreements) if agreements else None,
                min(agreements) if agreements else None,
                max(agreements) if agreements else None,
            ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class StudentRow:
    """Extraction students of one source and one architecture, against their source."""

    source: str
    source_accuracy: float
    category: str
    architecture: str
    count: int
    mean_test_accuracy: float
    mean_source_agreement: float


def student_rows(zoo: Zoo) -> list[StudentRow]:
    """Extract-P / -L / -Adv students grouped by source, category and architecture."""
    groups: dict[tuple[str, str, str], list[ModelRecord]] = defaultdict(list)
    for record in zoo.models:
        if record.category.startswith("extract-") and record.source is not None:
            groups[(record.source, record.category, record.architecture)].append(record)
    rows = []
    for (source, category, arch), members in groups.items():
        rows.append(StudentRow(
            source, zoo.get(source).test_accuracy, category, arch, len(members),
            fmean(m.test_accuracy for m in members),
            fmean(m.agreement[source] for m in members),
        ))  # fmt: skip
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def markdown_table(zoo: Zoo) -> str:
    """The per-category table and the extraction-students table, as Markdown."""
    lines = [
        "| dataset | category | count | mean test acc. % | mean agreement with source % "
        "(min–max) |",
        "|---|---|---:|---:|---|",
    ]
    for row in category_rows(zoo):
        spread = (
            ""
            if row.min_source_agreement is None
            else f" ({_pct(row.min_source_agreement)}–{_pct(row.max_source_agreement)})"
        )
        lines.append(
            f"| {row.dataset} | {row.category} | {row.count} | "
            f"{_pct(row.mean_test_accuracy)} | {_pct(row.mean_source_agreement)}{spread} |"
        )
    lines += [
        "",
        "| source (test acc. %) | category | student architecture | count | mean test acc. % "
        "| mean agreement with source % |",
        "|---|---|---|---:|---:|---:|",
    ]
    for s in student_rows(zoo):
        lines.append(
            f"| {s.source} ({_pct(s.source_accuracy)}) | {s.category} | {s.architecture} | "
            f"{s.count} | {_pct(s.mean_test_accuracy)} | {_pct(s.mean_source_agreement)} |"
        )
    return "\n".join(lines) + "\n"
