"""Every module of modelgif declares its public surface, and the declaration is true.

Why: `__all__` is what a reader, `from x import *` and the docs take as the API. A name in
`__all__` that does not exist breaks imports; a public function left out of it is an API
nobody promised. Each module also needs a docstring: it is where the "why" lives.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import modelgif


def _modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(modelgif.__path__, "modelgif.")]
    return ["modelgif", *sorted(n for n in names if not n.endswith("__main__"))]


@pytest.fixture(scope="module")
def modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(name) for name in _modules()}


def test_every_module_declares_all_and_has_a_docstring(modules: dict[str, ModuleType]) -> None:
    missing = [n for n, m in modules.items() if not isinstance(getattr(m, "__all__", None), list)]
    assert missing == []
    undocumented = [n for n, m in modules.items() if not (m.__doc__ or "").strip()]
    assert undocumented == []


def test_every_exported_name_exists_once(modules: dict[str, ModuleType]) -> None:
    broken = [f"{n}.{e}" for n, m in modules.items() for e in m.__all__ if not hasattr(m, e)]
    assert broken == []
    doubled = [n for n, m in modules.items() if len(set(m.__all__)) != len(m.__all__)]
    assert doubled == []


def test_every_public_function_and_class_is_exported(modules: dict[str, ModuleType]) -> None:
    """Defined here, not underscored -> in __all__ (else make it private)."""
    unlisted = [
        f"{name}.{attr}"
        for name, module in modules.items()
        for attr, obj in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == name
        and attr not in module.__all__
    ]
    assert unlisted == []
