"""The issue's acceptance checks at d = 256-512 (run with: pytest -m slow tests/test_simulations_slow.py).

Measured numbers and times are in theory/simulations.md.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import twolayer  # noqa: F401
from twolayer.simulations import fit_finite_size, growing_dimensions, train
from twolayer.theory import min_risk, pca_risk, population_risk

pytestmark = pytest.mark.slow


def sign_limit(r: float) -> float:
    c = math.pi / 2 - 1
    return 1 - 2 * r / math.pi if r <= 1 else 1 - r / (r + c)


@pytest.mark.parametrize("r, within", [(0.25, 0.005), (0.5, 0.005), (1.0, 0.005), (2.0, 0.01)])
def test_population_sign_isotropic_d512(r, within):
    d = 512
    res = train(d, int(r * d), steps=1500, tol=1e-6 if r <= 1 else 1e-5, seed=0)
    risk = population_risk(res.B, res.A)
    assert risk / sign_limit(r) - 1 < within
    assert res.metrics["frame_spectrum_error"] < 0.02
    if r <= 1:  # P Q^T is a tight frame only for r <= 1 (see theory/simulations.md)
        assert res.metrics["polar_alignment"] >= 0.99


def test_samples_sign_isotropic_d256():
    res = train(256, 128, method="samples", steps=2000, seed=0)
    assert abs(population_risk(res.B, res.A) / sign_limit(0.5) - 1) < 0.02


def test_power_law_spectrum_d256():
    d = 256
    spectrum = 1.0 / np.arange(1, d + 1)
    res = train(d, d // 2, spectrum=spectrum, optimizer="adam", steps=2000, seed=0)
    predicted = min_risk(0.5, activation="sign", spectrum=spectrum)
    assert abs(population_risk(res.B, res.A, cov=np.diag(spectrum)) / predicted - 1) < 0.01
    assert res.metrics["allocation_profile_error"] < 0.05
    assert res.metrics["leakage"] < 0.02


def test_linear_reaches_pca_d256():
    d = 256
    spectrum = 1.0 / np.arange(1, d + 1)
    res = train(d, d // 4, activation="linear", spectrum=spectrum, steps=1000, seed=0)
    risk = population_risk(res.B, res.A, activation="linear", cov=np.diag(spectrum))
    assert risk == pytest.approx(pca_risk(0.25, spectrum=spectrum), rel=1e-4)


def test_gap_shrinks_over_four_sizes_r2():
    records = growing_dimensions(ds=(32, 64, 128, 256), rate=2.0, steps=1500, tol=1e-6, seed=0)
    gaps = [r["relative_gap"] for r in records]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[-1] > 0
    assert fit_finite_size(records)["slope"] < -0.5
