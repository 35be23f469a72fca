"""The words of the report: each finding in plain language, the glossary, the caveats.

Why a module of its own: a judge or a lawyer reads the paragraphs, not the fields. Each
paragraph says what was compared with what, what the number means, how sure the verdict is
and what it does not show, with every number taken from the signed evidence. The raw fields
stay available in the report's appendix.

The number of negatives that would tighten the distribution-free bound is computed with the
same Clopper-Pearson function the calibration used to state that bound.
"""

from __future__ import annotations

import math
from typing import Any

from modelgif.verifiers.rates import clopper_pearson_upper

__all__ = [
    "GLOSSARY", "UNLEARNING_LIMITATIONS", "VERDICT_MEANING", "calibration_caveat",
    "finding_paragraphs", "negatives_needed",
]  # fmt: skip

VERDICT_MEANING = {
    "derived": "The suspect's gradient field at the owner's secret anchors agrees with the "
    "owner's model more than independent models' fields do, beyond the threshold set for the "
    "stated false-positive rate.",
    "independent": "The suspect agrees with the owner's model no more than a typical "
    "independent model does. This does not prove independence.",
    "inconclusive": "The evidence is between the two: more alike than a typical independent "
    "model, but not enough to accuse at the stated false-positive rate. Neither derivation "
    "nor independence is shown.",
    "not forgotten": "On the data it claims to have forgotten, the model's field is closer to "
    "the original model's than the fields of models honestly retrained without that data.",
    "forgotten": "On the forgotten data the model's field is as far from the original's as "
    "honestly retrained models' fields are: indistinguishable from retraining, at the "
    "anchors examined.",
}

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("anchor", "An input point chosen secretly with the owner's key. The models are "
     "compared only at these points, so a copier cannot aim at them."),
    ("gradient field", "How a model's output changes when its input is nudged, at each "
     "anchor. Models derived from one another share it; independently trained ones do not."),
    ("fingerprint", "The owner's signed record of their model's field at the anchors; the "
     "anchors themselves stay encrypted in it."),
    ("statistic T", "One number summarising how closely the suspect's field agrees with the "
     "owner's over all anchors (mean log-agreement). Higher means more alike."),
    ("independent negatives", "Models trained separately, never derived from the owner's "
     "model. Their T values show what chance agreement looks like (the 'null')."),
    ("threshold", "The T above which the suspect is called derived. It is set from the "
     "negatives so that wrongly accusing an independent model is rare (see the "
     "false-positive rate)."),
    ("false-positive rate (FPR)", "How often the test would call an independent model "
     "'derived'. The target is chosen before the test; the bounds say how sure we are that "
     "the real rate is below it."),
    ("p-value", "The chance that an independent model like the negatives scores at least "
     "the suspect's T, from a Gaussian (bell-curve) model of the negatives' T. Small means "
     "rare by chance."),
    ("empirical p-value", "The same chance counted directly among the negatives, "
     "(1 + number of negatives scoring at least T) / (negatives + 1). It assumes nothing "
     "about their shape but can never be smaller than 1 / (negatives + 1)."),
    ("Gaussian bound", "An upper bound on the false-positive rate, at the stated confidence, "
     "if the negatives' T follow a bell curve."),
    ("distribution-free bound", "An upper bound on the false-positive rate that assumes "
     "nothing about the shape of the negatives' T (Clopper-Pearson): it only counts how many "
     "negatives exceeded the threshold, so it needs many negatives to be tight."),
    ("field distance", "1 minus the mean cosine similarity of two fields: 0 for the same "
     "field, about 1 for unrelated ones."),
    ("reference models", "For an unlearning audit: models retrained from scratch without "
     "the data to be forgotten. They show what honest forgetting looks like."),
    ("sha256", "A digest that identifies a file's exact bytes; any change gives another "
     "digest."),
    ("normalized digest", "A digest of the model's computation after normalization, the "
     "same for the same network whatever way its file was written."),
)

