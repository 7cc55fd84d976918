"""Verify the exact finite-d population risk (twolayer.theory.risk) against independent sources.

R(A, B) = (tr Sigma - 2 tr A^T C + tr A M A^T) / tr Sigma with C = Sigma B^T diag(E z sigma(z) / K_ii)
(Stein) and M the activation kernel of K = B Sigma B^T; A*(B) = C M^{-1}.
References: Monte Carlo of ||x - A sigma(Bx)||^2 (10^6 samples, 4 standard errors),
JAX automatic differentiation and finite differences, exact symmetries of the model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from twolayer.theory import (
    optimal_decoder,
    optimal_decoder_jax,
    optimal_decoder_risk_jax,
    population_risk,
    risk_jax,
)

NUMPY_FN = {"sign": np.sign, "relu": lambda z: np.maximum(z, 0.0), "erf": special.erf, "tanh": np.tanh}
ACTS = ["sign", "relu", "erf", "tanh"]


def _jit(act, fn):
    """jax.jit for closed-form activations; tanh's unrolled 48 x 48 quadrature compiles slowly
    (~10 s), so it runs eagerly."""
    return fn if act == "tanh" else jax.jit(fn)


def make_problem(d, n, seed, random_cov, scales=(0.3, 3.0)):
    """Non-identity covariance (eigenvalues 0.3..2.5 in a random basis) and a random B whose rows
    give pre-activation standard deviations uniform in ``scales``."""
    rng = np.random.default_rng(seed)
    cov = random_cov(np.linspace(0.3, 2.5, d), seed + 1)
    B = rng.standard_normal((n, d))
    s = np.sqrt(np.einsum("ij,jk,ik->i", B, cov, B))
    B *= (rng.uniform(*scales, n) / s)[:, None]
    return cov, B, rng


def mc_risk(A, B, cov, fn, mc_mean, seed, n_total=1_000_000):
    """Monte Carlo E||x - A sigma(Bx)||^2 / tr Sigma and its standard error (per-sample SE)."""
    L = np.linalg.cholesky(cov)

    def sample(rng, size):
        x = rng.standard_normal((size, L.shape[0])) @ L.T
        err = x - fn(x @ B.T) @ A.T
        return np.einsum("ij,ij->i", err, err)

    mean, se = mc_mean(sample, n_total, seed=seed)
    tr = np.trace(cov)
    return mean / tr, se / tr


# (d, n, decoder): r < 1 and r > 1 with a random decoder; the optimal decoder (A=None path, which
# equals the quadratic form at A* to 1e-12, see below) at r = 2 for the two homogeneous activations
MC_CONFIGS = [(8, 4, "random"), (10, 16, "random")]
MC_CASES = [(act, *cfg) for act in ACTS for cfg in MC_CONFIGS] + [("sign", 6, 12, "optimal"), ("relu", 6, 12, "optimal")]


@pytest.mark.parametrize("act, d, n, decoder", MC_CASES)
def test_exact_risk_matches_monte_carlo(act, d, n, decoder, random_cov, mc_mean):
    """Exact risk R(A, B) (Stein's lemma for C, the activation kernel for M) equals the Monte Carlo
    mean of ||x - A sigma(Bx)||^2 / tr Sigma within 4 standard errors, for a non-identity Sigma,
    random B, and a random decoder A = A* + noise (or the optimal A*, via population_risk(B)).
    tanh rows have pre-activation scale <= 1 here (scales 2-3:
    test_tanh_exact_risk_matches_monte_carlo_at_scale_2_to_3)."""
    seed = 100 * d + n + 7 * ACTS.index(act)
    cov, B, rng = make_problem(d, n, seed, random_cov, (0.4, 1.0) if act == "tanh" else (0.3, 3.0))
    A_opt = optimal_decoder(B, activation=act, cov=cov)
    if decoder == "optimal":
        A, exact = A_opt, population_risk(B, activation=act, cov=cov)
    else:
        A = A_opt + 0.5 * np.sqrt(np.mean(A_opt**2)) * rng.standard_normal(A_opt.shape)
        exact = population_risk(B, A, activation=act, cov=cov)
        assert exact > population_risk(B, activation=act, cov=cov) + 1e-3  # genuinely not optimal
    mean, se = mc_risk(A, B, cov, NUMPY_FN[act], mc_mean, seed)
    assert abs(exact - mean) <= 4.0 * se, (exact, mean, se, (exact - mean) / se)


def test_tanh_exact_risk_matches_monte_carlo_at_scale_2_to_3(random_cov, mc_mean):
    """Same statement as above for tanh with rows of pre-activation scale 2..3 (what N(0,1) entries
    give at d ~ 10).

    Regression test: with a fixed 48-node Gauss-Hermite rule the tanh moments/kernel were off by
    ~1e-3 at these scales and the 'exact' risk by about 0.01 (~30 standard errors); the NumPy rule
    now grows its node count with the scale (twolayer/activations.py, Activation._expect).
    """
    d, n = 10, 16
    cov, B, rng = make_problem(d, n, 5, random_cov, (2.0, 3.0))
    A = optimal_decoder(B, activation="tanh", cov=cov)
    A = A + 0.3 * np.sqrt(np.mean(A**2)) * rng.standard_normal(A.shape)
    exact = population_risk(B, A, activation="tanh", cov=cov)
    mean, se = mc_risk(A, B, cov, np.tanh, mc_mean, 5)
    assert abs(exact - mean) <= 4.0 * se, (exact, mean, se, (exact - mean) / se)


# ------------------------------------------------------------------------ optimal decoder
@pytest.mark.parametrize("act", ACTS + ["linear"])
@pytest.mark.parametrize("d, n", [(7, 4), (5, 9)])
def test_optimal_decoder_is_stationary_and_minimal(act, d, n, random_cov):
    """A*(B) = C M^{-1} minimises the quadratic R(., B): the JAX gradient of risk_jax in A (closed-form
    activations) and central differences of the NumPy risk vanish at A*, and random perturbations of every size
    raise the risk by exactly t^2 times a positive constant (a convex quadratic with minimum at A*).
    Also R(B) (the 1 - tr C M^-1 C^T path) equals R(A*, B) (the full quadratic form)."""
    cov, B, rng = make_problem(d, n, 3 * d + n, random_cov, (0.5, 1.0))
    A = optimal_decoder(B, activation=act, cov=cov)
    base = population_risk(B, activation=act, cov=cov)
    tol = 1e-12
    assert population_risk(B, A, activation=act, cov=cov) == pytest.approx(base, abs=tol)

    if act != "tanh":  # (tanh's JAX path is compared with NumPy below; its eager grad costs ~3 s)
        grad_A = jax.jit(jax.grad(lambda A_: risk_jax(jnp.asarray(B), A_, activation=act, cov=jnp.asarray(cov))))
        g_opt = np.asarray(grad_A(jnp.asarray(A)))
        g_zero = np.asarray(grad_A(jnp.zeros_like(jnp.asarray(A))))
        assert np.linalg.norm(g_opt) <= 1e-9 * np.linalg.norm(g_zero)

    for _ in range(3):
        E = rng.standard_normal(A.shape)
        h = 1e-4
        fd = (population_risk(B, A + h * E, activation=act, cov=cov)
              - population_risk(B, A - h * E, activation=act, cov=cov)) / (2 * h)
        assert abs(fd) < (1e-8 if act != "tanh" else 1e-6)
        curvature = []
        for t in (1e-3, 1e-2, 0.1, 1.0, 10.0)[act == "tanh":]:  # tanh A* is stationary to ~1e-9 only
            excess = population_risk(B, A + t * E, activation=act, cov=cov) - base
            assert excess > 0
            curvature.append(excess / t**2)
        np.testing.assert_allclose(curvature, curvature[-1], rtol=1e-5 if act != "tanh" else 1e-4)


@pytest.mark.parametrize("act", ["sign", "relu", "erf"])
def test_duplicated_neuron_adds_nothing(act, random_cov):
    """A repeated row of B carries no new information: M is singular (pseudo-inverse path) and the
    optimal risk equals that of B without the copy; optimal_decoder's A attains it."""
    cov, B, _ = make_problem(6, 4, 11, random_cov)
    B_dup = np.vstack([B, B[1]])
    want = population_risk(B, activation=act, cov=cov)
    assert population_risk(B_dup, activation=act, cov=cov) == pytest.approx(want, abs=1e-9)
    A_dup = optimal_decoder(B_dup, activation=act, cov=cov)
    assert population_risk(B_dup, A_dup, activation=act, cov=cov) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("act", ACTS + ["linear"])
def test_row_rescaling_and_sign_flips(act, random_cov):
    """Symmetries of the optimal risk: positively homogeneous sigma (sign, relu, linear) make R(B)
    invariant to positive row scalings (the decoder absorbs them); odd sigma (sign, erf, tanh,
    linear) make it invariant to flipping rows. relu is not odd, erf/tanh are not homogeneous:
    those transformations must change the risk (the test would not see a scale bug otherwise)."""
    cov, B, rng = make_problem(7, 5, 21, random_cov, (0.5, 1.0))
    base = population_risk(B, activation=act, cov=cov)
    scaled = population_risk(rng.uniform(0.3, 3.0, (5, 1)) * B, activation=act, cov=cov)
    flipped = population_risk(np.array([[1.0], [-1.0], [-1.0], [1.0], [-1.0]]) * B, activation=act, cov=cov)
    if act in ("sign", "relu", "linear"):
        assert scaled == pytest.approx(base, abs=1e-12)
    else:
        assert abs(scaled - base) > 1e-4
    if act == "relu":
        assert abs(flipped - base) > 1e-4
    else:
        assert flipped == pytest.approx(base, abs=1e-12)


def test_identity_covariance_is_the_isotropic_default():
    """cov=None means Sigma = I: both give the same risk and decoder."""
    rng = np.random.default_rng(0)
    B = rng.standard_normal((5, 8))
    for act in ("sign", "relu"):
        assert population_risk(B, activation=act) == pytest.approx(
            population_risk(B, activation=act, cov=np.eye(8)), abs=1e-13)
        np.testing.assert_allclose(optimal_decoder(B, activation=act), optimal_decoder(B, activation=act, cov=np.eye(8)),
                                   atol=1e-12)


# ------------------------------------------------------------------------------- JAX paths
@pytest.mark.parametrize("act", ACTS + ["linear"])
@pytest.mark.parametrize("d, n, with_cov", [(6, 9, True), (7, 4, False)])
def test_jax_and_numpy_risks_agree(act, with_cov, d, n, random_cov):
    """risk_jax = population_risk(B, A), optimal_decoder_risk_jax = population_risk(B) and
    optimal_decoder_jax = optimal_decoder, in float64, with and without a covariance.
    (linear with n > d has a singular M and no unique decoder: tested separately below.)"""
    if act == "linear" and n > d:
        pytest.skip("singular M, decoder not unique: see test_jax_linear_code_with_singular_kernel")
    cov, B, rng = make_problem(d, n, 31, random_cov, (0.5, 1.0))
    cov = cov if with_cov else None
    covj = None if cov is None else jnp.asarray(cov)
    A = rng.standard_normal((d, n))
    tol = 1e-11
    got = float(_jit(act, lambda b, a: risk_jax(b, a, activation=act, cov=covj))(jnp.asarray(B), jnp.asarray(A)))
    assert got == pytest.approx(population_risk(B, A, activation=act, cov=cov), rel=1e-12, abs=1e-13)
    got = float(_jit(act, lambda b: optimal_decoder_risk_jax(b, activation=act, cov=covj))(jnp.asarray(B)))
    assert got == pytest.approx(population_risk(B, activation=act, cov=cov), abs=tol)
    got = np.asarray(_jit(act, lambda b: optimal_decoder_jax(b, activation=act, cov=covj))(jnp.asarray(B)))
    np.testing.assert_allclose(got, optimal_decoder(B, activation=act, cov=cov), rtol=0,
                               atol=1e-9)


def test_jax_linear_code_with_singular_kernel():
    """Linear code with n > d: M = K has rank d and the decoder is not unique (NumPy returns the
    minimum-norm one through a pseudo-inverse). The risk is unique: the PCA value 0 (n >= d
    directions span everything), and optimal_decoder_risk_jax with a small jitter (its documented
    regularisation, M + jitter I) gives it too."""
    B = np.random.default_rng(2).standard_normal((9, 6))
    assert population_risk(B, activation="linear") == pytest.approx(0.0, abs=1e-10)
    A = optimal_decoder(B, activation="linear")
    assert population_risk(B, A, activation="linear") == pytest.approx(0.0, abs=1e-10)
    got = float(optimal_decoder_risk_jax(jnp.asarray(B), activation="linear", jitter=1e-9))
    assert got == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("act, d, n, with_cov", [("sign", 6, 4, True), ("sign", 5, 10, True), ("relu", 5, 10, True),
                                                  ("erf", 6, 4, True), ("sign", 6, 4, False), ("sign", 5, 10, False),
                                                  ("relu", 5, 10, False)])
def test_jax_gradient_of_risk_in_B(act, d, n, with_cov, random_cov):
    """The JAX gradient of R(B) = optimal_decoder_risk_jax is finite (for sign the kernel diagonal
    never goes through arcsin, whose derivative at 1 is infinite), equals Richardson-extrapolated
    central differences of the NumPy population_risk, and equals the gradient of risk_jax at fixed
    A = A*(B) (envelope theorem: the decoder's own dependence on B does not count).
    sign with Sigma = I takes the closed-form gradient of twolayer.theory.sign_risk; risk_jax is
    plain automatic differentiation of the general formula, an independent computation."""
    cov, B, rng = make_problem(d, n, 41 + d, random_cov, (0.5, 1.0))
    cov = cov if with_cov else None
    covj = None if cov is None else jnp.asarray(cov)
    g = np.asarray(_jit(act, jax.grad(lambda b: optimal_decoder_risk_jax(b, activation=act, cov=covj)))(jnp.asarray(B)))
    assert np.all(np.isfinite(g))
    A = jnp.asarray(optimal_decoder(B, activation=act, cov=cov))
    g_env = np.asarray(_jit(act, jax.grad(lambda b: risk_jax(b, A, activation=act, cov=covj)))(jnp.asarray(B)))
    np.testing.assert_allclose(g, g_env, rtol=1e-7, atol=1e-10)
    R = lambda b: population_risk(b, activation=act, cov=cov)
    central = lambda E, h: (R(B + h * E) - R(B - h * E)) / (2 * h)
    for _ in range(3):
        E = rng.standard_normal(B.shape)
        fd = (4 * central(E, 5e-6) - central(E, 1e-5)) / 3
        assert np.sum(g * E) == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("d, n", [(24, 12), (24, 24), (16, 40)])
@pytest.mark.parametrize("jitter", [0.0, 1e-3])
def test_closed_form_sign_risk_equals_the_general_path(d, n, jitter):
    """sign, Sigma = I: the closed-form value and vector-Jacobian product (sign_risk, in unit-row
    coordinates) equal the general path (code_moments + automatic differentiation, taken here by
    passing Sigma = I explicitly) with the same jitter, to 1e-12 in float64, at r < 1, r = 1 and
    r > 1, for rows of unequal norms (the normalisation's Jacobian is part of the formula)."""
    rng = np.random.default_rng(d + n)
    B = jnp.asarray(rng.standard_normal((n, d)) * rng.uniform(0.2, 3.0, (n, 1)))
    eye = jnp.eye(d)
    closed = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b, jitter=jitter)))
    general = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b, cov=eye, jitter=jitter)))
    (v1, g1), (v2, g2) = closed(B), general(B)
    assert float(v1) == pytest.approx(float(v2), abs=1e-12)
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-9, atol=1e-12)
    if jitter == 0.0:
        assert float(v1) == pytest.approx(population_risk(np.asarray(B)), abs=1e-12)


