"""Per-category statistics of a built zoo, as data and as a Markdown table.

Why in the library: BENCHMARKS.md must show numbers measured on a real build, reproducibly;
`modelgif zoo table DIR` prints exactly this, so the table in the docs is one command away
from the zoo it describes. "Agreement with the source" is the share of test inputs where the
model and the source predict the same class; independents are listed under every source of
their dataset, with their agreement to that source (which they never saw).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean

from modelgif.zoo.manifest import CATEGORIES, INDEPENDENT_CATEGORIES, ModelRecord, Zoo

__all__ = [
    "CategoryRow",
    "StudentRow",
    "category_rows",
    "markdown_table",
    "student_rows",
]


@dataclass(frozen=True)
class CategoryRow:
    """One line of the table: one source's derivatives of one category, or the dataset's
    independents measured against that source."""

    source: str
    category: str
    count: int
    mean_test_accuracy: float
    mean_source_agreement: float | None
    min_source_agreement: float | None
    max_source_agreement: float | None


def category_rows(zoo: Zoo) -> list[CategoryRow]:
    """Per source: the source, each derived category, then the independents (whose
    agreement is measured against that source), in CATEGORIES order."""
    rows = []
    for source in zoo.sources():
        members_of: dict[str, list[ModelRecord]] = defaultdict(list)
        for record in zoo.models:
            if record.id == source.id or record.source == source.id or (
                record.dataset == source.dataset and record.category in INDEPENDENT_CATEGORIES
            ):
                members_of[record.category].append(record)
        for category in CATEGORIES:
            members = members_of.get(category, [])
            if not members:
                continue
            agreements = [
                m.agreement[source.id]
                for m in members
                if m.id != source.id and source.id in m.agreement
            ]
            rows.append(CategoryRow(
                source.id, category, len(members), fmean(m.test_accuracy for m in members),
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
        "| source | category | count | mean test acc. % | mean agreement with the source % "
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
            f"| {row.source} | {row.category} | {row.count} | "
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
