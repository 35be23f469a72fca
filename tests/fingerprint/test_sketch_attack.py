"""Red-team: recovering the secret anchors from a shared .mgf with the stolen model.

The thief holds the owner's model (stolen) and a fingerprint file (shared for a dispute), but
no key: only the key-less reader (read_fingerprint_unverified). Two attacks are run:

- direct reading: with a zero baseline the first step's field is w_1 * x * grad F(a_1 x), so
  x ~ sketch_1 / grad F(0) when the sketch is the field itself;
- fitting: gradient ascent on candidate anchors so that their field, sketched as the thief
  best can (the identity, or a projection of their own when the stored sketch is longer than
  the input), matches the stored sketch at every step; started from the direct reading.

Against a version-1 file (the exact field for inputs of at most k dimensions) both attacks
recover the anchors; this proves the test can fail. Against the current secret projection
they stay at chance: the median cosine to the true anchors is what unrelated anchors drawn
from the same range get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from modelgif.crypto.keys import generate_key
from modelgif.fingerprint import create as create_module
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.quadrature import quadrature
from modelgif.fingerprint.record import load_fingerprint, read_fingerprint_unverified

RANGE = (-3.0, 3.0)  # centred on the zero baseline: unrelated anchors have cosine ~ 0
N_ANCHORS, N_STEPS = 32, 8


def _model(dim: int) -> nn.Module:
    torch.manual_seed(dim)
    model = nn.Sequential(nn.Linear(dim, 32), nn.Tanh(), nn.Linear(32, 10))
    return model.eval()


def _fingerprint(tmp_path: Path, model: nn.Module, dim: int, version: int) -> Path:
    path = tmp_path / f"v{version}.mgf"
    key = generate_key()
    with pytest.MonkeyPatch.context() as patch:
        # version 1 is read-only now; the old writer differed only in that version number
        patch.setattr(create_module, "FIELD_FORMAT_VERSION", version)
        create_fingerprint(
            model, key, path, example_input=torch.zeros(1, dim), input_range=RANGE,
            anchor_config=AnchorConfig(n_anchors=N_ANCHORS),
            field_config=FieldConfig(n_steps=N_STEPS, version=version),
        )  # fmt: skip
    true = open_secrets(load_fingerprint(path, key.public_key()), key).anchors
    np.save(tmp_path / f"v{version}-truth.npy", true)  # for the assertions only
    return path


def _fields(model: nn.Module, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(N, S, D) field phi_s = x * sum_{j<=s} w_j grad F(a_j x) (zero baseline), differentiable."""
    quad = quadrature("gauss-legendre", N_STEPS)
    grads = []
    for node in quad.nodes:
        point = x * float(node)
        if not point.requires_grad:
            point.requires_grad_(True)
        logit = model(point).gather(1, classes[:, None]).sum()
        (grad,) = torch.autograd.grad(logit, point, create_graph=True)
        grads.append(grad)
    weights = torch.tensor(quad.weights, dtype=x.dtype)[None, :, None]
    return x[:, None, :] * torch.cumsum(torch.stack(grads, 1) * weights, 1)


def _attack(model: nn.Module, path: Path) -> np.ndarray:
    """The thief's best anchors from the key-less reading of `path`."""
    public = read_fingerprint_unverified(path)
    sketch = torch.tensor(np.asarray(public.arrays["sketch"], dtype=np.float32))
    classes = torch.tensor(np.asarray(public.arrays["classes"], dtype=np.int64))
    dim, k = int(public.config["input_spec"]["shape"][1]), sketch.shape[-1]
    # the thief's projection: none when the sketch is as long as the input, else a guess
    guess = None if k == dim else torch.randn(dim, k, generator=torch.Generator().manual_seed(7))
    target = sketch[:, 0, :dim] if guess is None else sketch[:, 0] @ torch.linalg.pinv(guess)
    zero = torch.zeros(1, dim, requires_grad=True)
    (g0,) = torch.autograd.grad(model(zero)[0].gather(0, classes).sum(), zero)
    x = (target / torch.where(g0.abs() > 1e-6, g0, 1e-6)).detach()  # direct reading
    x = (x / x.abs().amax(1, keepdim=True).clamp_min(1e-12) * RANGE[1]).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=0.05)
    for _ in range(150):
        phi = _fields(model, x, classes)
        mine = phi if guess is None else phi @ guess
        loss = -nn.functional.cosine_similarity(mine, sketch, dim=-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(*RANGE)
    return x.detach().numpy()


def _median_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(np.median(cos))


@pytest.mark.parametrize("dim", [12, 64])
def test_anchors_cannot_be_read_back_from_a_shared_fingerprint(tmp_path: Path, dim: int) -> None:
    model = _model(dim)
    decoys = derive_anchors(
        bytes(range(32)), AnchorConfig(n_anchors=N_ANCHORS), input_shape=(dim,),
        value_range=RANGE,
    ).inputs  # fmt: skip
    old = _fingerprint(tmp_path, model, dim, version=1)
    recovered_old = _attack(model, old)
    truth_old = np.load(tmp_path / "v1-truth.npy")
    assert _median_cosine(recovered_old, truth_old) > 0.9  # the attack works on the identity

    new = _fingerprint(tmp_path, model, dim, version=2)
    assert read_fingerprint_unverified(new).arrays["sketch"].shape == (N_ANCHORS, N_STEPS, 64)
    recovered = _attack(model, new)
    truth = np.load(tmp_path / "v2-truth.npy")
    hit, chance = _median_cosine(recovered, truth), _median_cosine(recovered, decoys)
    assert abs(hit) < 0.25 and abs(hit - chance) < 0.25, (hit, chance)
