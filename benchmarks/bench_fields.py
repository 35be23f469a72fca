"""Benchmark: time per ModelGiF fingerprint, exact and black-box, vs the reference style.

Why: the target was an exact backend >= 3x faster than the authors' approach at
identical settings, with fields equal to cosine 0.999. The reference here is what the
authors do: captum's Gauss-Legendre integrated gradients on the eager torch model (BN
unfused, parameters requiring grad, as captum users run it), 2 anchors x n_steps per
batch, own-argmax target, cumulative sums per step. Everything runs in one process, in
one run, so ratios are measured under the same machine load.

Two timings of the exact backend: "fingerprint" (what `modelgif fingerprint` computes and
stores: the k-dimensional sketch per (anchor, step)) and "full" (also keeps the full field,
the reference's output). Both are reported; neither is hidden. The fingerprint timing is
also taken with the backend's channels_last layout off ("nchw"), to show what it buys.

Usage:
    python benchmarks/bench_fields.py                       # both models, 128 anchors x 16 steps
    python benchmarks/bench_fields.py --models cnn --anchors 32
    python benchmarks/bench_fields.py --device cuda --batch 1024   # on a GPU machine
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.backends import BlackBoxBackend, ExactBackend
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.fingerprint.quadrature import quadrature

SECRET = bytes(range(32))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(h)) + self.short(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (3x3 stem, no max-pool), random weights."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64))
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(F.relu(self.stem(x)))
        out: torch.Tensor = self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))
        return out


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.b2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 8 * 8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        h = F.max_pool2d(F.relu(self.b2(self.c2(h))), 2)
        out: torch.Tensor = self.fc(h.flatten(1))
        return out


def _init_bn(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def forward_flops(model: nn.Module, shape: tuple[int, ...]) -> float:
    """FLOPs (2 x MACs) of one forward pass, counted on Conv2d and Linear layers."""
    total = [0.0]

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels
            total[0] += 2.0 * output.numel() * k / module.groups
        elif isinstance(module, nn.Linear):
            total[0] += 2.0 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return total[0]


def reference_field(
    model: nn.Module, x: np.ndarray, n_steps: int, per_batch: int, device: torch.device
) -> np.ndarray:
    """Authors' style: captum GL nodes/weights + captum gradients, cumulative per step."""
    from captum._utils.gradient import compute_gradients  # type: ignore[import-untyped]
    from captum.attr._utils.approximation_methods import (  # type: ignore[import-untyped]
        approximation_parameters,
    )

    step_sizes_fn, alphas_fn = approximation_parameters("gausslegendre")
    weights, alphas = step_sizes_fn(n_steps), alphas_fn(n_steps)
    out = np.zeros((len(x), n_steps, int(np.prod(x.shape[1:]))), dtype=np.float32)
    for i in range(0, len(x), per_batch):
        inp = torch.from_numpy(x[i : i + per_batch]).to(device)
        with torch.no_grad():
            target = model(inp).argmax(1)
        baseline = torch.zeros_like(inp)
        scaled = torch.cat([baseline + a * (inp - baseline) for a in alphas]).requires_grad_()
        targets = target.repeat(n_steps)
        (grads,) = compute_gradients(model, (scaled,), target_ind=targets)
        w = torch.tensor(weights, device=device).reshape(-1, 1, 1)
        g = grads.reshape(n_steps, len(inp), -1) * w
        cumulative = torch.cumsum(g, dim=0) * (inp - baseline).reshape(1, len(inp), -1)
        out[i : i + per_batch] = cumulative.permute(1, 0, 2).detach().cpu().numpy()
    return out


def _peak_reset() -> None:
    with contextlib.suppress(OSError):  # resets VmHWM (peak RSS) on Linux
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float, float]:
    _peak_reset()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - start, _peak_mib()


