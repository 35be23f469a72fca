"""Benchmark: could other CPU kernels make the exact field 3x faster? (the ceiling)

Why: on an idle machine the exact backend and the captum-style reference both run ResNet-18's
convolutions at ~325 GFLOP/s (BENCHMARKS.md), so at identical settings a 3x gain can only
come from different kernels. This measures the candidates on the same input-gradient work
the field does (forward + backward to the input, top-1 logit, batch 64), each against plain
float32 oneDNN in one run, with the gradient's cosine to the float32 one (the field must stay
equal to cosine 0.999):

- channels_last memory format (oneDNN's preferred layout);
- bfloat16 autocast (this CPU has AVX512-BF16);
- NNPACK's Winograd convolution, on one 3x3 layer (PyTorch exposes it for forward only; the
  input gradient of a stride-1 3x3 convolution is itself such a convolution).

Usage:
    python benchmarks/bench_kernels.py [--json kernels.json]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from bench_fields import ResNet18, _init_bn
from torch import nn


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """(result, the best wall time of `repeats` calls after one warm-up)."""
    result = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def input_gradient(
    model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None, channels_last: bool
) -> torch.Tensor:
    """d(own top-1 logit)/d(input), the field's integrand, under a kernel choice."""
    x = x.clone()
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        out = model(x)
    (grad,) = torch.autograd.grad(out.float().max(dim=1).values.sum(), x)
    return grad.float().reshape(len(x), -1)


def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1).min())


def bench_model(batch: int, repeats: int) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    model = _init_bn(ResNet18())
    for p in model.parameters():
        p.requires_grad_(False)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x = torch.randn(batch, 3, 32, 32)
    variants: dict[str, tuple[nn.Module, torch.dtype | None, bool]] = {
        "float32 oneDNN (NCHW)": (model, None, False),
        "float32 channels_last": (model_cl, None, True),
        "bfloat16 autocast (NCHW)": (model, torch.bfloat16, False),
        "bfloat16 autocast channels_last": (model_cl, torch.bfloat16, True),
    }
    measured = {
        name: best_time(functools.partial(input_gradient, m, x, dtype, cl), repeats)
        for name, (m, dtype, cl) in variants.items()
    }
    return _rows(f"ResNet-18 input gradient, batch {batch}", measured)


def _rows(work: str, measured: dict[str, tuple[torch.Tensor, float]]) -> list[dict[str, Any]]:
    """One row per kernel, against the first (the float32 default), measured in this run."""
    base, t_base = next(iter(measured.values()))
    return [
        {
            "work": work,
            "kernel": name,
            "seconds": round(seconds, 4),
            "speedup_vs_float32": round(t_base / seconds, 2),
            "min_cosine_vs_float32": round(
                min_cosine(out.reshape(len(out), -1), base.reshape(len(base), -1)), 6
            ),
        }
        for name, (out, seconds) in measured.items()
    ]


def bench_conv(batch: int, repeats: int) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    x = torch.randn(batch, 128, 16, 16)
    w = torch.randn(128, 128, 3, 3) / 34.0
    b = torch.zeros(128)
    candidates: dict[str, Callable[[], torch.Tensor]] = {
        "float32 oneDNN (torch.conv2d)": lambda: torch.conv2d(x, w, b, padding=1),
    }
    if torch.backends.nnpack.is_available():  # type: ignore[no-untyped-call]
        candidates["NNPACK Winograd"] = lambda: torch._nnpack_spatial_convolution(x, w, b, [1, 1])
    measured = {name: best_time(fn, repeats) for name, fn in candidates.items()}
    return _rows(f"3x3 conv 128->128 ch, 16x16, batch {batch} (forward)", measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = bench_model(args.batch, args.repeats) + bench_conv(args.batch, args.repeats)
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
