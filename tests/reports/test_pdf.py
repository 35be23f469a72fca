"""report --pdf: Chromium prints the page; poppler reads it back as a person would see it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.reports.conftest import require_tool, write_unlearning_verdict

from modelgif.crypto.keys import PrivateKey
from modelgif.errors import InputError, IntegrityError
from modelgif.reports.evidence import verify_bundle, write_report


def test_pdf_is_the_page_with_the_verdict_on_page_one(
    verdict_files: list[Path], owner_key: PrivateKey, tmp_path: Path
) -> None:
    require_tool("chromium", "chromium")
    pdftoppm = require_tool("pdftoppm", "poppler-utils")
    pdftotext = require_tool("pdftotext", "poppler-utils")
    masked = write_unlearning_verdict(tmp_path, "masked", True, 3, owner_key)
    bundle = write_report([*verdict_files, masked], owner_key, tmp_path / "case", pdf=True)
    assert bundle.pdf is not None and bundle.pdf.read_bytes().startswith(b"%PDF-")
    summary = verify_bundle(bundle.folder, owner_key.public_key())
    assert summary["report_pdf"] == "matches the signed sha256"

    first = subprocess.run([pdftotext, "-f", "1", "-l", "1", "-layout", str(bundle.pdf), "-"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    assert "DERIVED" in first and "fine-tune.onnx" in first
    assert "NOT FORGOTTEN" in first and "INDEPENDENT" in first
    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run([pdftoppm, "-r", "60", "-png", str(bundle.pdf), str(pages / "page")],
                   check=True, timeout=120, capture_output=True)
    rendered = sorted(pages.glob("page-*.png"))
    assert len(rendered) >= 3  # verdicts, findings with figures, appendix
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in rendered)
    target = os.environ.get("MODELGIF_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for page in rendered:
            shutil.copyfile(page, Path(target) / f"report-pdf-{page.name}")

    printed = bundle.pdf.read_bytes()
    bundle.pdf.write_bytes(printed[:-200] + bytes(200))
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, owner_key.public_key())
    bundle.pdf.unlink()
    with pytest.raises(InputError, match=r"report\.pdf"):
        verify_bundle(bundle.folder, owner_key.public_key())
