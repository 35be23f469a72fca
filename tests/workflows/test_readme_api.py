"""The README's Python API snippet calls what exists, with arguments that bind.

Why not run it: its audit uses the default 64 anchors and its calibration a folder of
negatives, minutes of work the workflow tests already do at a smaller size. What drifts
when code changes is a name or a keyword; binding each call to the signature catches that.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import modelgif

README = Path(__file__).resolve().parents[2] / "README.md"


def _calls() -> list[ast.Call]:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- python-api-snippet -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its Python API snippet"
    tree = ast.parse(found.group(1))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "modelgif"]


def test_every_call_binds_to_the_public_function() -> None:
    calls = _calls()
    named = {call.func.attr for call in calls if isinstance(call.func, ast.Attribute)}
    assert named == {"calibrate", "verify", "audit_unlearning", "write_report",
                     "verify_report"}
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        function = getattr(modelgif, call.func.attr)
        assert call.func.attr in modelgif.__all__
        arguments = [ast.literal_eval(a) for a in call.args]
        keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        inspect.signature(function).bind(*arguments, **keywords)  # TypeError on drift
