"""report.html in a real headless Chromium: loads offline, no console error, no request."""

from __future__ import annotations

import json
from pathlib import Path

from selenium.webdriver.common.by import By

from modelgif.reports.evidence import write_report

ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "test-artifacts"


def test_report_renders_in_chromium(
    verdict_files: list[Path], owner_key, tmp_path: Path, chromium_driver  # type: ignore[no-untyped-def]
) -> None:
    bundle = write_report(verdict_files, owner_key, tmp_path / "report")
    url = bundle.html.resolve().as_uri()
    chromium_driver.get_log("performance")  # drop anything logged before this page
    chromium_driver.get(url)
    banners = chromium_driver.find_elements(By.CSS_SELECTOR, ".banner")
    assert len(banners) == 4 and all(b.is_displayed() for b in banners)  # summary + findings
    assert banners[0].text.startswith("DERIVED") and "fine-tune.onnx" in banners[0].text
    assert banners[1].text.startswith("INDEPENDENT")
    assert len(chromium_driver.find_elements(By.TAG_NAME, "svg")) >= 4
    errors = [e for e in chromium_driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    requests = []
    for entry in chromium_driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert requests and set(requests) == {url}, requests
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    assert chromium_driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
