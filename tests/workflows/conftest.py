"""The owner every workflow test shares (owner_case.py), made once per test package."""

from __future__ import annotations

import pytest

from workflows.owner_case import Owner, make_owner


@pytest.fixture(scope="package")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Owner:
    return make_owner(tmp_path_factory.mktemp("workflows"))
