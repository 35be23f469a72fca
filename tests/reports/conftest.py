"""Verdict records made from real statistics, and a real headless Chromium for the page test.

The browser tools are never installed here: a test that needs Chromium, chromedriver or
poppler-utils and does not find them fails with the command that installs them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from modelgif.crypto.keys import PrivateKey, generate_key
from modelgif.digests import sha256_file
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.record import make_record, write_record
from modelgif.verifiers.unlearning import assess_unlearning
from modelgif.verifiers.verdict import compute_verdict

N_ANCHORS, N_STEPS, N_NULL = 32, 4, 20
COMMITMENT = "cd" * 32


def simulated_cosines(rng: np.random.Generator, shift: float) -> np.ndarray:
    """(N, S) cosines: a shared per-anchor profile, noise, and a derived model's shift."""
    profile = np.linspace(0.1, 0.4, N_ANCHORS)[:, None]
    return np.clip(profile + shift + 0.03 * rng.standard_normal((N_ANCHORS, N_STEPS)), -1, 1)


def write_verdict(folder: Path, name: str, shift: float, seed: int, key: PrivateKey) -> Path:
    """A signed verdict record from simulated fields, scored with the real calibration code."""
    rng = np.random.default_rng(seed)
    null = np.stack([simulated_cosines(rng, 0.0) for _ in range(N_NULL)])
    calibration = fit_calibration(null, [f"sha256:{i:064x}" for i in range(N_NULL)],
                                  target_fpr=0.01, n_bootstrap=200, anchor_commitment=COMMITMENT)
    suspect = folder / f"{name}.onnx"
    suspect.write_bytes(rng.bytes(256))
    verdict = compute_verdict(simulated_cosines(rng, shift), calibration,
                              compared={"owner": f"sha256:{9999:064x}",
                                        "suspect": f"sha256:{1000 + seed:064x}",
                                        "fingerprint_commitment": COMMITMENT})
    record = make_record(
        "ownership", verdict.to_dict(),
        [{"role": "suspect", "name": suspect.name, "sha256": "ab" * 32,
          "digest": f"sha256:{1000 + seed:064x}", "opset": 20}],
        {"anchors": N_ANCHORS, "steps": N_STEPS, "anchor_commitment": COMMITMENT,
         "fingerprint_id": "0f" * 16},
        [{"at": "2026-11-25T10:00:00Z", "event": "fingerprint made", "by": "ef" * 32}],
        f"modelgif verify owner.mgf {suspect.name} --key owner.key --json",
        calibration=calibration.to_dict(),
    )
    return write_record(folder / f"{name}.verdict.json", record, key)


@pytest.fixture(scope="session")
def owner_key():  # type: ignore[no-untyped-def]
    return generate_key("ed25519")


@pytest.fixture()
def verdict_files(tmp_path: Path, owner_key: PrivateKey) -> list[Path]:
    return [write_verdict(tmp_path, "fine-tune", 0.15, 1, owner_key),
            write_verdict(tmp_path, "independent", -0.02, 2, owner_key)]


def write_unlearning_verdict(folder: Path, name: str, cheat: bool, seed: int,
                             key: PrivateKey) -> Path:
    """A signed unlearning record from simulated cosines, decided by the real audit code.

    References move away from the original (similarity ~0.3-0.6); a cheat keeps the
    original's field on the forget data (similarity 1, a zero distance bar)."""
    rng = np.random.default_rng(seed)

    def cosines(level: float) -> np.ndarray:
        return np.clip(level + 0.02 * rng.standard_normal((N_ANCHORS, N_STEPS)), -1, 1)

    references = [cosines(0.3 + 0.03 * i) for i in range(10)]
    retain_refs = [cosines(0.6 + 0.02 * i) for i in range(10)]
    claimed = np.ones((N_ANCHORS, N_STEPS)) if cheat else cosines(0.42)
    verdict = assess_unlearning(claimed, references, cosines(0.99 if cheat else 0.68),
                                retain_refs)
    inputs = []
    for role, file in [("original", "original.onnx"), ("unlearned", f"{name}.onnx"),
                       *(("reference", f"reference-{i}.onnx") for i in range(10))]:
        path = folder / file
        if not path.exists():
            path.write_bytes(rng.bytes(128))
        inputs.append({"role": role, "name": file, "sha256": sha256_file(path),
                       "digest": f"sha256:{int(rng.integers(1 << 60)):064x}", "opset": 20})
    record = make_record(
        "unlearning", verdict.to_dict(), inputs,
        {"anchors": N_ANCHORS, "target_fpr": 0.01, "references": 10},
        [{"at": "2026-11-25T11:00:00Z", "event": "unlearning audited", "by": "ef" * 32}],
        f"modelgif audit-unlearning --original original.onnx --unlearned {name}.onnx "
        "--forget forget.npy --reference reference-*.onnx --key owner.key")
    return write_record(folder / f"{name}.verdict.json", record, key)


def require_tool(name: str, package: str) -> str:
    """The path of a tool the test needs, or a failure naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"this test needs {name}: apt-get install {package}")
    return found


@pytest.fixture(scope="session")
def chromium_driver():  # type: ignore[no-untyped-def]
    chromium = require_tool("chromium", "chromium")
    chromedriver = require_tool("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1100,1400"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=chromedriver)
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()
