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


@pytest.mark.parametrize("dim", [1, 10, 40, 64])
def test_small_inputs_get_a_secret_projection_too(dim: int) -> None:
    p = make_projection(SECRET, dim, 64)
    assert not p.is_identity and p.matrix is not None and p.k == 64
    assert p.matrix.shape == (dim, 64) and p.directions().shape == (64, dim)
    other = make_projection(bytes(32), dim, 64)
    assert other.matrix is not None and other.matrix.tobytes() != p.matrix.tobytes()
    x = np.arange(2.0 * dim).reshape(2, dim) + 1
    assert not np.allclose(p.project(x)[:, :dim], x)


def test_version_1_configs_keep_their_identity_sketch() -> None:
    # Fingerprints written before version 2 stored the exact field when D <= k.
    p = make_projection(SECRET, 40, 64, version=1)
    assert p.is_identity and p.k == 40
    x = np.arange(80.0).reshape(2, 40)
    np.testing.assert_array_equal(p.project(x), x)
    np.testing.assert_array_equal(p.directions(), np.eye(40))
    wide_v1 = make_projection(SECRET, 512, 64, version=1).matrix
    wide_v2 = make_projection(SECRET, 512, 64).matrix
    assert wide_v1 is not None and wide_v2 is not None
    assert wide_v1.tobytes() == wide_v2.tobytes()  # D > k: unchanged across versions


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
