"""8-bit images: probe points on the pixel grid, pair offsets of whole grey levels, and a
uint8 model served with a UINT8 input, verified through the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tests.fingerprint.shipped_models import PixelsCNN, default_export, seeded

from modelgif.crypto.keys import generate_key
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.probes import probe_points
from modelgif.remote import ClientLimits, InferenceClient, QueryLog, remote_oracle
from modelgif.verifiers.probe_verdict import plan_queries, verify_with_probes
from remote.v2_server import V2Server


def test_probe_pairs_are_on_the_grid_and_a_whole_number_of_grey_levels_apart() -> None:
    points = probe_points(bytes(range(32)), 64, (12, 12, 3), (0.0, 255.0), "uint8")
    assert np.array_equal(points, np.rint(points)) and points.min() >= 0 and points.max() <= 255
    change = np.abs(points[1::2] - points[0::2])
    assert change.min() >= 1.0  # never below the pixel quantum (the box is far from 0, 255)
    again = probe_points(bytes(range(32)), 16, (12, 12, 3), (0.0, 255.0), "uint8")
    assert np.array_equal(again, points[:16])  # a prefix is a prefix


def test_a_uint8_model_is_queried_with_uint8_pixels(tmp_path: Path) -> None:
    module = seeded(PixelsCNN())
    example = torch.randint(0, 256, (1, 12, 12, 3), dtype=torch.uint8)
    path = default_export(module, example, tmp_path / "pixels.onnx", dynamo=False)
    key = generate_key()
    fingerprint = create_fingerprint(path, key, tmp_path / "px.mgf",
                                     anchor_config=AnchorConfig(n_anchors=4),
                                     field_config=FieldConfig(n_steps=2, sketch_dim=8),
                                     probes=64)
    secrets = open_secrets(fingerprint, key)
    plan = plan_queries(fingerprint, 64, "logits")
    with V2Server(path.read_bytes(), mode="logits") as server, \
            QueryLog(tmp_path / "q.jsonl") as log:
        client = InferenceClient(server.url, server.name, ClientLimits(batch_size=16), log)
        oracle = remote_oracle(client, "logits", (12, 12, 3), "uint8",
                               int(fingerprint.config["probes"]["classes"]))
        verdict, comparison = verify_with_probes(fingerprint, secrets, oracle, plan)
        assert server.datatypes == {"UINT8"} and server.samples == 64
    assert verdict.decision == "inconclusive" and not verdict.calibrated  # no negatives
    assert comparison.similarities.min() > 0.999  # the owner itself, at whole grey levels
