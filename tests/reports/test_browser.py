"""report.html in a real headless Chromium: offline, no console error, no request, and
figures a person can read: no two text boxes of a figure overlap, every axis has tick labels.

Screenshots (the whole page and each figure) go to pytest's tmp_path and, when
MODELGIF_SCREENSHOTS names a folder, there too, for a person to look at.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from tests.reports.conftest import write_unlearning_verdict, write_verdict

from modelgif.crypto.keys import PrivateKey
from modelgif.reports.evidence import write_report

BOXES = """
return Array.from(document.querySelectorAll('svg.fig')).map(svg => ({
  label: svg.getAttribute('aria-label'),
  box: (r => ({x: r.left, y: r.top, w: r.width, h: r.height}))(svg.getBoundingClientRect()),
  texts: Array.from(svg.querySelectorAll('text')).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, x: r.left, y: r.top, w: r.width, h: r.height};
  }),
  axes: Array.from(svg.querySelectorAll('g[id^="matplotlib.axis"]')).map(
    g => Array.from(g.querySelectorAll('text')).map(t => t.textContent).filter(s => s.trim())),
}));
"""


def _overlap(a: dict[str, Any], b: dict[str, Any], slack: float = 0.5) -> bool:
    return (a["x"] + slack < b["x"] + b["w"] and b["x"] + slack < a["x"] + a["w"]
            and a["y"] + slack < b["y"] + b["h"] and b["y"] + slack < a["y"] + a["h"])


def _inside(text: dict[str, Any], box: dict[str, Any], slack: float = 1.0) -> bool:
    return (text["x"] >= box["x"] - slack and text["y"] >= box["y"] - slack
            and text["x"] + text["w"] <= box["x"] + box["w"] + slack
            and text["y"] + text["h"] <= box["y"] + box["h"] + slack)


def _save(data: bytes, name: str, tmp_path: Path) -> Path:
    shot = tmp_path / name
    shot.write_bytes(data)
    target = os.environ.get("MODELGIF_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / name)
    return shot


def test_report_renders_in_chromium(
    owner_key: PrivateKey, tmp_path: Path, chromium_driver  # type: ignore[no-untyped-def]
) -> None:
    verdicts = [write_verdict(tmp_path, "fine-tune", 0.15, 1, owner_key),
                write_verdict(tmp_path, "mnist1d.ind-cnn-owner-0.a-long-file-name", -0.02, 2,
                              owner_key),
                write_unlearning_verdict(tmp_path, "masked", True, 3, owner_key)]
    bundle = write_report(verdicts, owner_key, tmp_path / "report")
    url = bundle.html.resolve().as_uri()
    chromium_driver.set_window_size(1100, 1400)
    chromium_driver.get_log("performance")  # drop anything logged before this page
    chromium_driver.get(url)
    banners = chromium_driver.find_elements(By.CSS_SELECTOR, ".banner")
    assert len(banners) == 6 and all(b.is_displayed() for b in banners)  # summary + findings
    assert banners[0].text.startswith("DERIVED") and "fine-tune.onnx" in banners[0].text
    assert banners[1].text.startswith("INDEPENDENT")
    assert banners[2].text.startswith("NOT FORGOTTEN")
    errors = [e for e in chromium_driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    requests = []
    for entry in chromium_driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert requests and set(requests) == {url}, requests

    figures = chromium_driver.execute_script(BOXES)
    # distances, and per ownership finding: null/calibration + anchors; one unlearning chart
    assert len(figures) == 6, [f["label"] for f in figures]
    for figure in figures:
        texts = [t for t in figure["texts"] if t["w"] > 0 and t["h"] > 0 and t["text"].strip()]
        assert len(texts) >= 5, figure["label"]
        clashes = [(a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1:]
                   if _overlap(a, b)]
        assert clashes == [], (figure["label"], clashes)
        outside = [t["text"] for t in texts if not _inside(t, figure["box"])]
        assert outside == [], (figure["label"], outside)  # nothing cut at the figure's edge
        assert figure["axes"] and all(len(ticks) >= 2 for ticks in figure["axes"]), figure
        smallest = min(t["h"] for t in texts)
        assert smallest >= 10, (figure["label"], smallest)  # CSS pixels on a 1100 px window

    page = chromium_driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True})
    shot = _save(base64.b64decode(page["data"]), "report-page.png", tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    for window in (1100, 720):  # a wide screen, and about an A4 page's printable width
        chromium_driver.set_window_size(window, 1400)
        width = chromium_driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width  # no horizontal overflow
    for index, element in enumerate(chromium_driver.find_elements(By.CSS_SELECTOR, "figure")):
        chromium_driver.execute_script("arguments[0].scrollIntoView()", element)
        _save(element.screenshot_as_png, f"report-figure-{index + 1}.png", tmp_path)
