r"""Structured sources with i.i.d. coordinates of unit variance, and their scalar denoisers.

Laws (each coordinate x_i, E x_i = 0, E x_i^2 = 1):

* ``gaussian``               -- N(0, 1);
* ``bernoulli-gaussian:P``   -- x = b g, b ~ Bernoulli(P), g ~ N(0, 1/P);
* ``sparse-rademacher:P``    -- x = b e / sqrt(P), b ~ Bernoulli(P), e = +-1;
* ``uniform``                -- U(-sqrt 3, sqrt 3);
* ``laplace``                -- density exp(-|x|/s) / (2s), s = 1/sqrt 2.

For the scalar Gaussian channel y = x + sigma w (w ~ N(0, 1) independent of x), each law gives
its posterior mean (the MMSE denoiser) ``denoise(y, s2)`` = E[x | y], s2 = sigma^2, in closed
form (mixtures of Gaussians: Bayes' rule; uniform: a truncated normal; laplace: two
truncated normals), and ``mmse(s2)`` = E (x - E[x | y])^2 by adaptive quadrature
over y with the closed-form denoiser and the density of y; status: numerical, checked
against Monte Carlo in ``tests/test_structured.py``). For the Gaussian law mmse(s2) = s2 / (1 + s2).

The sign code spends one bit per neuron: ``sign(0) = +1`` here (a 1-bit code has no third
symbol). With the laws above, B x = 0 has probability 0 unless a row of B misses the support
of a sparse x, which happens for localised (identity-like) encoders only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

#: names of the laws, for specs and error messages.
LAWS = ("gaussian", "bernoulli-gaussian", "sparse-rademacher", "uniform", "laplace")

_SQRT3 = math.sqrt(3.0)
_LAPLACE_SCALE = 1.0 / math.sqrt(2.0)


def _mixture_mean(xp, y, s2, weights, variances, means=None):
    """E[x | y] for x a mixture of N(m_k, v_k) (weights p_k), y = x + N(0, s2): Bayes' rule in log space.

    ``xp`` is the array module (numpy or jax.numpy), so one formula serves both.
    """
    means = [0.0] * len(weights) if means is None else means
    logs, posts = [], []
    for p, v, m in zip(weights, variances, means):
        total = v + s2
        logs.append(math.log(p) - 0.5 * xp.log(total) - 0.5 * (y - m) ** 2 / total)
        posts.append(m + v / total * (y - m))  # E[x | y, component k]
    logs = xp.stack(logs)
    resp = xp.exp(logs - logs.max(axis=0))
    return xp.sum(resp * xp.stack(posts), axis=0) / xp.sum(resp, axis=0)


def _posterior_mean(law, y, s2, xp, log_ndtr):
    """E[x | y] for y = x + sqrt(s2) w (closed forms of :meth:`Law.denoise`), in array module ``xp``."""
    if law.name == "gaussian":
        return y / (1.0 + s2)
    if law.name == "bernoulli-gaussian":
        return _mixture_mean(xp, y, s2, [1 - law.p, law.p], [0.0, 1 / law.p]) if law.p < 1 else y / (1 + s2)
    if law.name == "sparse-rademacher":
        a = 1 / math.sqrt(law.p)
        if law.p >= 1:
            return a * xp.tanh(a * y / s2)
        return _mixture_mean(xp, y, s2, [1 - law.p, law.p / 2, law.p / 2], [0.0, 0.0, 0.0], [0.0, a, -a])
    sigma = xp.sqrt(s2)
    mills = lambda t: xp.exp(-0.5 * t * t - 0.5 * math.log(2 * math.pi) - log_ndtr(t))
    if law.name == "uniform":  # N(y, s2) truncated to [-sqrt3, sqrt3]; odd in y: computed at -|y|
        t = -xp.abs(y)
        alpha, beta = (-_SQRT3 - t) / sigma, (_SQRT3 - t) / sigma
        log_mass = log_ndtr(-alpha) + xp.log1p(-xp.exp(log_ndtr(-beta) - log_ndtr(-alpha)))
        log_phi = lambda u: -0.5 * u * u - 0.5 * math.log(2 * math.pi)
        m = t + sigma * (xp.exp(log_phi(alpha) - log_mass) - xp.exp(log_phi(beta) - log_mass))
        return xp.where(y > 0, -m, m)
    # laplace: two truncated normals N(y -+ s2/b, s2) on x > 0 and x < 0
    b = _LAPLACE_SCALE
    m_pos, m_neg = y - s2 / b, y + s2 / b
    log_pos = -y / b + log_ndtr(m_pos / sigma)
    log_neg = y / b + log_ndtr(-m_neg / sigma)
    mean_pos = m_pos + sigma * mills(m_pos / sigma)
    mean_neg = m_neg - sigma * mills(-m_neg / sigma)
    top = xp.maximum(log_pos, log_neg)
    w_pos, w_neg = xp.exp(log_pos - top), xp.exp(log_neg - top)
    return (w_pos * mean_pos + w_neg * mean_neg) / (w_pos + w_neg)


@dataclass(frozen=True)
class Law:
    """A law of i.i.d. unit-variance coordinates (see the module docstring); ``p`` the sparsity P.

    The constructor checks nothing; :func:`parse_law` and :func:`parse_source` build checked laws.

    Parameters
    ----------
    name : str
        One of :data:`LAWS`, in lower case.
    p : float
        The sparsity P in (0, 1] of ``bernoulli-gaussian`` and ``sparse-rademacher`` (default 1);
        the other laws ignore it, except that :meth:`mmse` sizes its integration range with it.

    Examples
    --------
    >>> Law("bernoulli-gaussian", 0.1).spec, Law("uniform").spec
    ('bernoulli-gaussian:0.1', 'uniform')
    """

    name: str
    p: float = 1.0

    @property
    def spec(self) -> str:
        """The law as a source spec: ``name:P`` (P formatted with ``:g``) for the sparse laws, else ``name``."""
        return f"{self.name}:{self.p:g}" if self.name in ("bernoulli-gaussian", "sparse-rademacher") else self.name

    @property
    def is_gaussian_mixture(self) -> bool:
        """x | support is Gaussian (Gaussian, Bernoulli-Gaussian): exact Gaussian risks per support apply."""
        return self.name in ("gaussian", "bernoulli-gaussian")

    # -- sampling
    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Float64 samples of the law.

        Parameters
        ----------
        rng : numpy.random.Generator
            The random generator.
        shape : int or tuple of int
            Shape of the output.

        Returns
        -------
        ndarray
            i.i.d. float64 samples, of the given shape.

        Examples
        --------
        >>> Law("sparse-rademacher", 0.25).sample(np.random.default_rng(0), (2, 3)).shape
        (2, 3)
        """
        if self.name == "gaussian":
            return rng.standard_normal(shape)
        if self.name == "bernoulli-gaussian":
            return (rng.random(shape) < self.p) * rng.standard_normal(shape) / math.sqrt(self.p)
        if self.name == "sparse-rademacher":
            signs = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
            return (rng.random(shape) < self.p) * signs / math.sqrt(self.p)
        if self.name == "uniform":
            return rng.uniform(-_SQRT3, _SQRT3, shape)
        return rng.laplace(0.0, _LAPLACE_SCALE, shape)

    def sample_jax(self, key, shape, dtype):
        """The same law in JAX (inside compiled training steps).

        Parameters
        ----------
        key : jax.Array
            A JAX PRNG key (split here into two).
        shape : tuple of int
            Shape of the output.
        dtype : str or dtype
            Floating dtype of the output.

        Returns
        -------
        jax.Array
            i.i.d. samples of the given shape and dtype.
        """
        import jax
        import jax.numpy as jnp

        k1, k2 = jax.random.split(key)
        if self.name == "gaussian":
            return jax.random.normal(k1, shape, dtype)
        if self.name == "bernoulli-gaussian":
            mask = jax.random.bernoulli(k1, self.p, shape)
            return jnp.where(mask, jax.random.normal(k2, shape, dtype) / math.sqrt(self.p), 0.0).astype(dtype)
        if self.name == "sparse-rademacher":
            u = jax.random.uniform(k1, shape, dtype)
            sign = jnp.where(jax.random.bernoulli(k2, 0.5, shape), 1.0, -1.0)
            return jnp.where(u < self.p, sign / math.sqrt(self.p), 0.0).astype(dtype)
        if self.name == "uniform":
            return jax.random.uniform(k1, shape, dtype, -_SQRT3, _SQRT3)
        return (jax.random.laplace(k1, shape, dtype) * _LAPLACE_SCALE).astype(dtype)

    # -- moments
    def abs_mean(self) -> float:
        """E|x|, for kappa_z = (E|z|)^2 / E z^2 of the non-zero part.

        Returns
        -------
        float
            sqrt(2/pi), sqrt(2P/pi), sqrt(P), sqrt(3)/2, 1/sqrt(2) for the laws of :data:`LAWS`, in order.

        Raises
        ------
        KeyError
            If ``name`` is not a law.

        Examples
        --------
        >>> Law("sparse-rademacher", 0.25).abs_mean()
        0.5
        """
        return {
            "gaussian": math.sqrt(2 / math.pi),
            "bernoulli-gaussian": math.sqrt(2 * self.p / math.pi),
            "sparse-rademacher": math.sqrt(self.p),
            "uniform": _SQRT3 / 2,
            "laplace": _LAPLACE_SCALE,
        }[self.name]

    def excess_kurtosis(self) -> float:
        """E x^4 - 3 (unit variance).

        Returns
        -------
        float
            0, 3/P - 3, 1/P - 3, -1.2, 3 for the laws of :data:`LAWS`, in order.

        Raises
        ------
        KeyError
            If ``name`` is not a law.

        Examples
        --------
        >>> Law("laplace").excess_kurtosis(), Law("sparse-rademacher", 0.5).excess_kurtosis()
        (3.0, -1.0)
        """
        return {
            "gaussian": 0.0,
            "bernoulli-gaussian": 3 / self.p - 3,
            "sparse-rademacher": 1 / self.p - 3,
            "uniform": -1.2,
            "laplace": 3.0,
        }[self.name]

    # -- the scalar channel y = x + sqrt(s2) w
    def denoise(self, y, s2: float) -> np.ndarray:
        """E[x | y] for y = x + sqrt(s2) w, w ~ N(0, 1): the MMSE (posterior-mean) denoiser, closed form.

        Proved (closed form; see theory/structured.md), checked against a brute-force posterior.

        Parameters
        ----------
        y : array_like
            Observations.
        s2 : float or array_like
            Noise variance sigma^2 > 0, or one per row (broadcast against ``y``; not checked).

        Returns
        -------
        ndarray
            The posterior mean, float64, the shape of ``y``.

        Examples
        --------
        >>> Law("gaussian").denoise([1.0, -2.0], 1.0).tolist()     # y / (1 + s2)
        [0.5, -1.0]
        """
        return _posterior_mean(self, np.asarray(y, dtype=np.float64), s2, np, special.log_ndtr)

    def denoise_jax(self, y, s2):
        """:meth:`denoise` in JAX (the same closed forms; differentiable in y and in s2).

        Parameters
        ----------
        y : jax.Array
            Observations.
        s2 : float or jax.Array
            Noise variance sigma^2 > 0 (a scalar; not checked).

        Returns
        -------
        jax.Array
            The posterior mean, the shape and dtype of ``y``.
        """
        import jax.numpy as jnp
        from jax.scipy.special import log_ndtr

        return _posterior_mean(self, y, s2, jnp, log_ndtr)

    def posterior_variance(self, y, s2: float) -> np.ndarray:
        """Var[x | y] = s2 d/dy E[x | y] (Tweedie), by a central difference of :meth:`denoise`.

        The step is 1e-4 sigma (relative error about 1e-8 of the derivative); exact for the
        Gaussian law, s2 / (1 + s2). Its mean over y ~ the law is :meth:`mmse`.

        Parameters
        ----------
        y : array_like
            Observations.
        s2 : float or array_like
            Noise variance sigma^2 > 0, or one per row (broadcast against ``y``; not checked).

        Returns
        -------
        ndarray
            Var[x | y] >= 0, float64, the shape of ``y``.

        Examples
        --------
        >>> round(float(Law("gaussian").posterior_variance(0.3, 0.5)), 12)     # s2 / (1 + s2)
        0.333333333333
        """
        y = np.asarray(y, dtype=np.float64)
        if self.name == "gaussian":
            return np.full(y.shape, s2 / (1.0 + s2))
        h = 1e-4 * np.sqrt(s2)
        slope = (self.denoise(y + h, s2) - self.denoise(y - h, s2)) / (2 * h)
        return np.maximum(s2 * slope, 0.0)

    def density(self, y, s2: float) -> np.ndarray:
        """p(y), the density of y = x + sqrt(s2) w.

        Parameters
        ----------
        y : array_like
            Points at which to evaluate the density.
        s2 : float
            Noise variance sigma^2 > 0 (not checked).

        Returns
        -------
        ndarray
            float64, the shape of ``y``.

        Examples
        --------
        >>> round(float(Law("gaussian").density(0.0, 1.0)), 6)    # N(0, 2) at 0: 1 / sqrt(4 pi)
        0.282095
        """
        y = np.asarray(y, dtype=np.float64)
        sigma = math.sqrt(s2)
        normal = lambda u, v: np.exp(-0.5 * u * u / v) / math.sqrt(2 * math.pi * v)
        if self.name == "gaussian":
            return normal(y, 1 + s2)
        if self.name == "bernoulli-gaussian":
            return (1 - self.p) * normal(y, s2) + self.p * normal(y, 1 / self.p + s2)
        if self.name == "sparse-rademacher":
            a = 1 / math.sqrt(self.p)
            return (1 - self.p) * normal(y, s2) + self.p / 2 * (normal(y - a, s2) + normal(y + a, s2))
        if self.name == "uniform":
            return (special.ndtr((_SQRT3 - y) / sigma) - special.ndtr((-_SQRT3 - y) / sigma)) / (2 * _SQRT3)
        b = _LAPLACE_SCALE  # sum of the two pieces of the posterior's normaliser
        pos = np.exp(-y / b + s2 / (2 * b * b) + special.log_ndtr((y - s2 / b) / sigma))
        neg = np.exp(y / b + s2 / (2 * b * b) + special.log_ndtr(-(y + s2 / b) / sigma))
        return (pos + neg) / (2 * b)

    def mmse(self, s2: float) -> float:
        """E (x - E[x | y])^2 = 1 - int E[x | y]^2 p(y) dy for y = x + sqrt(s2) w (numerical: adaptive
        quadrature over y with the closed-form denoiser and density; checked against Monte Carlo).

        Parameters
        ----------
        s2 : float
            Noise variance sigma^2.

        Returns
        -------
        float
            The mmse, in [0, 1]; 0.0 for s2 <= 0, s2 / (1 + s2) exactly for the Gaussian law.

        Examples
        --------
        >>> round(Law("gaussian").mmse(0.5), 10)    # s2 / (1 + s2)
        0.3333333333
        """
        from scipy import integrate

        if s2 <= 0:
            return 0.0
        if self.name == "gaussian":
            return s2 / (1 + s2)
        width = 12 * math.sqrt(1 / min(self.p, 1.0) + s2)
        f = lambda y: float(self.denoise(y, s2) ** 2 * self.density(y, s2))
        a, sigma = 1 / math.sqrt(self.p), math.sqrt(s2)  # the atom of sparse-rademacher, and its width:
        spike = (a - 8 * sigma, a + 8 * sigma) if self.name == "sparse-rademacher" else ()  # quad must see it
        breaks = sorted({0.0, *(c for c in (a, 3 * sigma, _SQRT3, *spike) if 0 < c < width)})
        edges = [0.0, *[c for c in breaks if c > 0], width]
        with warnings.catch_warnings():  # roundoff warnings at the 1e-13 target: the result is still ~1e-12
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            second = sum(integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
                         for lo, hi in zip(edges, edges[1:]))
        return float(max(0.0, 1.0 - 2.0 * second))  # the integrand is even in y


