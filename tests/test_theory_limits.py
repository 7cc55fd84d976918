"""Verify the proportional-regime limits (twolayer.theory.limits) against independent sources.

* sign, isotropic: the closed forms, their limits, and the exact finite-d risk of orthonormal rows;
* sign, any spectrum: the allocation m_j (water-filling with at most min(n, d) active directions)
  against brute force (every support, scipy SLSQP on each) and against a direct L-BFGS
  minimisation of the exact risk over B at d = 128;
* linear: PCA (Eckart-Young) against the exact risk of the PCA encoder.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from twolayer.theory import (
    SIGN_C,
    allocation_risk,
    min_risk,
    optimal_allocation,
    optimal_decoder_risk_jax,
    orthonormal_rows,
    pca_risk,
    population_risk,
    prediction_status,
)

C = math.pi / 2 - 1  # typed independently of SIGN_C


def sign_closed_form(r):
    return 1 - 2 * r / math.pi if r <= 1 else 1 - r / (r + math.pi / 2 - 1)


# ------------------------------------------------------------------------- sign, isotropic
def test_sign_isotropic_closed_form_on_a_grid():
    """min_risk(r) = 1 - 2r/pi for r <= 1 and 1 - r/(r + pi/2 - 1) for r > 1 (scalar and array calls);
    decreasing in r; SIGN_C = pi/2 - 1."""
    rates = np.unique(np.concatenate([np.logspace(-4, 3, 701), [0.5, 1.0, 2.0]]))
    got = min_risk(rates)
    assert isinstance(got, np.ndarray) and got.shape == rates.shape
    np.testing.assert_allclose(got, [sign_closed_form(r) for r in rates], rtol=0, atol=1e-14)
    assert all(isinstance(min_risk(float(r)), float) for r in rates[::100])
    assert np.all(np.diff(got) < 0)
    assert SIGN_C == pytest.approx(C, abs=1e-15)
    assert min_risk(1.0) == pytest.approx(1 - 2 / math.pi, abs=1e-15)


def test_sign_isotropic_continuity_and_limits():
    """Continuity at r = 1 (both branches give 1 - 2/pi; the slope jumps from -2/pi to
    -(pi/2 - 1)/(pi/2)^2), r -> 0: R -> 1 with slope -2/pi, r -> infinity: R ~ (pi/2 - 1)/r -> 0."""
    eps = 1e-10
    assert abs(min_risk(1 - eps) - min_risk(1 + eps)) < 1e-9
    h = 1e-6
    assert (min_risk(1.0) - min_risk(1 - h)) / h == pytest.approx(-2 / math.pi, rel=1e-6)
    assert (min_risk(1 + h) - min_risk(1.0)) / h == pytest.approx(-C / (1 + C) ** 2, rel=1e-5)
    assert min_risk(1e-12) == pytest.approx(1.0, abs=1e-11)
    for r in (1e-3, 1e-6):
        assert (1 - min_risk(r)) / r == pytest.approx(2 / math.pi, rel=1e-9)
    for r in (1e4, 1e7):
        assert r * min_risk(r) == pytest.approx(C, rel=2 * C / r)
    assert min_risk(1e12) < 1e-11


@pytest.mark.parametrize("d", [8, 40])
def test_sign_isotropic_r_le_1_is_exact_risk_of_orthonormal_rows(d):
    """For r = n/d <= 1, orthonormal rows have K = I, M = I, C = sqrt(2/pi) B^T, so the exact risk
    (computed by the kernel machinery) is 1 - 2n/(pi d) at every d: equal to min_risk(n/d)."""
    rng = np.random.default_rng(d)
    for n in sorted({1, 2, d // 3, d // 2, d - 1, d}):
        B = orthonormal_rows(n, d, rng)
        assert population_risk(B) == pytest.approx(min_risk(n / d), abs=1e-13)


@pytest.mark.parametrize("d", [1, 7, 16, 50])
def test_min_risk_with_flat_spectrum_equals_isotropic(d):
    """min_risk(r, spectrum=ones(d)) (allocation scan) equals the isotropic closed form whenever
    r d is an integer: F(p) = c p^2/(n + p c) + d - p decreases in p, so p = min(n, d)."""
    n = np.arange(1, 3 * d + 1)
    np.testing.assert_allclose(min_risk(n / d, spectrum=np.ones(d)), min_risk(n / d), rtol=0, atol=1e-13)
    # the overall scale of the spectrum does not matter
    np.testing.assert_allclose(min_risk(n / d, spectrum=np.full(d, 3.7)), min_risk(n / d), rtol=0, atol=1e-13)


# --------------------------------------------------------------------- allocation (spectra)
def _spectra():
    rng = np.random.default_rng(5)
    k = np.arange(1, 41)
    ties = np.repeat([3.0, 1.0, 0.2], [5, 10, 25])
    return {
        "1/k": 1 / k,
        "k^-0.5": k**-0.5,
        "spiked": np.r_[50.0, np.ones(39)],
        "unsorted-ties-zeros": rng.permutation(np.r_[ties[:34], np.zeros(6)]),
        "flat": np.ones(40),
    }


SPECTRA = _spectra()


@pytest.mark.parametrize("name", sorted(SPECTRA))
@pytest.mark.parametrize("n", [0.5, 1, 3, 20, 37, 80])
def test_optimal_allocation_properties(name, n):
    """m = optimal_allocation(sigma, n): m >= 0, sum m = n, at most min(n, d) non-zeros (at least one),
    non-increasing in sigma (ties equal), allocation_risk(m) = min_risk(n/d); and the KKT conditions
    of min sum sigma_j c/(m_j + c) on the simplex: sigma_j c/(m_j + c)^2 is one level lam on the
    active set and, when the rank constraint is slack, sigma_j/c <= lam off it."""
    sigma = SPECTRA[name]
    d = sigma.size
    m = optimal_allocation(sigma, n)
    assert m.shape == sigma.shape and np.all(m >= 0)
    assert m.sum() == pytest.approx(n, rel=1e-12)
    active = m > 0
    assert 1 <= active.sum() <= max(1, min(math.floor(n), d))
    order = np.argsort(-sigma, kind="stable")
    assert np.all(np.diff(m[order]) <= 1e-12)
    for value in np.unique(sigma):
        assert np.ptp(m[sigma == value]) < 1e-12 or value == 0 or active.sum() == max(1, min(math.floor(n), d))
    if n >= 1:
        assert allocation_risk(sigma, m) == pytest.approx(min_risk(n / d, spectrum=sigma), rel=1e-12)
    else:  # less than one neuron: time-sharing between no code and one neuron (min_risk's rule)
        one = allocation_risk(sigma, optimal_allocation(sigma, 1.0))
        assert min_risk(n / d, spectrum=sigma) == pytest.approx(1.0 - n * (1.0 - one), rel=1e-12)
    level = sigma[active] * C / (m[active] + C) ** 2
    np.testing.assert_allclose(level, level[0], rtol=1e-9)
    if active.sum() < min(math.floor(n), d):
        assert np.all(sigma[~active] / C <= level[0] * (1 + 1e-9))


def _best_on_support(sigma, support, n, c=C):
    """min over m >= 0 on `support`, sum m = n, of sum_j sigma_j c/(m_j + c) (+ the inactive sigma), by SLSQP."""
    s = sigma[list(support)]
    rest = sigma.sum() - s.sum()
    f = lambda m: float(np.sum(s * c / (m + c)))
    g = lambda m: -s * c / (m + c) ** 2
    res = scipy.optimize.minimize(
        f, np.full(s.size, n / s.size), jac=g, method="SLSQP", bounds=[(0, None)] * s.size,
        constraints=[{"type": "eq", "fun": lambda m: m.sum() - n, "jac": lambda m: np.ones_like(m)}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    return res.fun + rest, res.x


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_optimal_allocation_against_brute_force(seed, n):
    """The allocation minimum over {m >= 0, sum m = n, at most min(n, d) non-zeros} equals the best
    over every support of size <= min(n, d) of an SLSQP minimisation (small d): min_risk attains it,
    is <= it, and random feasible allocations (random supports, Dirichlet weights) are never better.
    The rank constraint matters: when the unconstrained water-filling over all d directions activates
    more than n of them, its value is strictly lower than min_risk (checked when it happens)."""
    rng = np.random.default_rng(seed)
    d = 5
    sigma = np.sort(rng.uniform(0.05, 2.0, d) ** 2)[::-1] if seed % 2 else rng.uniform(0.1, 1.0, d)
    total = sigma.sum()
    kmax = min(n, d)
    brute = min(
        _best_on_support(sigma, S, n)[0]
        for k in range(1, kmax + 1)
        for S in itertools.combinations(range(d), k)
    ) / total
    predicted = min_risk(n / d, spectrum=sigma)
    assert predicted == pytest.approx(brute, abs=1e-8)
    assert predicted <= brute + 1e-9
    m = optimal_allocation(sigma, n)
    assert allocation_risk(sigma, m) == pytest.approx(brute, abs=1e-8)
    for _ in range(200):
        k = int(rng.integers(1, kmax + 1))
        alloc = np.zeros(d)
        alloc[rng.choice(d, k, replace=False)] = n * rng.dirichlet(np.full(k, 0.5))
        assert allocation_risk(sigma, alloc) >= predicted - 1e-12
    unconstrained, m_free = _best_on_support(sigma, range(d), n)
    assert unconstrained / total <= predicted + 1e-9
    if np.count_nonzero(m_free > 1e-6) > kmax:
        assert unconstrained / total < predicted - 1e-6


# ------------------------------------------------------- general covariance, direct minimisation
def _lbfgs_min_risk(cov, n, seed=0, maxiter=300):
    d = cov.shape[0]
    covj = jnp.asarray(cov)
    value_and_grad = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b.reshape(n, d), cov=covj)))

    def fun(b):
        v, g = value_and_grad(jnp.asarray(b))
        return float(v), np.asarray(g, dtype=np.float64)

    B0 = np.random.default_rng(seed).standard_normal((n, d)) / math.sqrt(d)
    res = scipy.optimize.minimize(fun, B0.ravel(), jac=True, method="L-BFGS-B",
                                  options={"maxiter": maxiter, "maxfun": 2 * maxiter, "gtol": 1e-12, "ftol": 1e-15})
    return population_risk(res.x.reshape(n, d), cov=cov)


@pytest.mark.parametrize("name, exponent", [("1/k", 1.0), ("k^-0.5", 0.5)])
def test_allocation_value_matches_direct_minimisation_d128(name, exponent, random_cov):
    """General covariance (derived under the linearised-arcsin approximation): at d = 128, n = 64,
    spectrum k^-exponent in a random eigenbasis, min_risk(n/d, spectrum) is within 1% of the exact
    risk reached by L-BFGS over B (JAX gradient of the exact optimal-decoder risk, float64) from a
    random start, 300 iterations. Measured: 1/k 0.349683 vs 0.350527 (+0.24 %; 0.350448 after 3000
    iterations); k^-0.5 0.545062 vs 0.545091 (+0.005 %; 0.545084 after 3000)."""
    d, n = 128, 64
    sigma = np.arange(1, d + 1, dtype=float) ** -exponent
    cov = random_cov(sigma, 0)
    predicted = min_risk(n / d, spectrum=sigma)
    reached = _lbfgs_min_risk(cov, n)
    assert abs(reached - predicted) <= 0.01 * predicted, (predicted, reached)


@pytest.mark.slow
def test_linearisation_is_optimistic_for_a_dominant_spike(random_cov):
    """Where the general-covariance formula breaks: one eigenvalue carrying most of the variance
    makes the rows of the optimal encoder strongly correlated and arcsin(K) ~ K + cI inaccurate.
    d = 64, n = 32, spectrum (s, 1, ..., 1): s = 4 (6% of the variance) still within 0.1% of L-BFGS
    (measured 0.66218 vs 0.66219); s = 256 (80%) the prediction is clearly optimistic (measured
    0.17895 vs 0.19586 by L-BFGS, 9.5% below; the constructed minimizer reaches 0.20999)."""
    d, n = 64, 32
    for spike, lo, hi in [(4.0, -0.002, 0.002), (256.0, 0.05, 0.2)]:
        sigma = np.r_[spike, np.ones(d - 1)]
        predicted = min_risk(n / d, spectrum=sigma)
        reached = min(_lbfgs_min_risk(random_cov(sigma, 0), n, seed=s, maxiter=1000) for s in (0, 1))
        assert lo <= (reached - predicted) / predicted <= hi, (spike, predicted, reached)


# ----------------------------------------------------------------------------------- linear
@pytest.mark.parametrize("name", ["1/k", "unsorted-ties-zeros"])
def test_linear_min_risk_is_pca(name, random_cov):
    """Eckart-Young: the optimal linear code of size n keeps the top n eigen-directions, risk =
    (sum of the d - n smallest eigenvalues) / trace. min_risk(activation='linear') = pca_risk =
    that tail (summed directly here) = exact population_risk of the PCA encoder; random linear
    encoders are never better."""
    sigma = SPECTRA[name]
    d = sigma.size
    cov = random_cov(sigma, 3)
    evals, evecs = np.linalg.eigh(cov)
    rng = np.random.default_rng(0)
    for n in (1, 5, 17, 33, 40)[: 5 if np.all(sigma > 0) else 4]:  # (zero-variance rows are rejected)
        tail = np.sort(sigma)[: d - n].sum() / sigma.sum()
        assert min_risk(n / d, activation="linear", spectrum=sigma) == pytest.approx(tail, abs=1e-12)
        assert pca_risk(n / d, spectrum=sigma) == pytest.approx(tail, abs=1e-12)
        B = evecs[:, ::-1][:, :n].T
        assert population_risk(B, activation="linear", cov=cov) == pytest.approx(tail, abs=1e-10)
        assert population_risk(rng.standard_normal((n, d)), activation="linear", cov=cov) >= tail - 1e-10


def test_pca_isotropic_and_fractional():
    """Isotropic PCA risk max(0, 1 - r); for fractional n the partial sum is linearly interpolated."""
    r = np.array([0.1, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(pca_risk(r), [0.9, 0.5, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(min_risk(r, activation="linear"), [0.9, 0.5, 0.0, 0.0], atol=1e-15)
    sigma = np.array([4.0, 2.0, 1.0, 1.0])  # total 8
    assert pca_risk(1.5 / 4, spectrum=sigma) == pytest.approx(1 - 5.0 / 8)  # 4 + 0.5 * 2
    assert pca_risk(5.0, spectrum=sigma) == 0.0


@pytest.mark.parametrize("act", ["erf", "tanh"])
def test_smooth_odd_activations_reduce_to_pca_isotropic(act):
    """For erf and tanh the linearised constant c* = inf_s c(s) is 0 (the linear regime s -> 0), so the
    linearised prediction is the PCA value max(0, 1 - r) (an approximation, reached as s -> 0)."""
    r = np.array([0.25, 0.5, 1.0, 1.5, 3.0])
    np.testing.assert_allclose(min_risk(r, activation=act), np.clip(1 - r, 0, None), atol=1e-6)


def test_relu_prediction_is_the_lower_of_linearised_and_pairs():
    """relu: the linearised value with c = 1 - 2/pi (1 - r/(1 + c) for r <= 1, 1 - r/(r + c) beyond) or
    the relu-pairs value (pairs (u, -u) are a linear code of n/2 directions: PCA at rate r/2, 0 for
    r >= 2), whichever is lower. The pairs value is achieved exactly (test_theory_minimizers)."""
    c = 1 - 2 / math.pi
    k = np.arange(1, 21, dtype=float)
    for r in (0.25, 0.5, 1.0, 1.5, 1.9, 2.0, 3.0):
        lin = 1 - r / (1 + c) if r <= 1 else 1 - r / (r + c)
        assert min_risk(r, activation="relu") == pytest.approx(min(lin, max(0.0, 1 - r / 2)), abs=1e-12)
        lin_spec = allocation_risk(1 / k, optimal_allocation(1 / k, r * k.size, c=c), c=c)
        want = min(lin_spec, pca_risk(r / 2, spectrum=1 / k))
        assert min_risk(r, activation="relu", spectrum=1 / k) == pytest.approx(want, abs=1e-12)
    assert min_risk(1.5, activation="relu") == pytest.approx(1 - 1.5 / (1.5 + c))  # linearised wins
    assert min_risk(1.9, activation="relu") == pytest.approx(0.05)  # pairs win


def test_prediction_status_phrases():
    assert "proved" in prediction_status("linear")
    assert "theorem" in prediction_status("sign")
    assert "derived" in prediction_status("sign", spectrum=np.ones(3))
    assert "pairs" in prediction_status("relu") and "r >= 2" in prediction_status("relu")
    assert "approximation" in prediction_status("tanh")


# ------------------------------------------------------------------------------- bad input
def _msg(fn, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("rate", [0, -1.0, np.nan, np.inf, [0.5, -0.1], "abc", []])
def test_bad_rates(rate):
    """r <= 0, NaN, inf, a non-number, an empty list: ValueError saying rates must be finite and > 0."""
    msg = _msg(min_risk, rate)
    assert "rate" in msg and ("> 0" in msg or "positive" in msg or "empty" in msg)
    msg = _msg(pca_risk, rate)
    assert "rate" in msg


@pytest.mark.parametrize(
    "spectrum, words",
    [
        ([1.0, -0.5, 2.0], ["negative eigenvalue", ">= 0"]),
        ([1.0, np.nan], ["NaN or inf", "finite"]),
        ([], ["non-empty 1-D"]),
        ([[1.0, 2.0]], ["1-D", "(1, 2)"]),
        ([0.0, 0.0], ["positive sum"]),
    ],
)
def test_bad_spectra(spectrum, words):
    for fn in (lambda: min_risk(0.5, spectrum=spectrum), lambda: optimal_allocation(spectrum, 2)):
        msg = _msg(fn)
        for w in words:
            assert w in msg, (w, msg)


def test_bad_code_size_and_allocation_shape():
    msg = _msg(optimal_allocation, [1.0, 2.0], 0)
    assert "n (code size)" in msg and "> 0" in msg
    msg = _msg(allocation_risk, [1.0, 2.0, 3.0], [1.0, 1.0])
    assert "(2,)" in msg and "(3,)" in msg
    msg = _msg(min_risk, 0.5, activation="swish")
    assert "'swish'" in msg and "accepted" in msg
