"""The exception tree of modelgif.

    ModelgifError                      every error modelgif raises on purpose; the CLI exits 2
    ├── InputError (ValueError)        unusable input: a bad parameter, file, key or config
    │   └── ModelLoadError             a model file that is broken, hostile or unsupported
    ├── IntegrityError                 ONE opaque error for any failed signature or tamper check
    ├── BackendError (RuntimeError)    a gradient backend cannot handle a model
    └── BudgetError                    a computation exceeded its wall-time or memory budget

Why this shape: a forensic tool must tell "your input is unusable" (exit 2, one line naming
the problem) apart from "the evidence does not verify" (which must never say which byte
failed), and both apart from a negative result, which is data (a Verdict), not an exception.
Each class also subclasses a builtin so callers that catch ValueError keep working.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BudgetError",
    "InputError",
    "IntegrityError",
    "ModelLoadError",
    "ModelgifError",
]


class ModelgifError(Exception):
    """Base of every error modelgif raises deliberately."""


class InputError(ModelgifError, ValueError):
    """The caller's input cannot be used: a parameter, a file, a key or a config."""


class ModelLoadError(InputError):
    """A model file is broken, hostile or outside what modelgif supports.

    The message names the problem and, where there is one, the node or tensor.
    """


class IntegrityError(ModelgifError):
    """A signature or digest did not verify. Deliberately opaque: it never says where."""


class BackendError(ModelgifError, RuntimeError):
    """A gradient backend cannot evaluate a model (e.g. an op it does not implement)."""


class BudgetError(ModelgifError):
    """A computation on a model ran past its wall-time or memory budget (budget.py)."""