def parse_law(text: str) -> Law | None:
    """``bernoulli-gaussian:0.1`` -> Law; None when ``text`` is not a structured-source spec.

    Parameters
    ----------
    text : str
        ``LAW`` or ``LAW:P`` (any case, surrounding spaces ignored); anything after P, or after the
        name of a law without P, is ignored here (:func:`parse_source` checks it).

    Returns
    -------
    Law or None
        None when ``text`` is not a string, names no law of :data:`LAWS`, or is ``gaussian``.

    Raises
    ------
    ValueError
        A structured law with a bad sparsity (P must be in (0, 1]).

    Examples
    --------
    >>> parse_law("Sparse-Rademacher:0.5"), parse_law("gaussian")
    (Law(name='sparse-rademacher', p=0.5), None)
    """
    if not isinstance(text, str):
        return None
    kind, _, arg = text.strip().lower().partition(":")
    if kind not in LAWS or kind == "gaussian":
        return None
    if kind in ("bernoulli-gaussian", "sparse-rademacher"):
        try:
            p = float(arg.split(":")[0])
        except ValueError:
            p = float("nan")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"{kind}:P needs a sparsity P in (0, 1], got {arg.split(':')[0]!r} in {text!r}")
        return Law(kind, p)
    return Law(kind)


#: spec forms of the structured sources, for help texts.
SOURCE_FORMS = "bernoulli-gaussian:P, sparse-rademacher:P, uniform, laplace (each optionally :rotated)"


