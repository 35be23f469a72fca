"""The former single home of the verdict statistics; its names now live in one module each.

    similarity.py     cosines -> per-anchor similarity, log distance, mean cosine distance
    null_moments.py   the null's per-anchor moments, z-scores, Stouffer's sum
    tails.py          normal and Student-t tails, the Gaussian tolerance factor, FPR bound
    rates.py          Clopper-Pearson bounds and rank p-values (no model of the null)
    modelgif.validation.check_array   the array check they share

Why this module remains: code written against `modelgif.verifiers.statistics` keeps
importing; new code imports from the modules above. Benchmark metrics (AUC, TPR at a fixed
FPR, bootstrap intervals) live in `modelgif.bench.metrics`.
"""

from modelgif.validation import FloatArray, check_array
from modelgif.verifiers.null_moments import fit_null_moments, standardise, stouffer
from modelgif.verifiers.rates import (
    clopper_pearson_interval,
    clopper_pearson_upper,
    empirical_p_value,
)
from modelgif.verifiers.similarity import (
    DISTANCE_FLOOR,
    REDUCERS,
    log_distance,
    mean_cosine_distance,
    per_anchor_similarity,
)
from modelgif.verifiers.tails import (
    gaussian_fpr_upper_bound,
    gaussian_tolerance_factor,
    normal_ppf,
    normal_sf,
    student_t_sf,
)

__all__ = [
    "DISTANCE_FLOOR",
    "REDUCERS",
    "FloatArray",
    "check_array",
    "clopper_pearson_interval",
    "clopper_pearson_upper",
    "empirical_p_value",
    "fit_null_moments",
    "gaussian_fpr_upper_bound",
    "gaussian_tolerance_factor",
    "log_distance",
    "mean_cosine_distance",
    "normal_ppf",
    "normal_sf",
    "per_anchor_similarity",
    "standardise",
    "stouffer",
    "student_t_sf",
]
