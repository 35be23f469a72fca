"""modelgif.reports: verdict records -> signed evidence bundle -> offline report.html.

    VERDICT.json ... ──evidence.build_statement──> in-toto statement (the evidence)
        evidence.json       canonical JSON of the statement: the source of truth
        evidence.sig.json   DSSE envelope whose payload is exactly evidence.json
        report.html         html.render_html(statement): one file, no script, no network
    evidence.verify_bundle: signature + byte equality of evidence.json and report.html +
                            re-hash of any evidence file at hand
"""

from modelgif.reports.evidence import ReportBundle, build_statement, verify_bundle, write_report
from modelgif.reports.html import render_html

__all__ = ["ReportBundle", "build_statement", "render_html", "verify_bundle", "write_report"]