def parse_source(text) -> tuple[Law, bool] | None:
    """``bernoulli-gaussian:0.1[:rotated]`` -> (Law, rotated); None when ``text`` names no structured law.

    Parameters
    ----------
    text : str
        A source spec (any case; spaces around the ``:``-separated parts ignored).

    Returns
    -------
    (Law, bool) or None
        The law and whether the spec ends in ``:rotated``; None when ``text`` is not a string, names
        no law of :data:`LAWS`, or is ``gaussian``.

    Raises
    ------
    ValueError
        A structured law with a bad argument (P must be in (0, 1]; only ``:rotated`` may follow).

    Examples
    --------
    >>> parse_source("bernoulli-gaussian:0.1:rotated")
    (Law(name='bernoulli-gaussian', p=0.1), True)
    >>> parse_source("digits") is None
    True
    """
    if not isinstance(text, str):
        return None
    parts = [part.strip() for part in text.strip().lower().split(":")]
    if parts[0] not in LAWS or parts[0] == "gaussian":
        return None
    rotated = len(parts) > 1 and parts[-1] == "rotated"
    args = parts[1:-1] if rotated else parts[1:]
    sparse = parts[0] in ("bernoulli-gaussian", "sparse-rademacher")
    if len(args) != (1 if sparse else 0):
        form = f"{parts[0]}:P[:rotated]" if sparse else f"{parts[0]}[:rotated]"
        raise ValueError(f"structured source {text!r}: expected {form}")
    return (parse_law(":".join(parts[:2]) if sparse else parts[0]), rotated)