UNLEARNING_LIMITATIONS = (
    "'forgotten' means: at the secret anchors, on the forget data, the claimed model's field "
    "is as far from the original's as the fields of the reference models retrained without "
    "that data. It is shown only at those anchors, and only relative to references like "
    "the ones given (architecture, data, training recipe).",
    "'not forgotten' means: on the forget data the claimed model's field is closer to the "
    "original's than honest retrains' are, at the stated rate. It does not say what the "
    "model remembers, how it was made, or why.",
    "An approximate unlearning method (fine-tuning, gradient ascent) is tested for "
    "equivalence to retraining; it may be refused although it reduced what the model "
    "retains.",
)


def _pct(value: float) -> str:
    text = f"{100.0 * value:.3g}"
    return f"{text} %"


def _num(value: float) -> str:
    return f"{value:.3g}"


def negatives_needed(target_fpr: float, confidence: float) -> int:
    """Fewest negatives, none above the threshold, for which the distribution-free
    (Clopper-Pearson) bound reaches `target_fpr` at `confidence`."""
    guess = max(3, math.ceil(math.log(1.0 - confidence) / math.log(1.0 - target_fpr)) - 2)
    while clopper_pearson_upper(0, guess, confidence) > target_fpr:
        guess += 1
    return guess


def calibration_caveat(calibration: dict[str, Any]) -> str:
    """The Gaussian and the distribution-free bound, explained once per calibration."""
    m = len(calibration.get("null_statistics", []))
    confidence = float(calibration["confidence"])
    target = float(calibration["target_fpr"])
    gaussian = float(calibration["fpr_bound"])
    free = float(calibration["fpr_bound_empirical"])
    exceeding = int(calibration.get("n_null_exceeding", 0))
    needed = negatives_needed(target, confidence)
    return (
        f"The threshold was set from {m} independent negatives so that an independent model "
        f"is wrongly called derived at most {_pct(target)} of the time. How sure is that? "
        f"If the negatives' T follow a bell curve (Gaussian), the false-positive rate is at "
        f"most {_pct(gaussian)} with {confidence:.0%} confidence: this 'Gaussian bound' uses "
        f"the negatives' mean and spread, so a few negatives suffice, but the far tail of "
        f"the curve is extrapolated. Without assuming any shape, the data can only count: "
        f"{exceeding} of {m} negatives scored above the threshold, and from {m} models that "
        f"supports a rate of at most {_pct(free)} at {confidence:.0%} confidence (the "
        f"'distribution-free', Clopper-Pearson bound). That larger number is not a measured "
        f"error rate; it is what {m} models can prove on their own. To bring the "
        f"distribution-free bound down to the {_pct(target)} target, at least {needed} "
        f"negatives, none above the threshold, would be needed."
    )


