"""The one-spike prediction :mod:`twolayer.theory.spiked` against independent sources.

* the isotropic theorem 1 - 2r/pi (r <= 1), which the model must give back at rho = 1/n;
* the exact one-neuron optimum (n = 1: sign of the top principal component, exact risk
  ``population_risk``);
* the exact population risk of the encoder the model describes (equal spike share rho, bulk
  parts a simplex frame), built explicitly and evaluated with ``population_risk``: this checks
  the first-order bulk expansion, not the structure;
* a direct L-BFGS minimisation of the exact risk (JAX gradient, float64) from random starts,
  at small d in the default suite, at d = 64 (spike carrying 80 % of the variance) as a slow test.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from twolayer.theory import min_risk, population_risk
from twolayer.theory.risk import optimal_decoder_risk_jax
from twolayer.theory.spiked import spiked_min_risk, spiked_structure


def _lbfgs_min_risk(sigma, n, seed, maxiter):
    """Exact minimum over B of the optimal-decoder population risk, cov = diag(sigma)."""
    d = sigma.size
    cov = jnp.asarray(np.diag(sigma))
    fg = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b.reshape(n, d), cov=cov, jitter=1e-12)))

    def fun(b):
        v, g = fg(jnp.asarray(b))
        return float(v), np.asarray(g, dtype=np.float64)

    B0 = np.random.default_rng(seed).standard_normal((n, d)) / math.sqrt(d)
    res = scipy.optimize.minimize(fun, B0.ravel(), jac=True, method="L-BFGS-B",
                                  options={"maxiter": maxiter, "maxfun": 3 * maxiter, "gtol": 1e-13, "ftol": 1e-16})
    return population_risk(res.x.reshape(n, d), cov=np.diag(sigma))


def _model_encoder(sigma, n, rho):
    """B with unit rows sqrt(rho) e_1 + sqrt(1 - rho) v_i (whitened), v_i a simplex in n - 1 bulk coordinates.

    For an isotropic bulk this is the structure of the model at the optimal allocation
    (m_j = n / (n - 1) on n - 1 bulk directions)."""
    d = sigma.size
    P = np.eye(n) - 1.0 / n  # columns sum to zero, rank n - 1
    U = np.linalg.svd(P)[0][:, : n - 1]
    V = U / np.linalg.norm(U, axis=1, keepdims=True)
    W = np.zeros((n, d))
    W[:, 0] = math.sqrt(rho)
    W[:, 1:n] = math.sqrt(1.0 - rho) * V
    assert np.allclose(V.sum(axis=0), 0.0) and np.allclose(V.T @ V, n / (n - 1) * np.eye(n - 1))
    return W / np.sqrt(sigma)  # B Sigma^{1/2} = W


@pytest.mark.parametrize("d", [16, 64, 256])
def test_isotropic_spectrum_gives_back_the_theorem(d):
    """Flat spectrum, r <= 1: 1 - 2r/pi (orthonormal rows, theorem) within 1e-6 relative for n >= 8;
    the model reaches it at rho = 1/n (the orthonormal frame seen from the sum of its rows). The
    first-order expansion is not exact there: the model is below the theorem by O(n^-3) (measured
    1.1e-4 at d = 16, n = 2; 6e-7 at n = 8), hence the tolerances rather than equality."""
    sigma = np.ones(d)
    for n in sorted({2, 8, d // 4, d // 2, d}):
        st = spiked_structure(n / d, sigma)
        exact = 1.0 - 2.0 * n / (math.pi * d)
        assert st["risk"] == pytest.approx(exact, rel=1e-6 if n >= 8 else 2e-4), (d, n)
        assert st["risk"] <= exact * (1 + 1e-9)  # the O(n^-3) error is on the optimistic side
        assert st["rho"] * n == pytest.approx(1.0, rel=2e-2)  # measured 0.984 at n = 2, 0.998 at n = 8


def test_spikes_zero_is_the_linearised_allocation():
    """spikes=0 returns min_risk's linearised allocation value (same function, same inputs)."""
    sigma = np.arange(1, 65, dtype=float) ** -1.5
    for r in (0.1, 0.5, 1.0, 2.0):
        assert spiked_min_risk(r, sigma, spikes=0) == min_risk(r, spectrum=sigma)


