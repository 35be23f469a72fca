"""The demo folder is self-contained: a command the report prints runs as printed there."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from modelgif.crypto.keys import load_public_key
from modelgif.demo import run_demo
from modelgif.reports.evidence import verify_bundle
from modelgif.zoo import cached_small_zoo


@pytest.mark.slow
def test_a_printed_reproduce_command_runs_from_the_demo_folder(tmp_path: Path) -> None:
    """The ownership half of the demo (the audits only add cached models), then the
    report's first reproduce command, run verbatim from the demo folder in a fresh process,
    must give the decision the report states."""
    folder = tmp_path / "demo"
    result = run_demo(folder, zoo=cached_small_zoo(), pdf=False, unlearning=False)
    statement = json.loads(result.report.evidence.read_text())
    predicate = statement["predicate"]
    command = predicate["reproduce"][0]
    assert command.startswith("modelgif verify owner.mgf ")
    suspect = shlex.split(command)[3]
    assert (folder / suspect).is_file() and "/" not in suspect
    finding = next(f for f in predicate["findings"] if f["suspect"] == suspect)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "modelgif", *shlex.split(command)[1:]]  # as printed
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr
    decision = str(finding["verdict"]["decision"]).upper()
    assert done.stdout.startswith(f"{suspect}: {decision}\n"), done.stdout
    last = shlex.split(predicate["reproduce"][-1])
    assert last == ["modelgif", "report", "verify", "report", "--pub", "owner.pub"]
    verify_bundle(folder / last[3], load_public_key(folder / last[5]))