def _ownership(finding: dict[str, Any]) -> list[str]:
    verdict = finding["verdict"]
    suspect = str(finding.get("suspect", "the suspect"))
    decision = str(verdict["decision"])
    method = finding.get("method", {})
    n_anchors = verdict.get("n_anchors") or method.get("anchors")
    compared = (f"The suspect model {suspect} was compared with the owner's fingerprint at "
                f"{n_anchors} secret anchors: at each, the suspect's gradient field was "
                f"compared with the owner's model's.")
    if not verdict.get("calibrated"):
        return [compared + f" Their mean similarity is {_num(verdict['mean_similarity'])}.",
                "No independent models were given to calibrate against, so no "
                "false-positive rate can be stated and the verdict is 'inconclusive' by "
                "rule; the similarity is shown for information only."]
    calibration = finding.get("calibration") or {}
    null = [float(v) for v in calibration.get("null_statistics", [])]
    m = len(null)
    t, threshold = float(verdict["statistic"]), float(verdict["threshold"])
    p, target = float(verdict["p_value"]), float(verdict["target_fpr"])
    spread = (f"; the {m} independent negatives scored between {_num(min(null))} and "
              f"{_num(max(null))}" if null else "")
    number = (f"Their agreement is summarised by the statistic T = {_num(t)} (higher means "
              f"more alike){spread}. The threshold for calling a model derived is "
              f"{_num(threshold)}. The p-value, {_num(p)}, is the chance that an independent "
              f"model like the negatives scores at least {_num(t)}.")
    if decision == "derived":
        sure = (f"T is above the threshold and p is below the {_pct(target)} target, so the "
                f"verdict is 'derived'. The rule wrongly accuses an independent model at "
                f"most {_pct(float(verdict['fpr_bound']))} of the time (Gaussian bound; see "
                f"'How sure are these verdicts').")
        limits = ("how the suspect was made from the owner's model (fine-tuning, "
                  "extraction, compression), nor who made it or why.")
    elif decision == "independent":
        sure = (f"T is at or below the middle of the independent negatives (p = {_num(p)} "
                f"> 0.5), so the verdict is 'independent': the suspect agrees with the owner's "
                f"model no more than a typical independent model.")
        limits = ("independence: a heavily distilled copy, or a thief who learned the "
                  "anchors and trained against them, can score like an independent model.")
    else:
        why = (f"T = {_num(t)} is not above the threshold {_num(threshold)}"
               if t <= threshold else f"p = {_num(p)} is not below the {_pct(target)} target")
        sure = (f"T is above the middle of the negatives (p = {_num(p)} < 0.5) but {why}, so "
                f"the verdict is 'inconclusive'. The threshold must hold with "
                f"{float(verdict.get('confidence', 0.95)):.0%} confidence from only {m} "
                f"negatives, so it lies beyond where {_pct(target)} of independent models "
                f"would score; an unusually similar independent model and a weakly derived "
                f"one both land in this gap. About {_pct(p)} of independent models score "
                f"this high, so an independent model held out from calibration can come out "
                f"inconclusive.")
        limits = "that the suspect was derived, nor that it is independent."
    return [compared, number, sure, "What it does not show: " + limits]


def _unlearning(finding: dict[str, Any]) -> list[str]:
    verdict = finding["verdict"]
    decision = str(verdict["decision"])
    suspect = str(finding.get("suspect", "the claimed model"))
    refs = [float(s) for s in verdict.get("reference_forget_similarity") or []]
    forget = 1.0 - float(verdict["forget_similarity"])
    n = verdict.get("n_anchors")
    parts = [f"The claim: {suspect} no longer carries what it learned from the forget data. "
             f"Its gradient field was compared with the original model's at {n} secret "
             f"anchors drawn from the forget data"
             + (" and at anchors from retained data" if verdict.get("retain_similarity")
                is not None else "")
             + (f", and so were the fields of {len(refs)} reference models retrained from "
                f"scratch without the forget data (what honest forgetting looks like)."
                if refs else ".")]
    text = (f"On the forget data its field distance to the original is {forget:.3f} "
            f"(0 = the original's field)")
    if refs:
        distances = [1.0 - s for s in refs]
        text += (f"; the retrained references lie between {min(distances):.3f} and "
                 f"{max(distances):.3f}. The p-value {_num(float(verdict['p_value']))} is the "
                 f"chance that an honestly retrained model is this close to the original "
                 f"(test at {_pct(float(verdict['target_fpr']))})")
    parts.append(text + ".")
    retain = verdict.get("retain_similarity")
    if decision == "not forgotten":
        parts.append("The verdict is 'not forgotten': on the forget data the claimed model "
                     "is closer to the original than honest retrains are. It does not say "
                     "how the model was made, what it remembers, or why.")
    elif decision == "forgotten":
        parts.append("The verdict is 'forgotten': on the forget data the claimed model is as "
                     "far from the original as honest retrains are. It shows this at the "
                     "secret anchors only, relative to these references.")
    else:
        extra = (f" On retained data its field is still the original's (distance "
                 f"{1.0 - float(retain):.3f}), so it was not retrained and equivalence to "
                 f"retraining is not shown." if isinstance(retain, float) else "")
        parts.append("The verdict is 'inconclusive'." + extra)
    return parts


def finding_paragraphs(finding: dict[str, Any]) -> list[str]:
    """Plain-language paragraphs for one finding."""
    if finding["kind"] == "unlearning":
        return _unlearning(finding)
    return _ownership(finding)
