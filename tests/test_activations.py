"""Verify the Gaussian moments and kernels of twolayer.activations against independent sources.

Independent references used here (none of them calls the formula under test):

* adaptive 1-D quadrature (scipy.integrate.quad, split at the kink z = 0);
* for the 2-D kernel, a conditional 1-D integral: given g1, z2 = a + b g2 is Gaussian and
  E sigma(a + b g2) has an elementary closed form for sign (erf), relu (a Phi + b phi),
  erf (erf(a / sqrt(1 + 2 b^2))) -- so E sigma(z1) sigma(z2) becomes one quad in g1;
* Monte Carlo with 10^6 samples, compared within 4 standard errors;
* polynomial activations, whose Gaussian moments are exact (Isserlis) and which the
  Gauss-Hermite rule integrates exactly: a check of the generic quadrature machinery.
"""

from __future__ import annotations

import functools
import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

import twolayer
from twolayer.activations import Custom, Erf, Linear, ReLU, Sign, Tanh, get_activation
from twolayer.theory import linearised_constant

PHI = stats.norm.pdf
CDF = stats.norm.cdf
CLOSED_FORM = {"sign": Sign(), "relu": ReLU(), "erf": Erf(), "linear": Linear()}
NUMPY_FN = {
    "sign": np.sign,
    "relu": lambda z: np.maximum(z, 0.0),
    "erf": special.erf,
    "tanh": np.tanh,
    "linear": lambda z: z,
}


def expect(f, lim=14.0):
    """E f(g), g ~ N(0, 1), by adaptive quadrature split at 0 (where sign/relu have kinks)."""
    opts = dict(epsabs=1e-14, epsrel=1e-12, limit=500)
    left = integrate.quad(lambda g: f(g) * PHI(g), -lim, 0.0, **opts)[0]
    right = integrate.quad(lambda g: f(g) * PHI(g), 0.0, lim, **opts)[0]
    return left + right


# E sigma(a + b g) for g ~ N(0, 1), b > 0: elementary closed forms (not the kernels under test).
INNER = {
    "sign": lambda a, b: special.erf(a / (b * math.sqrt(2.0))),
    "relu": lambda a, b: a * CDF(a / b) + b * PHI(a / b),
    "erf": lambda a, b: special.erf(a / math.sqrt(1.0 + 2.0 * b * b)),
    "linear": lambda a, b: a,
}


