"""modelgif.scan: many suspects against many fingerprints, resumable, crash- and hang-proof.

    jobs.py        a fingerprint opened once (secrets, calibrations): what workers get
    suspects.py    DIR | LIST | manifest.jsonl -> suspect entries (paths confined)
    work.py        one suspect vs its pending fingerprints -> pair lines (the unit of work)
    pool.py        local worker processes: memory limit, timeout, crash -> error line
    ray_runner.py  the same work as Ray tasks (local Ray or a cluster)
    results.py     the JSONL scan file: header, append + fsync per pair, resume, summary
    driver.py      scan(): ties them together
    records.py     a scan file -> verdict records for `modelgif report`
"""

from modelgif.scan.driver import ScanOutcome, ScanSettings, scan, scan_header
from modelgif.scan.jobs import ScanJob, open_job
from modelgif.scan.records import expand_scan_files, scan_records
from modelgif.scan.results import read_scan, summarize
from modelgif.scan.suspects import SuspectEntry, list_suspects

__all__ = [
    "ScanJob",
    "ScanOutcome",
    "ScanSettings",
    "SuspectEntry",
    "expand_scan_files",
    "list_suspects",
    "open_job",
    "read_scan",
    "scan",
    "scan_header",
    "scan_records",
    "summarize",
]
