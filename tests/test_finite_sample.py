"""The least-squares decoder at N training rows (twolayer/theory/finite_sample.py).

Independent source: Monte Carlo over training sets (Gaussian source, fixed sign encoder,
least-squares decoder fitted on N rows, scored on fresh rows), against the exact population
risk times (N - 1)/(N - n - 1).
"""

import math

import numpy as np
import pytest

from twolayer.simulations.empirical import heldout_risk, least_squares_decoder
from twolayer.theory import population_risk
from twolayer.theory.finite_sample import least_squares_factor, risk_at_sample_size


@pytest.mark.parametrize("spectrum,n,N", [("flat", 16, 200), ("k^-1", 32, 200), ("flat", 6, 60)])
def test_heldout_risk_of_least_squares_follows_the_gaussian_design_factor(spectrum, n, N):
    """Derived statement (theory/finite_sample.md): E[held-out risk] = R_inf (N - 1)/(N - n - 1)
    for a fixed sign encoder on a Gaussian source (validated to 0.3 %; the test allows 1 %)."""
    rng = np.random.default_rng(5)
    d = 48
    lam = np.ones(d) if spectrum == "flat" else 1.0 / np.arange(1, d + 1)
    lam = lam * d / lam.sum()
    B = np.linalg.qr(rng.standard_normal((d, n)))[0].T
    exact = risk_at_sample_size(population_risk(B, cov=np.diag(lam)), n, N)
    test = rng.standard_normal((8_000, d)) * np.sqrt(lam)
    risks = []
    for _ in range(40):
        A = least_squares_decoder(rng.standard_normal((N, d)) * np.sqrt(lam), B)
        risks.append(heldout_risk(test, B, A))
    mean, se = np.mean(risks), np.std(risks, ddof=1) / np.sqrt(len(risks))
    assert abs(mean - exact) < 3 * se + 0.01 * exact, (mean, se, exact)
    # and the excess is really there: the population risk alone is more than 10 s.e. below
    assert mean - exact / least_squares_factor(n, N) > 10 * se


def test_least_squares_factor_values_and_refusals():
    assert least_squares_factor(16, 1438) == pytest.approx(1437 / 1421, rel=1e-15)
    assert math.isinf(least_squares_factor(159, 160)) and math.isinf(least_squares_factor(625, 160))
    assert risk_at_sample_size(0.3, 625, 160) is None and risk_at_sample_size(None, 4, 100) is None
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            least_squares_factor(bad, 100)