def bench_model(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = _init_bn(ResNet18() if name == "resnet18" else SmallCNN())
    shape = (3, 32, 32)
    path = export_torch(model, torch.zeros(2, *shape), workdir / f"{name}.onnx")
    proto = onnx.load(str(path))
    anchors = derive_anchors(
        SECRET, AnchorConfig(n_anchors=args.anchors), input_shape=shape, value_range=(-2.0, 2.5)
    ).inputs
    points = args.anchors * args.steps
    flops = forward_flops(model, shape) * 2  # forward + input-gradient backward ~ 2x forward
    config = FieldConfig(n_steps=args.steps, sketch_dim=args.k)
    row: dict[str, Any] = {"model": name, "anchors": args.anchors, "steps": args.steps}

    exact_backend = ExactBackend(proto, batch_size=args.batch, device=device)
    exact_backend.check(anchors)
    ref_model = model.to(device)
    # warm-up both (oneDNN primitive caches, allocator), so neither pays first-call costs
    reference_field(ref_model, anchors[:2], args.steps, 2, device)
    compute_field(proto, anchors[:4], SECRET, config, backend=exact_backend, keep_full=True)
    ref, t_ref, mem_ref = timed(
        lambda: reference_field(ref_model, anchors, args.steps, 2, device), device
    )
    sketch_only, t_sketch, mem_sketch = timed(
        lambda: compute_field(proto, anchors, SECRET, config, backend=exact_backend), device
    )
    res, t_exact, mem_exact = timed(
        lambda: compute_field(
            proto, anchors, SECRET, config, backend=exact_backend, keep_full=True
        ),
        device,
    )
    assert np.array_equal(sketch_only.sketch, res.sketch)
    nchw_backend = ExactBackend(proto, batch_size=args.batch, device=device, channels_last=False)
    compute_field(proto, anchors[:4], SECRET, config, backend=nchw_backend)
    nchw, t_nchw, _ = timed(
        lambda: compute_field(proto, anchors, SECRET, config, backend=nchw_backend), device
    )
    nchw_cos = field_cosines(nchw.sketch, sketch_only.sketch)
    assert res.full is not None
    cos = field_cosines(res.full, ref)
    bb_n = min(args.anchors, args.bb_anchors)
    bb_backend = BlackBoxBackend.from_onnx(proto)
    bb_cfg = FieldConfig(n_steps=args.steps, sketch_dim=args.k, backend="blackbox")
    bb, t_bb, mem_bb = timed(
        lambda: compute_field(proto, anchors[:bb_n], SECRET, bb_cfg, backend=bb_backend), device
    )
    t_bb_full = t_bb * args.anchors / bb_n
    bb_cos = field_cosines(res.sketch[:bb_n], bb.sketch)
    row.update(
        device=str(device),
        reference_s=round(t_ref, 2),
        exact_fingerprint_s=round(t_sketch, 2),
        exact_fingerprint_nchw_s=round(t_nchw, 2),
        cos_channels_last_vs_nchw_min=float(nchw_cos.min()),
        exact_s=round(t_exact, 2),
        blackbox_s=round(t_bb_full, 2),
        blackbox_measured_anchors=bb_n,
        speedup_exact_vs_reference=round(t_ref / t_exact, 2),
        speedup_exact_fingerprint_vs_reference=round(t_ref / t_sketch, 2),
        speedup_blackbox_vs_reference=round(t_ref / t_bb_full, 3),
        gflops_reference=round(flops * points / t_ref / 1e9, 2),
        gflops_exact=round(flops * points / t_exact / 1e9, 2),
        gflops_exact_fingerprint=round(flops * points / t_sketch / 1e9, 2),
        peak_rss_mib={
            "reference": round(mem_ref),
            "exact_fingerprint": round(mem_sketch),
            "exact": round(mem_exact),
            "blackbox": round(mem_bb),
        },
        cos_exact_vs_reference={"median": float(np.median(cos)), "min": float(cos.min())},
        cos_exact_vs_blackbox_sketch={
            "median": float(np.median(bb_cos)),
            "min": float(bb_cos.min()),
        },
        completeness_median_relative=res.completeness.summary()["median_relative"],
    )
    return row


def sgemm_gflops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """A float32 yardstick: the best of a few 2048^2 matmuls (torch's BLAS).

    Not a hard peak: oneDNN's convolutions can exceed it in nominal FLOPs (BENCHMARKS.md).
    """
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        _, seconds, _ = timed(lambda: a @ b, device)
        best = min(best, seconds)
    return 2.0 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "resnet18"])
    parser.add_argument("--anchors", type=int, default=128)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64, help="exact backend points per batch")
    parser.add_argument(
        "--bb-anchors",
        type=int,
        default=2,
        help="anchors measured black-box (time extrapolated to --anchors)",
    )
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="where both the reference and the exact backend run (default: cuda if present)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    assert quadrature("gauss-legendre", args.steps).n_steps == args.steps
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            rows.append(bench_model(name, args, Path(tmp)))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    meta = {
        "sgemm_gflops": round(sgemm_gflops(torch.device(args.device)), 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    report = {"meta": meta, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
