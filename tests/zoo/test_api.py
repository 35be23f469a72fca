"""modelgif.zoo's one-call entry points are exported from the package itself."""

from __future__ import annotations

import modelgif.zoo as zoo


def test_the_entry_points_a_user_needs_are_at_the_top() -> None:
    for name in ("build_zoo", "cached_small_zoo", "Zoo", "default_cache_dir"):
        assert name in zoo.__all__ and callable(getattr(zoo, name)), name
