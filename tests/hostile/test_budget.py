"""budget.run_budgeted: results and errors cross back; time and memory are bounded."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest

from hostile.harness import recorded_opens
from modelgif.budget import Budget, run_budgeted
from modelgif.errors import BudgetError, InputError
from modelgif.fingerprint.field import field_cosines

SMALL = Budget(seconds=5, memory_bytes=3 << 30)


def _square(x: np.ndarray) -> np.ndarray:
    logging.getLogger("modelgif.test").warning("squared %d values", x.size)
    squared: np.ndarray = x * x
    return squared


def _refuse() -> None:
    raise InputError("refused in the child")


def _sleep() -> None:
    time.sleep(60)


def _allocate() -> int:
    return int(np.ones(4 << 30, dtype=np.uint8).sum())


def _counting(n: int, progress: object = None) -> int:
    assert callable(progress)
    for i in range(n):
        progress(i + 1, n)
    return n


def _nested() -> float:
    return run_budgeted(time.monotonic, budget=SMALL)


def test_result_and_logs_come_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        out = run_budgeted(_square, np.arange(5.0), budget=SMALL)
    np.testing.assert_array_equal(out, np.arange(5.0) ** 2)
    assert "squared 5 values" in caplog.text


def test_modelgif_errors_are_reraised_as_they_are() -> None:
    with pytest.raises(InputError, match="refused in the child"):
        run_budgeted(_refuse, budget=SMALL)


def test_wall_time_budget_kills_the_child() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetError, match="suspect exceeded the 1 s budget"):
        run_budgeted(_sleep, budget=Budget(seconds=1), what="suspect")
    assert time.monotonic() - start < 10


def test_memory_budget_stops_an_allocation() -> None:
    with pytest.raises(BudgetError, match="exceeded the 3 GiB memory budget"):
        run_budgeted(_allocate, budget=SMALL)


def test_progress_reaches_the_parent() -> None:
    calls: list[tuple[int, int]] = []
    assert run_budgeted(_counting, 3, budget=SMALL,
                        progress=lambda d, t: calls.append((d, t))) == 3
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_budgets_nest_inline() -> None:
    """Inside a child, a nested run_budgeted does not fork again (it returns in-process)."""
    assert isinstance(run_budgeted(_nested, budget=SMALL), float)


def test_environment_sets_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELGIF_BUDGET_SECONDS", "7")
    monkeypatch.setenv("MODELGIF_BUDGET_MEMORY_GIB", "1.5")
    assert Budget.from_env() == Budget(seconds=7, memory_bytes=int(1.5 * (1 << 30)))
    monkeypatch.setenv("MODELGIF_BUDGET_SECONDS", "soon")
    with pytest.raises(InputError, match="MODELGIF_BUDGET_SECONDS must be a positive number"):
        Budget.from_env()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def test_opens_in_the_child_are_recorded(tmp_path: Path) -> None:
    """The corpus's "nothing outside is read" checks see the budget's child processes."""
    target = tmp_path / "seen.bin"
    target.write_bytes(b"x")
    with recorded_opens() as opened:
        assert run_budgeted(_read, str(target), budget=SMALL) == b"x"
    assert os.path.realpath(target) in opened


def test_nan_field_is_unusable_not_dissimilar() -> None:
    owner = np.ones((3, 2, 4))
    suspect = owner.copy()
    suspect[1, 0, 2] = np.nan
    with pytest.raises(InputError, match="suspect returns NaN/Inf at 1 of 3 anchors: its "
                                         "answers are not evidence"):
        field_cosines(owner, suspect, "suspect")
    assert np.allclose(field_cosines(owner, owner), 1.0)