def test_one_neuron_is_exact_and_chords_below_two():
    """n = 1: the best single sign neuron is the top principal direction, exact risk
    1 - (2/pi) sigma_1 / tr Sigma (checked with population_risk); n < 1 and 1 < n < 2 are the
    time-sharing chords, linear in n."""
    sigma = np.array([5.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25])
    d = sigma.size
    exact_one = population_risk(np.eye(1, d), cov=np.diag(sigma))
    assert exact_one == pytest.approx(1.0 - (2.0 / math.pi) * 5.0 / sigma.sum(), rel=1e-12)
    assert spiked_min_risk(1.0 / d, sigma) == pytest.approx(exact_one, rel=1e-12)
    assert spiked_min_risk(0.5 / d, sigma) == pytest.approx(1.0 - 0.5 * (1.0 - exact_one), rel=1e-12)
    two = spiked_min_risk(2.0 / d, sigma)
    assert spiked_min_risk(1.5 / d, sigma) == pytest.approx(0.5 * (exact_one + two), rel=1e-12)


@pytest.mark.parametrize("spike", [16.0, 64.0, 256.0])
def test_model_value_matches_exact_risk_of_its_encoder(spike):
    """Spectrum (s, 1, ..., 1), d = 64, n = 32: the encoder the model describes, built explicitly at the
    model's optimal rho, has exact population risk within 0.3 % of the model's value (the first-order
    bulk expansion; measured 0.09 % at s = 256), and no rho does better than the model by more than that."""
    d, n = 64, 32
    sigma = np.r_[spike, np.ones(d - 1)]
    st = spiked_structure(n / d, sigma)
    assert st["bulk_active"] == n - 1
    exact = population_risk(_model_encoder(sigma, n, st["rho"]), cov=np.diag(sigma))
    assert exact == pytest.approx(st["risk"], rel=3e-3)
    best_exact = min(population_risk(_model_encoder(sigma, n, rho), cov=np.diag(sigma))
                     for rho in np.linspace(0.02, 0.9, 45))
    assert best_exact >= st["risk"] * (1 - 3e-3)


def test_prediction_matches_direct_minimisation_small_d():
    """d = 16, n = 8, spectrum (40, 1, ..., 1) (73 % of the variance on the spike): the prediction is
    within 1 % of the exact risk reached by L-BFGS from two random starts (the linearised allocation
    min_risk is more than 5 % below it)."""
    d, n = 16, 8
    sigma = np.r_[40.0, np.ones(d - 1)]
    reached = min(_lbfgs_min_risk(sigma, n, seed, 600) for seed in (0, 1))
    predicted = spiked_min_risk(n / d, sigma)
    assert predicted == pytest.approx(reached, rel=1e-2), (predicted, reached)
    assert min_risk(n / d, spectrum=sigma) < reached * 0.95


@pytest.mark.slow
def test_prediction_matches_direct_minimisation_d64():
    """d = 64, n = 32, (256, 1, ..., 1) (80 % of the variance): prediction within 0.5 % of L-BFGS
    (two random starts, 1500 iterations); measured 0.195686 vs 0.195864. The linearised value 0.178949
    is 9 % below."""
    d, n = 64, 32
    sigma = np.r_[256.0, np.ones(d - 1)]
    reached = min(_lbfgs_min_risk(sigma, n, seed, 1500) for seed in (0, 1))
    assert spiked_min_risk(n / d, sigma) == pytest.approx(reached, rel=5e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate": 0.0, "spectrum": [1.0, 1.0]}, "rate"),
        ({"rate": float("nan"), "spectrum": [1.0, 1.0]}, "rate"),
        ({"rate": 0.5, "spectrum": [1.0, -1.0]}, "negative eigenvalue"),
        ({"rate": 0.5, "spectrum": [0.0, 0.0]}, "positive sum"),
        ({"rate": 0.5, "spectrum": [1.0, 1.0], "spikes": 2}, "spikes must be 0"),
        ({"rate": 0.5, "spectrum": [1.0, 1.0], "spikes": True}, "spikes must be 0"),
    ],
)
def test_invalid_inputs_raise(kwargs, match):
    """Clear ValueErrors for a bad rate, spectrum or spike count."""
    with pytest.raises(ValueError, match=match):
        spiked_min_risk(**kwargs)
