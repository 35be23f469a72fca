"""The small zoo, built once per code version into the user's cache and shared by tests."""

from __future__ import annotations

import pytest

from modelgif.zoo import Zoo, cached_small_zoo


@pytest.fixture(scope="session")
def small_zoo() -> Zoo:
    return cached_small_zoo()