def haar_rotation(d: int, seed) -> np.ndarray:
    """A Haar-random d x d orthogonal matrix from ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    d : int
        The dimension.
    seed : int, sequence of int or None
        Anything ``numpy.random.default_rng`` accepts.

    Returns
    -------
    ndarray
        Q of the QR decomposition of a d x d standard Gaussian matrix, columns signed by diag(R) (float64).

    Examples
    --------
    >>> Q = haar_rotation(3, 0)
    >>> bool(np.allclose(Q @ Q.T, np.eye(3)))
    True
    """
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def effective_noise(linear_risk: float) -> float:
    r"""sigma^2 = R / (1 - R) of the effective scalar channel of a linear reconstruction with risk R.

    For a delocalised encoder each coordinate of the best linear reconstruction behaves as
    mu (x_i + sigma w), w ~ N(0, 1) independent of x_i, mu = 1 - R (derived, see
    theory/structured.md; exact for a Gaussian source, a CLT approximation otherwise).

    Parameters
    ----------
    linear_risk : float
        The normalised risk R of the linear reconstruction (R < 1; not checked).

    Returns
    -------
    float
        R / (1 - R).

    Examples
    --------
    >>> effective_noise(0.5)
    1.0
    """
    return linear_risk / (1.0 - linear_risk)


