from __future__ import annotations

import numpy as np
import pytest

from modelgif.fingerprint.sketch import jl_cosine_error, make_projection

SECRET = bytes(range(32))


def _pairs(n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    u = rng.normal(size=(n, dim))
    # partners at a spread of cosines, from nearly equal to unrelated
    mix = np.linspace(0.0, 1.0, n)[:, None]
    v = mix * u + (1 - mix) * rng.normal(size=(n, dim))
    return u, v


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_sketch_cosines_track_full_cosines_within_jl_error(kind: str) -> None:
    n, dim, k = 50, 4096, 1024
    u, v = _pairs(n, dim)
    p = make_projection(SECRET, dim, k, kind)
    errors = np.abs(_cos(p.project(u), p.project(v)) - _cos(u, v))
    bound = jl_cosine_error(k, n, delta=1e-3)
    assert bound < 1.0
    assert errors.max() <= bound


def test_small_sketch_error_is_order_one_over_sqrt_k() -> None:
    n, dim, k = 200, 2048, 64
    u, v = _pairs(n, dim)
    p = make_projection(SECRET, dim, k)
    errors = _cos(p.project(u), p.project(v)) - _cos(u, v)
    assert np.sqrt(np.mean(errors**2)) < 1.5 / np.sqrt(k)


def test_identity_when_input_is_small() -> None:
    p = make_projection(SECRET, 40, 64)
    assert p.is_identity and p.k == 40
    x = np.arange(80.0).reshape(2, 40)
    np.testing.assert_array_equal(p.project(x), x)
    np.testing.assert_array_equal(p.directions(), np.eye(40))


def test_projection_is_secret_and_deterministic() -> None:
    a = make_projection(SECRET, 512, 32)
    b = make_projection(SECRET, 512, 32)
    c = make_projection(bytes(32), 512, 32)
    assert a.matrix is not None and b.matrix is not None and c.matrix is not None
    assert a.matrix.tobytes() == b.matrix.tobytes()
    assert abs(np.corrcoef(a.matrix.ravel(), c.matrix.ravel())[0, 1]) < 0.05
    # norms preserved in expectation: E|P^T x|^2 = |x|^2
    x = np.random.default_rng(0).normal(size=(100, 512))
    ratio = np.linalg.norm(a.project(x), axis=1) ** 2 / np.linalg.norm(x, axis=1) ** 2
    assert abs(ratio.mean() - 1) < 0.1
