"""The plan: sizes meet the issue's counts, lineage is well-formed, seeds are independent."""

from __future__ import annotations

from collections import Counter

import pytest

from modelgif.errors import InputError
from modelgif.zoo import DERIVED_CATEGORIES, plan_zoo
from modelgif.zoo.plan import derive_seed


def test_full_size_counts() -> None:
    jobs = plan_zoo("full", seed=0)
    sources = [j for j in jobs if j.category == "source"]
    assert {j.dataset for j in sources} == {"mnist1d", "digits"}
    for dataset in ("mnist1d", "digits"):
        archs = {j.architecture for j in sources if j.dataset == dataset}
        assert len(archs) >= 2  # at least two source architectures per dataset
        independents = [j for j in jobs if j.dataset == dataset and j.category == "independent"]
        assert len(independents) >= 20
        assert archs <= {j.architecture for j in independents}  # same architectures too
        assert {j.recipe.data_split for j in independents} == {"owner", "attacker"}
        transfer_ind = [j for j in jobs if j.dataset == dataset
                        and j.category == "independent-transfer"]
        assert len(transfer_ind) >= 10
    for source in sources:
        counts = Counter(j.category for j in jobs if j.source == source.id)
        for category in DERIVED_CATEGORIES:
            assert counts[category] >= 10, (source.id, category)
        for category in ("extract-p", "extract-l", "extract-adv"):
            students = {j.architecture for j in jobs
                        if j.source == source.id and j.category == category}
            assert len(students) >= 4


def test_small_size_has_every_required_category() -> None:
    jobs = plan_zoo("small", seed=0)
    counts = Counter(j.category for j in jobs)
    for category in ("source", "finetune-a", "finetune-l", "pruned", "extract-p", "extract-l",
                     "quantized", "reexported", "transfer"):
        assert counts[category] >= 1, category
    assert counts["independent"] >= 6
    assert len(jobs) <= 40


@pytest.mark.parametrize("size", ["small", "full"])
def test_lineage_is_well_formed(size: str) -> None:
    jobs = plan_zoo(size, seed=0)
    seen: dict[str, object] = {}
    for job in jobs:
        assert job.id not in seen
        if job.parent is not None:
            assert job.parent in seen  # parents come first
        if job.category == "source" or job.category.startswith("independent"):
            assert job.parent is None and job.source is None
            assert job.recipe.teacher is None
        else:
            assert job.source is not None and job.parent is not None
            assert job.category in DERIVED_CATEGORIES
            assert job.recipe.data_split in (None, "attacker")  # never the owner's data
        seen[job.id] = job
    assert len({j.recipe.seed for j in jobs}) == len(jobs)


def test_seeds_depend_on_zoo_seed_and_id_only() -> None:
    a = {j.id: j.recipe.seed for j in plan_zoo("small", 0)}
    b = {j.id: j.recipe.seed for j in plan_zoo("small", 1)}
    assert set(a) == set(b) and all(a[k] != b[k] for k in a)
    only_digits = {j.id: j.recipe.seed for j in plan_zoo("full", 0, ("digits",))}
    full = {j.id: j.recipe.seed for j in plan_zoo("full", 0)}
    assert all(full[k] == v for k, v in only_digits.items())
    assert derive_seed(0, "x") == derive_seed(0, "x") != derive_seed(0, "y")


def test_bad_sizes_and_datasets_are_input_errors() -> None:
    with pytest.raises(InputError):
        plan_zoo("medium", 0)
    with pytest.raises(InputError):
        plan_zoo("small", 0, ("cifar10",))


@pytest.mark.parametrize("size", ["small", "full"])
def test_lineage_groups_are_closed(size: str) -> None:
    from modelgif.zoo.build import lineage_groups

    jobs = plan_zoo(size, seed=0)
    groups = lineage_groups(jobs)
    assert sorted(j.id for g in groups for j in g) == sorted(j.id for j in jobs)
    for group in groups:
        ids = {j.id for j in group}
        assert all(j.parent is None or j.parent in ids for j in group)
        assert len({j.dataset for j in group}) == 1
    n_sources = sum(j.category == "source" for j in jobs)
    n_datasets = len({j.dataset for j in jobs})
    assert len(groups) == n_sources + 2 * n_datasets
