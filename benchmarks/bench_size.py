"""Fingerprint size against the reference's stored full field, same model and anchors.

The reference (zju-vipa/modelgif) stores the whole field: N anchors x 50 steps x D input
dimensions in float32. modelgif stores two sketches (N x S x k, float16, unit vectors), the
target classes, the sealed anchors (float16) and a signed header. Sizes are measured from
real .mgf files of a CIFAR-shaped CNN (3x32x32 inputs); the reference's size is computed for
the same anchors (the array it would save with numpy, header excluded).

    python benchmarks/bench_size.py            # prints a markdown table
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from modelgif.crypto.keys import generate_key
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize

REFERENCE_STEPS = 50


def cifar_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, 10)).eval()


def main() -> None:
    model = normalize(cifar_cnn(), torch.rand(2, 3, 32, 32), input_range=(0.0, 1.0))
    dim = 3 * 32 * 32
    key = generate_key()
    rows = ["| anchors | steps | k | modelgif .mgf (bytes) | reference field (bytes) | ratio |",
            "|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        for anchors, steps in [(64, 16), (256, 16), (256, 50)]:
            path = Path(folder) / f"f{anchors}-{steps}.mgf"
            create_fingerprint(model, key, path, anchor_config=AnchorConfig(n_anchors=anchors),
                               field_config=FieldConfig(n_steps=steps))
            ours = path.stat().st_size
            reference = anchors * REFERENCE_STEPS * dim * 4
            rows.append(f"| {anchors} | {steps} | 64 | {ours:,} | {reference:,} | "
                        f"{reference / ours:.0f}x |")
            print(rows[-1], file=sys.stderr)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