@functools.lru_cache(maxsize=1)
def _legendre_rule(nodes=400, half_width=14.0):
    """Gauss-Legendre nodes/weights for E f(g), g ~ N(0,1), truncated at +-14 (tail < 1e-40)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    return half_width * x, half_width * w * PHI(half_width * x)


def conditional_kernel(name, s1, s2, rho):
    """E sigma(s1 g1) sigma(s2 (rho g1 + sqrt(1 - rho^2) g2)) as a 1-D integral over g1."""
    fn, b = NUMPY_FN[name], s2 * math.sqrt(1.0 - rho * rho)
    if name == "tanh":  # no closed inner expectation: 2-D Gauss-Legendre (smooth integrand)
        x, w = _legendre_rule()
        inner = np.tanh(s2 * rho * x[:, None] + b * x[None, :]) @ w
        return float(np.sum(w * np.tanh(s1 * x) * inner))
    inner = lambda g1: INNER[name](s2 * rho * g1, b)
    return expect(lambda g1: fn(s1 * g1) * inner(g1))


def moments_by_quad(name, s):
    fn = NUMPY_FN[name]
    return (
        expect(lambda g: fn(s * g)),
        expect(lambda g: g * fn(s * g)),
        expect(lambda g: fn(s * g) ** 2),
    )


def library_moments(act, s):
    return float(act.mean(s)), float(act.gauss_moment(s)), float(act.second_moment(s))


# ----------------------------------------------------------------------------- 1-D moments
@pytest.mark.parametrize("name", ["sign", "relu", "erf", "linear"])
@pytest.mark.parametrize("s", [0.05, 0.5, 1.0, 2.5, 7.0])
def test_closed_form_moments_match_quadrature(name, s):
    """E sigma(s g), E g sigma(s g) (Stein: s E sigma'(s g)) and E sigma(s g)^2 in closed form:
    sign 0, sqrt(2/pi), 1; relu s/sqrt(2 pi), s/2, s^2/2; erf 0, 2s/sqrt(pi(1+2s^2)),
    (2/pi) arcsin(2s^2/(1+2s^2)); linear 0, s, s^2 -- against adaptive quadrature."""
    got = library_moments(CLOSED_FORM[name], s)
    want = moments_by_quad(name, s)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("s", [0.1, 0.5, 1.0])
def test_tanh_quadrature_moments_match_adaptive_quadrature(s):
    """Gauss-Hermite moments of tanh(s g) equal adaptive quadrature for pre-activation scales s <= 1
    (the rule is accurate there: error <= 1e-7, measured 6e-8 at s = 1)."""
    np.testing.assert_allclose(library_moments(Tanh(), s), moments_by_quad("tanh", s), rtol=0, atol=1e-7)


@pytest.mark.parametrize("s", [2.0, 3.0])
def test_tanh_quadrature_accurate_at_moderate_scale(s):
    """Module docstring of twolayer.activations: Gauss-Hermite moments are 'accurate to ~1e-10 for
    smooth activations at moderate scales, less for very steep ones (scale >> 10)'.

    Regression test (this failed with a fixed 48-node rule: E tanh(s g)^2 was off by 4.0e-4 at
    s = 2 and 5.8e-3 at s = 3, because tanh(s g) is analytic only in a strip of half-width
    pi/(2s)). The NumPy rule now uses ceil(48 max(1, s)^2) nodes (~1e-7 here). Scale 2-3 is what
    a row of B with N(0,1) entries gives at d ~ 10 (see
    test_theory_risk.py::test_tanh_exact_risk_matches_monte_carlo_at_scale_2_to_3).
    """
    np.testing.assert_allclose(library_moments(Tanh(), s), moments_by_quad("tanh", s), rtol=0, atol=1e-6)


# ------------------------------------------------------------------- 2-D kernels, exact refs
RHOS = [-0.9999, -0.999, -0.9, -0.5, 0.0, 0.3, 0.7, 0.99, 0.9999]


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("s1, s2", [(1.0, 1.0), (0.2, 5.0)])
def test_sign_kernel_is_sheppard(s1, s2, rho):
    """Sheppard's formula E sign(z1) sign(z2) = (2/pi) arcsin(rho), for any variances,
    against the conditional integral E_g1[sign(g1) erf(rho g1 / sqrt(2(1 - rho^2)))]."""
    got = float(Sign().kernel(s1, s2, rho))
    assert got == pytest.approx(conditional_kernel("sign", s1, s2, rho), abs=1e-9)


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("s1, s2", [(1.0, 1.0), (0.7, 2.0), (3.0, 0.1)])
def test_relu_kernel_is_arc_cosine(s1, s2, rho):
    """Arc-cosine kernel of order 1 (Cho & Saul): E relu(z1) relu(z2) =
    s1 s2 / (2 pi) (sqrt(1 - rho^2) + (pi - arccos rho) rho), against the conditional integral
    with E relu(a + b g) = a Phi(a/b) + b phi(a/b)."""
    got = float(ReLU().kernel(s1, s2, rho))
    assert got == pytest.approx(conditional_kernel("relu", s1, s2, rho), rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("rho", [-1.0, -0.999999, -0.5, 0.0, 0.7, 0.999999, 1.0])
def test_relu_kernel_derivative_is_finite_up_to_rho_one(rho):
    """Price's theorem: d/drho E relu(z1) relu(z2) = s1 s2 P(z1 > 0, z2 > 0)
    = s1 s2 (pi - arccos rho) / (2 pi) (Sheppard's orthant probability), finite on [-1, 1]:
    0 for antipodal rows, s1 s2 / 2 for parallel ones. The JAX derivative of the kernel equals it
    (plain autodiff of the formula gave inf - inf = NaN at rho = +-1 and made relu training at
    r = 2 diverge); in the interior it also equals central differences of the NumPy kernel."""
    s1, s2 = 0.7, 1.9
    got = float(jax.grad(lambda r: ReLU().kernel(s1, s2, r, jnp))(rho))
    assert got == pytest.approx(s1 * s2 * (np.pi - np.arccos(rho)) / (2 * np.pi), rel=1e-12, abs=1e-15)
    if abs(rho) < 0.99:
        h = 1e-6
        fd = (ReLU().kernel(s1, s2, rho + h) - ReLU().kernel(s1, s2, rho - h)) / (2 * h)
        assert got == pytest.approx(fd, rel=1e-8)


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("s1, s2", [(1.0, 1.0), (0.3, 2.0), (4.0, 4.0)])
def test_erf_kernel_is_williams(s1, s2, rho):
    """Williams (1997): E erf(z1) erf(z2) = (2/pi) arcsin(2 c12 / sqrt((1 + 2 c11)(1 + 2 c22))),
    against the conditional integral with E erf(a + b g) = erf(a / sqrt(1 + 2 b^2))."""
    got = float(Erf().kernel(s1, s2, rho))
    assert got == pytest.approx(conditional_kernel("erf", s1, s2, rho), rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("s1, s2, rho", [(0.5, 1.0, 0.6), (1.0, 0.3, -0.95), (0.8, 0.8, 0.999)])
def test_tanh_kernel_matches_gauss_legendre(s1, s2, rho):
    """Tensor Gauss-Hermite kernel of tanh equals a 400 x 400 Gauss-Legendre rule on [-14, 14]^2
    (a different rule, accurate to ~1e-13 here) at scales <= 1."""
    got = float(Tanh().kernel(s1, s2, rho))
    assert got == pytest.approx(conditional_kernel("tanh", s1, s2, rho), abs=1e-7)


POLYNOMIALS = {
    # sigma, (mean, gauss_moment, second_moment) as functions of s, kernel(s1, s2, rho) by Isserlis
    "cube": (
        lambda z: z**3,
        lambda s: (0.0, 3 * s**3, 15 * s**6),
        lambda s1, s2, r: s1**3 * s2**3 * (9 * r + 6 * r**3),
    ),
    "square_plus_z": (
        lambda z: z**2 + z,
        lambda s: (s**2, s, 3 * s**4 + s**2),
        lambda s1, s2, r: s1**2 * s2**2 * (1 + 2 * r**2) + s1 * s2 * r,
    ),
}


@pytest.mark.parametrize("poly", sorted(POLYNOMIALS))
@pytest.mark.parametrize("s1, s2, rho", [(1.0, 1.0, 0.4), (0.3, 2.0, -0.999), (1.7, 0.6, 0.9999)])
def test_custom_quadrature_exact_for_polynomials(poly, s1, s2, rho):
    """Isserlis: E z^3 = 0, E g (s g)^3 = 3 s^3, E z^6 = 15 s^6, E z1^3 z2^3 = s1^3 s2^3 (9 rho + 6 rho^3),
    E (z1^2 + z1)(z2^2 + z2) = s1^2 s2^2 (1 + 2 rho^2) + s1 s2 rho. The 48-node Hermite rule is exact
    for these degrees, so the generic Custom machinery (moments and tensor kernel with the
    sqrt(1 - rho^2) completion and unequal scales) must reproduce them to rounding."""
    fn, moments, kernel = POLYNOMIALS[poly]
    act = Custom(fn)
    np.testing.assert_allclose(library_moments(act, s1), moments(s1), rtol=1e-10, atol=1e-12)
    assert float(act.kernel(s1, s2, rho)) == pytest.approx(kernel(s1, s2, rho), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("s, rho", [(0.2, 0.5), (0.7, -0.9), (1.0, 0.6), (1.0, 0.0)])
def test_custom_erf_quadrature_matches_erf_closed_form(s, rho):
    """The same function through two paths: Custom(scipy erf) by Gauss-Hermite vs the Erf closed
    forms (Williams), at scales <= 1 where the rule is accurate."""
    custom, closed = Custom(special.erf), Erf()
    np.testing.assert_allclose(library_moments(custom, s), library_moments(closed, s), rtol=0, atol=1e-9)
    assert float(custom.kernel(s, 0.5 * s, rho)) == pytest.approx(float(closed.kernel(s, 0.5 * s, rho)), abs=1e-8)


# -------------------------------------------------------------------------------- Monte Carlo
MC_CONFIGS = [  # (s1, s2, rho): scales, unequal variances, correlations near +-1
    (1.0, 1.0, 0.5),
    (0.3, 2.0, -0.7),
    (2.0, 0.5, 0.999),
    (3.0, 3.0, -0.999),
    (0.1, 1.0, 0.2),
]
TANH_CONFIGS = [(1.0, 1.0, 0.5), (0.3, 1.0, -0.7), (1.0, 0.5, 0.999), (0.8, 0.8, -0.999)]
MC_CASES = [(name, cfg) for name in ("sign", "relu", "erf") for cfg in MC_CONFIGS] + [
    ("tanh", cfg) for cfg in TANH_CONFIGS
]


@pytest.mark.parametrize("name, cfg", MC_CASES, ids=[f"{n}-{c}" for n, c in MC_CASES])
def test_moments_and_kernel_match_monte_carlo(name, cfg, mc_mean):
    """E sigma(z1), E g1 sigma(z1), E sigma(z1)^2 and E sigma(z1) sigma(z2) for (z1, z2) jointly
    Gaussian (stds s1, s2, correlation rho): library values within 4 standard errors of a
    10^6-sample Monte Carlo (tanh only at scales <= 1, see the quadrature-accuracy test)."""
    s1, s2, rho = cfg
    fn, act = NUMPY_FN[name], get_activation(name)

    def sample(rng, size):
        g1, g2 = rng.standard_normal((2, size))
        a = fn(s1 * g1)
        b = fn(s2 * (rho * g1 + math.sqrt(1.0 - rho * rho) * g2))
        return np.stack([a, g1 * a, a * a, a * b], axis=1)

    seed = zlib.crc32(repr((name, cfg)).encode())  # fixed per case (hash() is salted per process)
    mean, se = mc_mean(sample, 1_000_000, seed=seed)
    want = np.array([*library_moments(act, s1), float(act.kernel(s1, s2, rho))])
    se = np.maximum(se, 1e-15)  # sign^2 = 1 has zero variance
    assert np.all(np.abs(want - mean) <= 4.0 * se), (want, mean, (want - mean) / se)


# ----------------------------------------------------------------------------- kernel matrix
def _test_K(seed=0, n=6):
    """A PSD matrix with unequal variances and one pair of rows at correlation 0.9999."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n + 2)) * rng.uniform(0.3, 1.0, (n, 1))
    X[1] = 0.7 * X[0] + 0.01 * np.linalg.norm(X[0]) * rng.standard_normal(n + 2) / math.sqrt(n + 2)
    return X @ X.T


ALL_ACTS = [Sign(), ReLU(), Erf(), Tanh(), Linear(), Custom(special.erf), Custom(lambda z: z**3)]


@pytest.mark.parametrize("act", ALL_ACTS, ids=lambda a: a.name)
def test_kernel_matrix_diagonal_and_entries(act):
    """kernel_matrix(K) = E sigma(z) sigma(z)^T for z ~ N(0, K): diagonal = second_moment(sqrt K_ii),
    off-diagonal = kernel(s_i, s_j, rho_ij), symmetric and positive semi-definite (a Gram matrix);
    for linear it is K itself. Quadrature activations at variances <= 1 (where the rule is accurate:
    at s ~ 1.8 the tanh tensor rule is asymmetric by 1.3e-5, a symptom of the accuracy bug above)."""
    K = _test_K()
    if act.method == "quadrature":
        K = K / np.max(np.diag(K))
    M = act.kernel_matrix(K)
    s = np.sqrt(np.diag(K))
    np.testing.assert_allclose(np.diag(M), act.second_moment(s), rtol=1e-13)
    i, j = np.triu_indices(K.shape[0], 1)
    rho = K[i, j] / (s[i] * s[j])
    expected = act.kernel(s[i], s[j], rho)
    if act.method == "quadrature":  # kernel_matrix symmetrises the tensor rule over the order of (z1, z2)
        expected = 0.5 * (expected + act.kernel(s[j], s[i], rho))
    np.testing.assert_allclose(M[i, j], expected, rtol=1e-12, atol=1e-14)
    # the tensor rule is not exactly symmetric in (s1, s2); its asymmetry is within its accuracy
    np.testing.assert_allclose(M, M.T, rtol=0, atol=1e-7 if act.method == "quadrature" else 1e-14)
    assert np.linalg.eigvalsh(M)[0] >= -1e-10 * np.abs(M).max()
    if act.name == "linear":
        np.testing.assert_allclose(M, K, rtol=1e-12)


def test_quadrature_kernel_matrix_is_symmetric():
    """E sigma(z) sigma(z)^T is exactly symmetric, and the risk code relies on it (scipy's Cholesky
    reads one triangle of M, the quadratic form all of it).

    Regression test: the tensor Gauss-Hermite rule of Activation.kernel treats z1 and z2
    differently (outer node on z1, sqrt(1 - rho^2) completion on z2), and before kernel_matrix
    returned 0.5 (M + M^T) the asymmetry reached 1.3e-5 for tanh with variances up to 1.8^2
    (this K)."""
    M = Tanh().kernel_matrix(_test_K())
    np.testing.assert_allclose(M, M.T, rtol=0, atol=1e-10)


def test_sign_kernel_matrix_with_duplicate_rows():
    """Two identical rows (rho = 1 exactly off the diagonal) and opposite rows (rho = -1):
    sign(z1) sign(z2) = +-1, so those kernel entries are +-1; nothing is NaN."""
    b = np.array([[1.0, 2.0, 0.5], [1.0, 2.0, 0.5], [-2.0, -4.0, -1.0], [0.3, -1.0, 2.0]])
    M = Sign().kernel_matrix(b @ b.T)
    assert np.all(np.isfinite(M))
    assert M[0, 1] == pytest.approx(1.0) and M[0, 2] == pytest.approx(-1.0) and M[1, 2] == pytest.approx(-1.0)


# ------------------------------------------------------------------------------ JAX vs NumPy
@pytest.mark.parametrize("name", ["sign", "relu", "erf", "tanh", "linear"])
def test_jax_and_numpy_paths_agree(name):
    """The same formulas under xp = jax.numpy (float64) give the NumPy values: moments at several
    scales and the kernel matrix with a near-collinear pair."""
    act = get_activation(name)
    # quadrature: NumPy adds nodes above scale 1 (accuracy), JAX keeps 48, so compare at s <= 1
    s = np.array([0.05, 0.5, 1.0] if act.method == "quadrature" else [0.05, 0.5, 1.0, 2.0])
    for method in ("mean", "gauss_moment", "second_moment"):
        got = np.asarray(getattr(act, method)(jnp.asarray(s), xp=jnp))
        np.testing.assert_allclose(got, getattr(act, method)(s), rtol=1e-12, atol=1e-15)
    K = _test_K(1)
    if act.method == "quadrature":
        K = K / np.max(np.diag(K))
    got = np.asarray(act.kernel_matrix(jnp.asarray(K), xp=jnp))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, act.kernel_matrix(K), rtol=1e-12, atol=1e-14)


def test_jax_gradient_of_sign_kernel_matrix_is_finite_and_correct():
    """d/dK of sum(W * M(K)) for sign (M = (2/pi) arcsin(rho)): finite although rho_ii = 1
    (arcsin'(1) is infinite -- the diagonal is set directly) and equal to central finite
    differences of the NumPy kernel matrix along random symmetric directions."""
    K = _test_K(2)
    W = np.random.default_rng(3).standard_normal(K.shape)
    f_np = lambda K_: float(np.sum(W * Sign().kernel_matrix(K_)))
    grad = np.asarray(jax.grad(lambda K_: jnp.sum(W * Sign().kernel_matrix(K_, xp=jnp)))(jnp.asarray(K)))
    assert np.all(np.isfinite(grad))
    rng = np.random.default_rng(4)
    central = lambda E, h: (f_np(K + h * E) - f_np(K - h * E)) / (2 * h)
    for _ in range(3):
        E = rng.standard_normal(K.shape)
        E = 0.5 * (E + E.T)
        fd = (4 * central(E, 5e-7) - central(E, 1e-6)) / 3  # Richardson: the rho = 0.9999 pair is stiff
        assert np.sum(grad * E) == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ---------------------------------------------------------------------- linearised constants
def c_by_quad(name, s):
    mean, lin, second = moments_by_quad(name, s)
    return (second - mean**2 - lin**2) / lin**2


@pytest.mark.parametrize(
    "name, exact", [("sign", math.pi / 2 - 1), ("relu", 1 - 2 / math.pi), ("linear", 0.0)]
)
def test_linearised_constant_homogeneous(name, exact):
    """c = (E sigma^2 - (E sigma)^2 - (E g sigma)^2) / (E g sigma)^2: pi/2 - 1 for sign, 1 - 2/pi for
    relu, 0 for linear, the same at every scale (homogeneous) -- and equal to the quadrature value."""
    act = get_activation(name)
    for s in (0.3, 1.0, 4.0):
        assert act.linearised_constant(s) == pytest.approx(exact, abs=1e-12)
        assert c_by_quad(name, s) == pytest.approx(exact, abs=1e-9)
    assert linearised_constant(name) == pytest.approx(exact, abs=1e-12)
    assert twolayer.theory.SIGN_C == pytest.approx(math.pi / 2 - 1, abs=1e-15)


@pytest.mark.parametrize("name", ["erf", "tanh"])
def test_linearised_constant_smooth_is_infimum_over_scale(name):
    """For erf and tanh, c(s) (checked against quadrature) grows with s and its infimum is the
    linear regime s -> 0, c* = 0; linearised_constant returns that infimum."""
    act = get_activation(name)
    values = []
    for s in (0.25, 0.5, 1.0):
        c = act.linearised_constant(s)
        assert c == pytest.approx(c_by_quad(name, s), rel=1e-5, abs=1e-9)  # tanh rule: 6e-8 at s = 1
        values.append(c)
    assert values[0] < values[1] < values[2]
    c_star = linearised_constant(name)
    assert 0.0 <= c_star < 1e-6 and c_star <= min(values)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("spec", ["softplus", "", "sigmoid"])
def test_unknown_activation_name(spec):
    """An unknown name raises ValueError naming it and listing the accepted ones."""
    with pytest.raises(ValueError) as info:
        get_activation(spec)
    msg = str(info.value)
    assert repr(spec) in msg and "accepted" in msg
    for known in ("sign", "relu", "erf", "tanh", "linear", "callable"):
        assert known in msg


def test_non_callable_activation():
    with pytest.raises(ValueError, match="callable") as info:
        get_activation(3.5)
    assert "sign" in str(info.value) and "3.5" in str(info.value)


def test_get_activation_resolves_names_and_callables():
    assert isinstance(get_activation(" ReLU "), ReLU)
    act = Sign()
    assert get_activation(act) is act
    custom = get_activation(np.tanh)
    assert isinstance(custom, Custom) and custom.name == "tanh"
