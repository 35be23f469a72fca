"""modelgif.verifiers: fingerprint + suspect -> Verdict.

    ownership.py    recompute the suspect's field with the fingerprint's settings, compare
                    sketches (per anchor, per step), calibrate against independent negatives
    unlearning.py   claimed model vs original on secret forget-set anchors (paired classes),
                    calibrated against models retrained without the forget set
    distance.py     pairwise ModelGiF distance matrix at one secret anchor set
    similarity.py   pure: cosines -> per-anchor similarity, log and mean cosine distance
    null_moments.py pure: the null's per-anchor moments, z-scores, Stouffer's sum
    tails.py        pure: normal and t tails, Gaussian tolerance factor and FPR bound
    rates.py        pure: Clopper-Pearson bounds, rank p-values
    calibration.py  the fitted null and the threshold for a target FPR
    calibration_file.py  CAL.json: signed by the owner, bound to one fingerprint
    verdict.py      the Verdict and the three-way decision rule
    record.py       the signed verdict record (verdict + what was compared), input of reports
    signed_file.py  DSSE-signed JSON files (calibrations, verdict records)

A negative result is a Verdict, never an exception. docs/STATISTICS.md states the test.
"""

from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.distance import DistanceMatrix, distance_matrix
from modelgif.verifiers.ownership import (
    calibrate,
    compare_suspect,
    load_calibration,
    save_calibration,
    verify_suspect,
)
from modelgif.verifiers.unlearning import UnlearningVerdict, audit_unlearning
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = [
    "Calibration",
    "DistanceMatrix",
    "UnlearningVerdict",
    "Verdict",
    "audit_unlearning",
    "calibrate",
    "compare_suspect",
    "compute_verdict",
    "distance_matrix",
    "fit_calibration",
    "load_calibration",
    "save_calibration",
    "verify_suspect",
]
