"""The real pretrained digits CNN: pinned weights, its accuracy, derivatives vs independents."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from modelgif.crypto.keys import generate_key
from modelgif.fingerprint.create import (
    OWNERSHIP_ANCHORS,
    OWNERSHIP_FIELD,
    create_fingerprint,
    open_secrets,
)
from modelgif.verifiers.ownership import compare_suspect
from modelgif.zoo.pretrained import INPUT_RANGE, accuracy, cached_pretrained, digits_28, load_source


@pytest.mark.slow
def test_pretrained_source_and_its_derivatives(tmp_path: Path) -> None:
    source = load_source()  # refuses anything but the pinned weights file
    x, y = digits_28("test")
    assert accuracy(source, x, y) > 0.7  # trained elsewhere, on MNIST: it knows the task
    folder, records = cached_pretrained(quick=True)
    by_name = {r.name: r for r in records}
    key = generate_key()
    fingerprint = create_fingerprint(
        folder / by_name["source"].file, key, tmp_path / "s.mgf", input_range=INPUT_RANGE,
        anchor_config=replace(OWNERSHIP_ANCHORS, n_anchors=8),
        field_config=replace(OWNERSHIP_FIELD, n_steps=4, sketch_dim=16))
    secrets = open_secrets(fingerprint, key)

    def similarity(name: str) -> float:
        cosines = compare_suspect(fingerprint, secrets, folder / by_name[name].file).cosines
        return float(np.mean(cosines))

    derived = {n: similarity(n) for n in ("default-export", "pruned-30")}
    independent = {n: similarity(n) for n in ("random-init-s0", "random-init-s1")}
    print(derived, independent)
    assert derived["default-export"] > 0.999  # the same function, as torch's default writes it
    assert min(derived.values()) > max(independent.values()) + 0.2
