"""`modelgif.audit_unlearning`: did the claimed model really forget? One call, one record.

Why a workflow: the audit (modelgif.verifiers.unlearning) works on normalized models and
arrays; an auditor has files. This call reads them (every model through normalization, the
data through the bounded .npy reader), runs the audit under the auditor's key, and builds
the record naming every file by its sha256, so the verdict can be signed and reported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.crypto.keys import Passphrase, keyid
from modelgif.fingerprint.anchors import load_pool
from modelgif.fingerprint.normalize import normalize
from modelgif.verifiers.record import write_record
from modelgif.verifiers.unlearning import DEFAULT_TARGET_FPR, UnlearningVerdict, unlearning_record
from modelgif.verifiers.unlearning import audit_unlearning as audit_models
from modelgif.workflows.command import key_name, reproduce_command
from modelgif.workflows.keys import KeySource, owner_key

__all__ = ["AuditResult", "audit_unlearning"]

PathLike = str | os.PathLike[str]
TARGET = "paired classes (the claimed model's top-1)"


@dataclass(frozen=True)
class AuditResult:
    """One audit: the UnlearningVerdict and the record that is (or would be) signed."""

    verdict: UnlearningVerdict
    record: dict[str, Any]
    output: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict record (what `modelgif audit-unlearning --json` prints)."""
        return self.record


def audit_unlearning(
    *,
    original: PathLike,
    unlearned: PathLike,
    forget: PathLike,
    key: KeySource,
    passphrase: Passphrase = None,
    retain: PathLike | None = None,
    references: Sequence[PathLike] = (),
    anchors_count: int = 64,
    target_fpr: float = DEFAULT_TARGET_FPR,
    command: str | None = None,
    output: PathLike | None = None,
    force: bool = False,
) -> AuditResult:
    """Audit the claim that `unlearned` (made from `original`) forgot the inputs in `forget`.

    `forget` and `retain` are .npy/.npz input arrays; `references` are models retrained
    WITHOUT the forget set (5 or more; none gives the conservative audit, where only an
    unchanged field is conclusive). `key` (the auditor's) derives the secret anchors and
    signs. `target_fpr` is the rate of wrongly saying "not forgotten" to an honest
    unlearner, per test. With `output`, the record is signed and written there (checked
    before any work; replaced only with `force`).
    """
    if output is not None:
        check_output(output, force)
    private = owner_key(key, passphrase)
    paths = [Path(original), Path(unlearned)]
    reference_paths = [Path(p) for p in references]
    if command is None:
        command = reproduce_command("audit-unlearning", [], {
            "--original": original, "--unlearned": unlearned, "--forget": forget,
            "--retain": retain, "--reference": reference_paths or None,
            "--key": key_name(key), "--passphrase": passphrase is not None,
            "--anchors-count": anchors_count, "--target-fpr": target_fpr, "-o": output})
    original_model, claimed = normalize(paths[0]), normalize(paths[1])
    reference_models = [normalize(path) for path in reference_paths]
    forget_pool = load_pool(Path(forget))
    retain_pool = load_pool(Path(retain)) if retain is not None else None
    verdict = audit_models(original_model, claimed, forget_pool, private, retain=retain_pool,
                           references=reference_models, n_anchors=anchors_count,
                           target_fpr=target_fpr)
    models = [("original", paths[0], original_model), ("unlearned", paths[1], claimed),
              *(("reference", p, m) for p, m in zip(reference_paths, reference_models,
                                                    strict=True))]
    data = [(role, Path(path)) for role, path in (("forget set", forget),
                                                  ("retain set", retain)) if path is not None]
    settings = {"anchors": anchors_count, "target_fpr": target_fpr, "target": TARGET,
                "references": len(reference_models)}
    record = unlearning_record(verdict, models, data, settings, keyid(private), command)
    written = write_record(Path(output), record, private, force) if output is not None else None
    return AuditResult(verdict, record, written)
