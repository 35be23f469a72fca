"""A small real scenario shared by workflow tests: an owner model, a perturbed copy (a
stand-in fine-tune), independent models, all exported and normalized, and an owner key."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from model_factory import make_model
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.normalize import NormalizedModel, normalize

INPUT_RANGE = (-3.0, 3.0)


@dataclass(frozen=True)
class Scenario:
    folder: Path
    owner: Path
    tuned: Path
    independent: Path
    negatives: list[Path]
    module: torch.nn.Module
    example: torch.Tensor

    def load(self, path: Path) -> NormalizedModel:
        return normalize(path)


def perturbed(module: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """A copy with every weight moved by `scale` relative noise (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    child = copy.deepcopy(module)
    with torch.no_grad():
        for parameter in child.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.add_(scale * parameter.abs().mean() * noise)
    return child


def build_scenario(folder: Path, kind: str = "cnn", negatives: int = 10) -> Scenario:
    """Export every model as normalized ONNX with the declared input range."""
    folder.mkdir(parents=True, exist_ok=True)
    module, example = make_model(kind, 0)

    def save(name: str, model: torch.nn.Module) -> Path:
        path = export_torch(model, example, folder / "raw" / f"{name}.onnx")
        return normalize(path, input_range=INPUT_RANGE).save(folder / f"{name}.onnx")

    (folder / "negatives").mkdir(exist_ok=True)
    return Scenario(
        folder=folder,
        owner=save("owner", module),
        tuned=save("tuned", perturbed(module, 0.2, 1)),
        independent=save("independent", make_model(kind, 100)[0]),
        negatives=[save(f"negatives/n{i}", make_model(kind, 1 + i)[0]) for i in range(negatives)],
        module=module,
        example=example,
    )
