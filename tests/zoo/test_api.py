"""modelgif.zoo's public names exist and the package documents itself."""

from __future__ import annotations

import modelgif.zoo as zoo


def test_all_names_exist() -> None:
    assert len(set(zoo.__all__)) == len(zoo.__all__)
    for name in zoo.__all__:
        assert hasattr(zoo, name), name


def test_module_docstrings_say_why() -> None:
    from modelgif.zoo import (
        architectures,
        attacks,
        build,
        cache,
        data,
        maker,
        manifest,
        plan,
        summary,
        training,
    )

    for module in (zoo, architectures, attacks, build, cache, data, maker, manifest, plan,
                   summary, training):
        assert module.__doc__ and len(module.__doc__) > 200, module.__name__
