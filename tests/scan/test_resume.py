"""A scan killed with SIGKILL mid-way, rerun: nothing lost, nothing decided twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scan_case import HANG, Case

from modelgif.cli import main
from modelgif.scan import read_scan

pytestmark = pytest.mark.slow  # trains or scans whole zoos: scheduled first

ORDER = ["a-copy.onnx", "b-quantized.onnx", HANG, "c-independent.onnx"]


def _pair_lines(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1) if path.exists() else 0


def test_sigkill_then_rerun_loses_and_repeats_nothing(
        case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = case.suspects / "resume.list"
    listing.write_text("# killed while the hanging suspect runs\n" + "\n".join(ORDER) + "\n")
    output = tmp_path / "scan.jsonl"
    argv = [*case.base_args(), "--suspects", str(listing), "-o", str(output)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "modelgif", *argv, "--timeout-s", "600"],
                               env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _pair_lines(output) < 4 and time.monotonic() < deadline:  # 2 suspects x 2
            assert process.poll() is None, "the scan ended before it reached the hang"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed = _pair_lines(output)  # killed as soon as the first two suspects are decided
    assert killed >= 4
    with open(output, "ab") as handle:
        handle.write(b'{"kind": "pair", "fingerp')  # a write torn by the kill
    first = output.read_bytes()[: -len(b'{"kind": "pair", "fingerp')]

    code = main([*argv, "--timeout-s", "15", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and (summary["decided"], summary["skipped"]) == (8 - killed, killed)
    assert output.read_bytes().startswith(first)  # the killed run's lines, kept as they were
    _, pairs = read_scan(output)
    keys = [(p["fingerprint"], p["suspect"]["name"]) for p in pairs]
    assert len(keys) == len(set(keys)) == 2 * len(ORDER)
    errors = {p["suspect"]["name"]: p["error"] for p in pairs if p["decision"] == "error"}
    assert set(errors) == {HANG}, errors