def denoiser_risk(law: Law, linear_risk: float) -> float:
    """Predicted risk of linear decoder + scalar MMSE denoiser: mmse of the law at sigma^2 = R / (1 - R).

    For the Gaussian law it gives back ``linear_risk`` (no gain). The channel is derived and the
    mmse numerical (theory/structured.md); with R the Gaussian value of the linear decoder [1]_, this
    is the prediction for the linear decoder followed by the law's denoiser.

    Parameters
    ----------
    law : Law
        The coordinate law.
    linear_risk : float
        The normalised risk R of the linear reconstruction (R < 1; not checked).

    Returns
    -------
    float
        ``law.mmse(effective_noise(linear_risk))``.

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.

    Examples
    --------
    >>> round(denoiser_risk(Law("gaussian"), 0.3), 12)
    0.3
    """
    return law.mmse(effective_noise(linear_risk))


#: quadrature orders of :func:`finite_d_channel`: the norm, the coordinate, the channel noise.
_NORM_NODES, _COORD_NODES, _NOISE_NODES = 64, 96, 96


def _coordinate_rule(law: Law, nodes: int = _COORD_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of E f(x) for x ~ ``law`` (weights sum to 1): Gauss rules per piece of the law.

    Gaussian pieces: Gauss-Hermite; atoms: themselves; uniform: Gauss-Legendre on [-sqrt 3, sqrt 3];
    Laplace: Gauss-Laguerre on each half-line.
    """
    from numpy.polynomial import hermite_e, laguerre, legendre

    def gauss(weight, var):
        t, w = hermite_e.hermegauss(nodes)
        return t * math.sqrt(var), weight * w / math.sqrt(2 * math.pi)

    pieces = []
    if law.name == "gaussian" or (law.name == "bernoulli-gaussian" and law.p >= 1):
        pieces.append(gauss(1.0, 1.0))
    elif law.name == "bernoulli-gaussian":
        pieces += [(np.zeros(1), np.array([1 - law.p])), gauss(law.p, 1 / law.p)]
    elif law.name == "sparse-rademacher":
        a = 1 / math.sqrt(law.p)
        pieces.append((np.array([0.0, a, -a]), np.array([1 - law.p, law.p / 2, law.p / 2])))
    elif law.name == "uniform":
        t, w = legendre.leggauss(nodes)
        pieces.append((_SQRT3 * t, w / 2))
    else:  # laplace: x = +-b t, t ~ Exp(1)
        t, w = laguerre.laggauss(nodes)
        pieces += [(_LAPLACE_SCALE * t, w / 2), (-_LAPLACE_SCALE * t, w / 2)]
    x = np.concatenate([p[0] for p in pieces])
    w = np.concatenate([p[1] for p in pieces])
    keep = w > 0
    return x[keep], w[keep]


def finite_d_channel(law: Law, d: int, direction_risk: float | None = None, *, linear_risk: float | None = None) -> dict:
    r"""The scalar channel of a 1-bit code at finite d, with the norm the code does not see.

    A sign code sees only the direction of x: sign(Bx) = sign(Bz) with z = x / nu, nu^2 = ||x||^2 / d.
    Model (derived, an approximation; theory/structured.md, "The channel at finite d"): the best
    linear reconstruction is x_hat_i = mu_z (z_i + sigma_z w_i), w ~ N(0, 1) independent of x,
    with (mu_z, sigma_z) those of a Gaussian source whose linear risk is ``direction_risk``:
    mu_z = (1 - R) / c_d, sigma_z^2 = c_d^2 / (1 - R) - 1, c_d = E nu for a Gaussian
    (= sqrt(2/d) Gamma((d + 1)/2) / Gamma(d/2)). For the law, nu^2 = (x_i^2 + S) / d with S the
    other d - 1 squares, taken as a Gamma variable of mean d - 1 and variance (d - 1)(E x^4 - 1)
    (exact for the Gaussian law). The channel as :func:`~twolayer.structured_run.effective_channel`
    fits it, and the risks of the linear decoder and of the law's denoiser on it, are then
    expectations over (x_i, S, w), computed by product Gauss rules:

        mu = mu_z E[x^2 / nu],   sigma^2 = mu_z^2 (E[x^2 / nu^2] + sigma_z^2) / mu^2 - 1,
        R_lin = mu_z^2 (E[x^2 / nu^2] + sigma_z^2) - 2 mu + 1,
        R_den = E (eta_{sigma^2}((mu_z / mu)(x / nu + sigma_z w)) - x)^2.

    As d -> infinity nu -> 1 and R_den -> mmse(R/(1 - R)) (the asymptotic prediction). The excess is
    of order Var(nu^2) = (E x^4 - 1)/d: 29/d for Bernoulli-Gaussian P = 0.1, large where the denoiser
    gains most (r >= 1). Where it breaks: localised encoders (the code then sees more than the
    direction's Gaussian-like projections) and the frame's own finite-d excess (the fourth moment of
    its rows, :func:`~twolayer.theory.structured.orthonormal_finite_d_risk`), which it leaves out.

    Parameters
    ----------
    law : Law
        The coordinate law.
    d : int
        The dimension (>= 2).
    direction_risk : float, optional
        R in (0, 1): the linear risk the encoder has on a Gaussian source (the Gaussian value
        ``min_risk(r)`` for the Gaussian-optimal encoder).
    linear_risk : float, optional
        Instead of ``direction_risk``: the linear risk the encoder reaches on this law (measured);
        R is then the solution of the quadratic R_lin(R) = ``linear_risk`` ("given the linear risk").

    Returns
    -------
    dict
        ``mu``, ``sigma2`` (the fitted channel), ``risk_linear``, ``risk_denoiser``, ``direction_risk``.

    Examples
    --------
    >>> ch = finite_d_channel(Law("gaussian"), 10**9, 0.5)      # d -> infinity: the asymptotic channel
    >>> round(ch["sigma2"], 6), round(ch["risk_denoiser"], 6)
    (1.0, 0.5)
    """
    from numpy.polynomial import hermite_e, legendre
    from scipy import stats

    if not (isinstance(d, (int, np.integer)) and d >= 2):
        raise ValueError(f"d: expected an integer >= 2, got {d!r}")
    if (direction_risk is None) == (linear_risk is None):
        raise ValueError("finite_d_channel: give exactly one of direction_risk and linear_risk")
    given = direction_risk if linear_risk is None else linear_risk
    if not 0.0 < given < 1.0:
        name = "direction_risk" if linear_risk is None else "linear_risk"
        raise ValueError(f"{name}: expected a risk in (0, 1), got {given!r}")
    c_d = math.exp(0.5 * math.log(2.0 / d) + special.gammaln((d + 1) / 2) - special.gammaln(d / 2))

    theta = 2.0 + law.excess_kurtosis()          # Var(x^2) = E x^4 - 1
    if theta > 1e-12:                            # S = theta t, t ~ Gamma(k): quantiles at Gauss-Legendre nodes
        u, wu = legendre.leggauss(_NORM_NODES)
        S = theta * stats.gamma.ppf((u + 1) / 2, (d - 1) / theta)
        wS = wu / 2
    else:                                        # x^2 = 1 a.s. (Rademacher): S = d - 1
        S, wS = np.array([d - 1.0]), np.array([1.0])
    x, wx = _coordinate_rule(law)
    nu = np.sqrt((x[:, None] ** 2 + S[None, :]) / d)              # (x nodes, S nodes)
    wxs = wx[:, None] * wS[None, :]
    e1 = float(np.sum(wxs * x[:, None] ** 2 / nu))               # E[x^2 / nu]
    e2 = float(np.sum(wxs * x[:, None] ** 2 / nu**2))            # E[x^2 / nu^2]
    # with a = (1 - R)/c_d: R_lin = a^2 (e2 - 1) + a (c_d - 2 e1) + 1, a quadratic in a
    if linear_risk is None:
        a = (1.0 - float(direction_risk)) / c_d
    else:
        qa, qb, qc = e2 - 1.0, c_d - 2.0 * e1, 1.0 - float(linear_risk)
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0:
            raise ValueError(f"linear_risk: {linear_risk!r} is below what the model reaches at d = {d}")
        a = 2.0 * qc / (-qb + math.sqrt(disc))                   # the root that tends to (1 - R)/(2 e1 - c_d)
    R = 1.0 - a * c_d
    if not 0.0 < R < 1.0:
        raise ValueError(f"linear_risk: {linear_risk!r} has no Gaussian-equivalent risk in (0, 1) at d = {d}")
    mu_z, s2_z = a, c_d * c_d / (1.0 - R) - 1.0
    mu = mu_z * e1
    second = mu_z * mu_z * (e2 + s2_z)                           # E x_hat^2
    sigma2 = second / (mu * mu) - 1.0
    t, wt = hermite_e.hermegauss(_NOISE_NODES)
    wt = wt / math.sqrt(2 * math.pi)
    y = (mu_z / mu) * ((x[:, None] / nu)[:, :, None] + math.sqrt(s2_z) * t[None, None, :])
    err = (law.denoise(y, sigma2) - x[:, None, None]) ** 2
    risk_denoiser = float(np.sum(wxs[:, :, None] * wt[None, None, :] * err))
    return {"mu": mu, "sigma2": sigma2, "risk_linear": second - 2 * mu + 1, "risk_denoiser": risk_denoiser,
            "direction_risk": R}
