"""report.html -> report.pdf with Debian's headless Chromium (print to PDF).

Why Chromium and not a PDF library: the PDF must be the same page a reader sees in a
browser (same fonts, same inline SVG figures), and Chromium's print path is the renderer
that page is tested in. It runs with a throwaway profile, no network services, no sandbox
(root in containers) and a time limit; the page itself has no script and a
Content-Security-Policy that forbids every request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from modelgif.errors import InputError

__all__ = ["CHROMIUM_HINT", "find_chromium", "print_pdf"]

CHROMIUM_HINT = "apt-get install chromium"
TIMEOUT_S = 120
NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The Chromium executable on PATH ($MODELGIF_CHROMIUM first), or None."""
    configured = os.environ.get("MODELGIF_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def print_pdf(html: Path, out: Path, timeout_s: float = TIMEOUT_S) -> bytes:
    """Print the page `html` to the PDF file `out` and return its bytes."""
    chromium = find_chromium()
    if chromium is None:
        raise InputError(f"--pdf needs Chromium, which is not installed (Debian: "
                         f"{CHROMIUM_HINT}).")
    with tempfile.TemporaryDirectory(prefix="modelgif-chromium-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", f"--user-data-dir={profile}",
                   f"--print-to-pdf={out}", "--no-pdf-header-footer",
                   Path(html).resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise InputError(f"Chromium did not print the report within {timeout_s:.0f} s."
                             ) from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise InputError(f"Chromium could not print the report to PDF (exit "
                         f"{done.returncode}{': ' + tail[0] if tail else ''}).")
    data = out.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise InputError("Chromium wrote something that is not a PDF.")
    return data
