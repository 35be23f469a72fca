"""modelgif.reports: verdict records -> signed evidence bundle -> offline report.html (+ PDF).

    VERDICT.json ... ──evidence.build_statement──> in-toto statement (the evidence)
        report.html         html.render_html(statement): one file, no script, no network;
                            words from explain, inline SVG figures from figures
        report.pdf          (optional) pdf.print_pdf: the same page printed by Chromium
        evidence.json       canonical JSON of the statement, with the pages' sha256 signed in
        evidence.sig.json   DSSE envelope whose payload is exactly evidence.json
    evidence.verify_bundle: signature + byte equality of evidence.json + the signed sha256
                            of report.html / report.pdf + re-hash of any evidence file at hand
"""

from modelgif.reports.evidence import ReportBundle, build_statement, verify_bundle, write_report
from modelgif.reports.html import render_html

__all__ = ["ReportBundle", "build_statement", "render_html", "verify_bundle", "write_report"]
