"""Verdict records made from real statistics, and a real headless Chromium for the page test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from modelgif.crypto.keys import PrivateKey, generate_key
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.record import make_record, write_record
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


def _install_chromium() -> None:
    """The test setup installs what it needs: Debian's chromium and chromedriver."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("the report test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)")
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
                   check=True, capture_output=True, timeout=600,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


@pytest.fixture(scope="session")
def chromium_driver():  # type: ignore[no-untyped-def]
    _install_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1100,1400"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()