def test_closed_form_sign_risk_in_float32():
    """The float32 step (what train() runs by default) agrees with the float64 one: risk to 1e-5,
    gradient to 1e-3 of its largest entry, at d = 64, n = 128 (float32 rounding of M and its
    Cholesky factor, jitter 1e-6)."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal((128, 64))
    with jax.enable_x64(False):
        v32, g32 = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b, jitter=1e-6)))(
            jnp.asarray(B, dtype=jnp.float32))
        assert g32.dtype == jnp.float32
    v64, g64 = jax.jit(jax.value_and_grad(lambda b: optimal_decoder_risk_jax(b)))(jnp.asarray(B))
    assert float(v32) == pytest.approx(float(v64), abs=1e-5)
    np.testing.assert_allclose(np.asarray(g32), np.asarray(g64), rtol=0, atol=1e-3 * float(jnp.abs(g64).max()))


# ------------------------------------------------------------------------------- bad input
def _msg(fn, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_bad_encoder_and_decoder_values():
    """NaN/inf entries, wrong dimensionality, non-numeric input, a dead row: ValueError saying what
    was wrong and what is accepted."""
    B = np.random.default_rng(0).standard_normal((4, 6))
    bad = B.copy()
    bad[1, 2] = np.nan
    msg = _msg(population_risk, bad)
    assert "B" in msg and "NaN or inf" in msg and "finite" in msg
    A = np.ones((6, 4))
    A[0, 0] = np.inf
    msg = _msg(population_risk, B, A)
    assert "A" in msg and "NaN or inf" in msg and "finite" in msg
    msg = _msg(population_risk, B[0])
    assert "2-D matrix" in msg and "(6,)" in msg
    msg = _msg(population_risk, [["a", "b"]])
    assert "real matrix" in msg
    dead = B.copy()
    dead[2] = 0.0
    msg = _msg(population_risk, dead)
    assert "row 2" in msg and "zero variance" in msg and "non-zero projection" in msg
    msg = _msg(optimal_decoder, bad)
    assert "NaN or inf" in msg


def test_decoder_shape_mismatch():
    """A must be d x n when B is n x d; the message gives both shapes."""
    B = np.ones((4, 6)) + np.eye(4, 6)
    msg = _msg(population_risk, B, np.ones((4, 6)))
    assert "shape mismatch" in msg and "4 x 6" in msg and "6 x 4" in msg and "(4, 6)" in msg


@pytest.mark.parametrize(
    "cov, words",
    [
        (np.diag([1.0, 1.0, -0.5, 1.0, 1.0, 1.0]), ["not positive semi-definite", "-0.5", "PSD"]),
        (np.eye(5), ["(5, 5)", "d = 6"]),
        (np.ones((6, 5)), ["square", "(6, 5)"]),
        (np.eye(6) + np.triu(np.ones((6, 6)), 1), ["symmetric"]),
        (np.where(np.eye(6) > 0, np.nan, 0.0), ["NaN or inf", "finite"]),
        (np.zeros((6, 6)), ["zero"]),
        (np.ones(6), ["2-D matrix"]),
    ],
    ids=["not-psd", "wrong-d", "not-square", "not-symmetric", "nan", "zero", "vector"],
)
def test_bad_covariance(cov, words):
    """A covariance that is not a finite symmetric PSD d x d matrix with positive trace is rejected
    with a message naming the problem."""
    B = np.random.default_rng(1).standard_normal((3, 6))
    msg = _msg(population_risk, B, cov=cov)
    for w in words:
        assert w in msg, (w, msg)


def test_unknown_activation_in_risk():
    msg = _msg(population_risk, np.eye(3), activation="softsign")
    assert "'softsign'" in msg and "sign, relu, erf, tanh, linear" in msg
