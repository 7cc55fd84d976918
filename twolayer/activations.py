r"""Gaussian moments and kernels of activation functions.

For a pre-activation z = s g with g ~ N(0, 1) each activation provides

* ``mean(s)``          = E sigma(s g)
* ``gauss_moment(s)``  = E[g sigma(s g)]           (Stein: = s E sigma'(s g))
* ``second_moment(s)`` = E sigma(s g)^2
* ``kernel(s1, s2, rho)`` = E[sigma(z1) sigma(z2)] for (z1, z2) jointly Gaussian with
  standard deviations s1, s2 and correlation |rho| < 1 (off-diagonal entries);
* ``kernel_matrix(K)`` = E[sigma(z) sigma(z)^T] for z ~ N(0, K), with the diagonal
  taken from ``second_moment`` so that no derivative is ever evaluated at rho = 1.

Closed forms (each is a classical Gaussian integral, proved):

* sign:   E sign(z1) sign(z2) = (2/pi) arcsin(rho)                    (Sheppard 1899)
* relu:   s1 s2 / (2 pi) * (sqrt(1 - rho^2) + (pi - arccos rho) rho)   (arc-cosine kernel
  of order 1, Cho & Saul 2009)
* erf:    (2/pi) arcsin(2 c12 / sqrt((1 + 2 c11)(1 + 2 c22)))         (Williams 1997)
* linear: c12
* tanh and any user callable: Gauss-Hermite quadrature (numerical). The error of an
  N-node rule for tanh(s g) grows with the scale s (the poles of tanh at i pi/(2s) approach
  the real axis): with N = 48, 6e-8 at s = 1, 4e-4 at s = 2, 6e-3 at s = 3. The NumPy path
  therefore takes N = ceil(48 max(1, s_max)^2) nodes (capped at ``MAX_QUADRATURE_NODES``),
  which keeps the error near 1e-7 up to s ~ 3; the JAX path (traced, scales unknown) uses
  ``QUADRATURE_NODES`` = 48, accurate for the O(1) pre-activations of training.

All functions take an array namespace ``xp`` (``numpy`` by default, ``jax.numpy`` for the
differentiable risk), so that one formula serves both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

QUADRATURE_NODES = 48
MAX_QUADRATURE_NODES = 512


@functools.lru_cache(maxsize=16)
def hermite_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for E f(g), g ~ N(0, 1) (probabilists' rule).

    Parameters
    ----------
    nodes : int
        Number of nodes N (the rule is exact for polynomials of degree < 2N).

    Returns
    -------
    x, w : ndarray
        Nodes and weights, with sum_k w_k f(x_k) ~ E f(g) (the weights sum to 1).

    Examples
    --------
    >>> x, w = hermite_rule(8)
    >>> round(float(w @ x**2), 6)  # E g^2
    1.0
    """
    from scipy.special import roots_hermitenorm  # stable for hundreds of nodes

    x, w = roots_hermitenorm(nodes)
    return x, w / math.sqrt(2.0 * math.pi)


@functools.lru_cache(maxsize=1)
def _half_line_rule(nodes: int = 96, end: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes g_k in (0, end) and weights w_k phi(g_k): sum_k w_k f(g_k) ~ int_0^inf f phi dg."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    g = (x + 1.0) * end / 2.0
    return g, w * end / 2.0 * np.exp(-g * g / 2.0) / math.sqrt(2.0 * math.pi)


def _half_line_expect(f, scale, xp=np):
    """E f(s g) = int_0^inf (f(s g) + f(-s g)) phi(g) dg by :func:`_half_line_rule` (f elementwise)."""
    g, w = _half_line_rule()
    s = xp.asarray(scale)[..., None]
    g, w = xp.asarray(g), xp.asarray(w)
    return xp.sum(w * (f(s * g) + f(-s * g)), axis=-1)


def nodes_for_scale(scale, xp=np) -> int:
    """N = ceil(48 max(1, s_max)^2) for concrete NumPy scales, 48 under JAX (see module doc).

    Parameters
    ----------
    scale : float or array
        Pre-activation scale(s) s; only max |s| matters.
    xp : module, optional
        Array namespace, ``numpy`` (default) or ``jax.numpy``.

    Returns
    -------
    int
        The number of quadrature nodes, at most :data:`MAX_QUADRATURE_NODES`.
    """
    if xp is not np:
        return QUADRATURE_NODES
    s_max = float(np.max(np.abs(scale))) if np.size(scale) else 1.0
    return int(min(MAX_QUADRATURE_NODES, math.ceil(QUADRATURE_NODES * max(1.0, s_max) ** 2)))


class Activation:
    """Base class: a pointwise activation with its Gaussian moments and kernel.

    Subclasses with closed forms override the moment methods; the defaults use
    Gauss-Hermite quadrature on :meth:`__call__`.

    Attributes
    ----------
    name : str
        Short name (``"sign"``, ``"relu"``, ...).
    homogeneous : bool
        True when sigma(s z) = s^k sigma(z) for s > 0.
    method : str
        ``"closed form"`` or ``"quadrature"``.
    """

    name: str = "activation"
    #: sigma(s z) = s^k sigma(z) for s > 0 (k = 0 for sign, 1 for relu and linear): the
    #: risk then ignores the row norms of the encoder.
    homogeneous: bool = False
    #: "closed form" or "quadrature": how the moments are computed.
    method: str = "quadrature"

    def __call__(self, z, xp=np):
        """sigma(z) elementwise, with the functions of the namespace ``xp``."""
        raise NotImplementedError

    # -- one-dimensional moments -------------------------------------------------------
    def _expect(self, f_of_g, xp=np, nodes: int = QUADRATURE_NODES):
        """E f(g) for g ~ N(0,1), f applied to the node array broadcast on a new last axis."""
        x, w = hermite_rule(nodes)
        return xp.sum(xp.asarray(w) * f_of_g(xp.asarray(x)), axis=-1)

    def mean(self, scale, xp=np):
        """E sigma(s g), g ~ N(0, 1).

        Parameters
        ----------
        scale : float or array
            Pre-activation standard deviation(s) s >= 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            One value per scale.
        """
        s = xp.asarray(scale)[..., None]
        return self._expect(lambda g: self(s * g, xp), xp, nodes_for_scale(scale, xp))

    def gauss_moment(self, scale, xp=np):
        """E[g sigma(s g)], g ~ N(0, 1) (= s E sigma'(s g) by Stein's lemma).

        Parameters
        ----------
        scale : float or array
            Pre-activation standard deviation(s) s >= 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            One value per scale.
        """
        s = xp.asarray(scale)[..., None]
        return self._expect(lambda g: g * self(s * g, xp), xp, nodes_for_scale(scale, xp))

    def second_moment(self, scale, xp=np):
        """E sigma(s g)^2, g ~ N(0, 1).

        Parameters
        ----------
        scale : float or array
            Pre-activation standard deviation(s) s >= 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            One value per scale.
        """
        s = xp.asarray(scale)[..., None]
        return self._expect(lambda g: self(s * g, xp) ** 2, xp, nodes_for_scale(scale, xp))

    # -- two-dimensional kernel ------------------------------------------------------
    def kernel(self, s1, s2, rho, xp=np):
        """E[sigma(s1 g1) sigma(s2 (rho g1 + sqrt(1-rho^2) g2))] by a tensor Gauss-Hermite rule.

        Parameters
        ----------
        s1, s2 : float or array
            Standard deviations of the two pre-activations (broadcast together).
        rho : float or array
            Their correlation, in [-1, 1].
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            E[sigma(z1) sigma(z2)], of the broadcast shape.
        """
        s1, s2, rho = (xp.asarray(a) for a in (s1, s2, rho))
        comp = xp.sqrt(xp.clip(1.0 - rho**2, 0.0, None))
        nodes = max(nodes_for_scale(s1, xp), nodes_for_scale(s2, xp))
        total = 0.0
        for xa, wa in zip(*hermite_rule(nodes)):  # outer node: keeps memory at O(size * Q)
            inner = self._expect(
                lambda g, xa=xa: self(s2[..., None] * (rho[..., None] * xa + comp[..., None] * g), xp), xp, nodes
            )
            total = total + wa * self(s1 * xa, xp) * inner
        return total

    def kernel_matrix(self, K, xp=np):
        """E[sigma(z) sigma(z)^T] for z ~ N(0, K); diagonal handled separately (safe at rho=1).

        Parameters
        ----------
        K : array
            n x n covariance of z (symmetric PSD).
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            n x n matrix M, with M_ii = E sigma(z_i)^2.
        """
        var = xp.diagonal(K)
        std = xp.sqrt(var)
        eye = xp.eye(K.shape[0], dtype=bool)
        denom = std[:, None] * std[None, :]
        safe = xp.where(eye | (denom <= 0), 1.0, denom)
        rho = xp.where(eye, 0.0, xp.clip(K / safe, -1.0, 1.0))
        off = self.kernel(std[:, None], std[None, :], rho, xp)
        if self.method == "quadrature":  # the tensor rule is not symmetric in (z1, z2)
            off = 0.5 * (off + off.T)
        return xp.where(eye, self.second_moment(std, xp)[:, None] * xp.ones_like(off), off)

    def code_coefficient(self, var, xp=np):
        """E[z sigma(z)] / Var z for z ~ N(0, var): the regression slope of sigma(z) on z.

        Parameters
        ----------
        var : array
            Variance(s) of z, > 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            One slope per variance.
        """
        std = xp.sqrt(var)
        return self.gauss_moment(std, xp) / std

    # -- penalty moments (regularised objectives; theory/regularised.md) ------------------
    def derivative(self, z, xp=np):
        """sigma'(z) elementwise (for the contractive penalty); ValueError where it is not defined here."""
        raise ValueError(f"activation {self.name!r} has no derivative here: the contractive penalty needs one of "
                         "linear, relu, erf, tanh")

    def abs_moment(self, scale, xp=np):
        """E|sigma(s g)|, g ~ N(0, 1) (the L1 penalty): by default 2M-node Gauss-Legendre on g in [0, 12] of
        |sigma(s g)| + |sigma(-s g)| (smooth on the half line wherever sigma is, unlike |sigma| on the line).

        Parameters
        ----------
        scale : float or array
            Pre-activation standard deviation(s) s >= 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            E|sigma(s g)|, shaped like ``scale``.
        """
        return _half_line_expect(lambda z: xp.abs(self(z, xp)), scale, xp)

    def derivative_moment(self, scale, xp=np):
        """E[sigma'(s g)^2], g ~ N(0, 1) (the contractive penalty); by default the half-line rule of
        :meth:`abs_moment` (Gauss-Hermite at 48 nodes was off by 4e-6 for tanh at s = 1).

        Parameters
        ----------
        scale : float or array
            Pre-activation standard deviation(s) s >= 0.
        xp : module, optional
            Array namespace, ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            E[sigma'(s g)^2], shaped like ``scale``.
        """
        return _half_line_expect(lambda z: self.derivative(z, xp) ** 2, scale, xp)

    def linearised_constant(self, scale=1.0) -> float:
        r"""c(s) = (E sigma^2 - (E sigma)^2 - (E g sigma)^2) / (E g sigma)^2 at pre-activation scale s.

        The part of sigma(s g) not explained linearly by g (minus its mean), relative to
        the linear part; c = pi/2 - 1 for sign, 1 - 2/pi for relu, 0 for linear.

        Parameters
        ----------
        scale : float, optional
            Pre-activation scale s (default 1.0).

        Returns
        -------
        float
            c(s) >= 0.

        Examples
        --------
        >>> round(get_activation("relu").linearised_constant(), 6)  # 1 - 2/pi
        0.36338
        """
        s = np.float64(scale)
        lin = float(self.gauss_moment(s)) ** 2
        return (float(self.second_moment(s)) - float(self.mean(s)) ** 2 - lin) / lin

    def __repr__(self) -> str:
        return f"<activation {self.name} ({self.method})>"


class Sign(Activation):
    """sigma(z) = sign(z): one bit per neuron. Kernel (2/pi) arcsin(rho), diagonal 1.

    References
    ----------
    .. [1] W. F. Sheppard, "On the application of the theory of error to cases of normal
       distribution and normal correlation", Phil. Trans. R. Soc. A 192 (1899).
    .. [2] J. H. Van Vleck and D. Middleton, "The spectrum of clipped noise", Proc. IEEE 54
       (1966) (the arcsine law of a 1943 report by Van Vleck).

    Examples
    --------
    >>> round(float(Sign().kernel(1.0, 1.0, 0.5)), 6)  # (2/pi) arcsin(1/2) = 1/3
    0.333333
    """

    name, homogeneous, method = "sign", True, "closed form"

    def __call__(self, z, xp=np):
        return xp.sign(z)

    def mean(self, scale, xp=np):
        return xp.zeros_like(xp.asarray(scale, dtype=float))

    def gauss_moment(self, scale, xp=np):
        return xp.sqrt(2.0 / xp.pi) * xp.ones_like(xp.asarray(scale, dtype=float))

    def second_moment(self, scale, xp=np):
        return xp.ones_like(xp.asarray(scale, dtype=float))

    def kernel(self, s1, s2, rho, xp=np):
        return (2.0 / xp.pi) * xp.arcsin(rho) * xp.ones_like(s1 * s2)

    def derivative(self, z, xp=np):
        raise ValueError("sign has sigma' = 0 almost everywhere: a contractive penalty on a sign code is 0 for "
                         "every encoder (use relu, erf, tanh or linear)")

    def abs_moment(self, scale, xp=np):  # |sign| = 1
        return xp.ones_like(xp.asarray(scale, dtype=float))


class ReLU(Activation):
    """sigma(z) = max(z, 0). First-order arc-cosine kernel; E[g relu(s g)] = s/2.

    References
    ----------
    .. [1] Y. Cho and L. K. Saul, "Kernel methods for deep learning", Advances in Neural
       Information Processing Systems 22 (2009).
    """

    name, homogeneous, method = "relu", True, "closed form"

    def __call__(self, z, xp=np):
        return xp.maximum(z, 0.0)

    def mean(self, scale, xp=np):
        return xp.asarray(scale) / xp.sqrt(2.0 * xp.pi)

    def gauss_moment(self, scale, xp=np):
        return xp.asarray(scale) / 2.0

    def second_moment(self, scale, xp=np):
        return xp.asarray(scale) ** 2 / 2.0

    def kernel(self, s1, s2, rho, xp=np):
        return s1 * s2 / (2.0 * xp.pi) * arccos_shape(rho, xp)

    def derivative(self, z, xp=np):
        return (z > 0).astype(z.dtype) if hasattr(z, "dtype") else float(z > 0)

    def abs_moment(self, scale, xp=np):  # E relu(s g) = s / sqrt(2 pi)
        return self.mean(scale, xp)

    def derivative_moment(self, scale, xp=np):  # P(g > 0)
        return 0.5 * xp.ones_like(xp.asarray(scale, dtype=float))


def arccos_shape(rho, xp=np):
    """J(rho) = sqrt(1 - rho^2) + (pi - arccos rho) rho, with J'(rho) = pi - arccos rho.

    J' is finite on [-1, 1] (0 at -1, pi at 1), but automatic differentiation of the formula
    adds -rho/sqrt(1 - rho^2) and +rho/sqrt(1 - rho^2): inf - inf = NaN at rho = +-1, which
    is where a relu encoder with antipodal rows (b, -b) sits. Under JAX the derivative is
    therefore supplied in closed form (``jax.custom_jvp``).

    Parameters
    ----------
    rho : array
        Correlations in [-1, 1].
    xp : module, optional
        Array namespace, ``numpy`` (default) or ``jax.numpy``.

    Returns
    -------
    array
        J(rho), elementwise.

    Examples
    --------
    >>> round(float(arccos_shape(1.0)), 6)  # J(1) = pi
    3.141593
    """
    if xp is np:
        return np.sqrt(1.0 - rho**2) + (np.pi - np.arccos(rho)) * rho
    return _arccos_shape_jax()(rho)


@functools.lru_cache(maxsize=1)
def _arccos_shape_jax():
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def shape(rho):
        return jnp.sqrt(1.0 - rho**2) + (jnp.pi - jnp.arccos(rho)) * rho

    @shape.defjvp
    def _(primals, tangents):
        (rho,), (t,) = primals, tangents
        return shape(rho), (jnp.pi - jnp.arccos(rho)) * t

    return shape


class Erf(Activation):
    """sigma(z) = erf(z). E[g erf(s g)] = 2 s / sqrt(pi (1 + 2 s^2)); arcsin kernel.

    References
    ----------
    .. [1] C. K. I. Williams, "Computing with infinite networks", Advances in Neural
       Information Processing Systems 9 (1997).
    """

    name, homogeneous, method = "erf", False, "closed form"

    def __call__(self, z, xp=np):
        if xp is np:
            from scipy.special import erf

            return erf(z)
        import jax.scipy.special as jsp

        return jsp.erf(z)

    def mean(self, scale, xp=np):
        return xp.zeros_like(xp.asarray(scale, dtype=float))

    def gauss_moment(self, scale, xp=np):
        s = xp.asarray(scale)
        return 2.0 * s / xp.sqrt(xp.pi * (1.0 + 2.0 * s**2))

    def second_moment(self, scale, xp=np):
        v = xp.asarray(scale) ** 2
        return (2.0 / xp.pi) * xp.arcsin(2.0 * v / (1.0 + 2.0 * v))

    def kernel(self, s1, s2, rho, xp=np):
        v1, v2 = s1**2, s2**2
        return (2.0 / xp.pi) * xp.arcsin(2.0 * rho * s1 * s2 / xp.sqrt((1.0 + 2.0 * v1) * (1.0 + 2.0 * v2)))

    def derivative(self, z, xp=np):
        return (2.0 / xp.sqrt(xp.pi)) * xp.exp(-z * z)

    def abs_moment(self, scale, xp=np):
        """E|erf(s g)| = (2/pi) arctan(sqrt(2) s): int_0^inf erf(a x) exp(-b^2 x^2) dx = arctan(a/b) / (b sqrt(pi))."""
        return (2.0 / xp.pi) * xp.arctan(xp.sqrt(2.0) * xp.asarray(scale))

    def derivative_moment(self, scale, xp=np):
        """E[erf'(s g)^2] = (4/pi) E exp(-2 s^2 g^2) = (4/pi) / sqrt(1 + 4 s^2)."""
        return (4.0 / xp.pi) / xp.sqrt(1.0 + 4.0 * xp.asarray(scale) ** 2)


class Linear(Activation):
    """sigma(z) = z: the linear autoencoder (PCA). Kernel = covariance."""

    name, homogeneous, method = "linear", True, "closed form"

    def __call__(self, z, xp=np):
        return z

    def mean(self, scale, xp=np):
        return xp.zeros_like(xp.asarray(scale, dtype=float))

    def gauss_moment(self, scale, xp=np):
        return xp.asarray(scale, dtype=float)

    def second_moment(self, scale, xp=np):
        return xp.asarray(scale, dtype=float) ** 2

    def kernel(self, s1, s2, rho, xp=np):
        return s1 * s2 * rho

    def derivative(self, z, xp=np):
        return xp.ones_like(z)

    def abs_moment(self, scale, xp=np):  # E|s g| = s sqrt(2/pi)
        return xp.sqrt(2.0 / xp.pi) * xp.asarray(scale, dtype=float)

    def derivative_moment(self, scale, xp=np):
        return xp.ones_like(xp.asarray(scale, dtype=float))


class Tanh(Activation):
    """sigma(z) = tanh(z). No closed form: Gauss-Hermite quadrature."""

    name = "tanh"

    def __call__(self, z, xp=np):
        return xp.tanh(z)

    def derivative(self, z, xp=np):
        return 1.0 - xp.tanh(z) ** 2


class Custom(Activation):
    """Any user callable sigma, moments by Gauss-Hermite quadrature.

    The callable must accept arrays of the namespace in use (NumPy for the float64
    theory; ``jax.numpy`` arrays for the differentiable risk and the simulations).

    Parameters
    ----------
    fn : callable
        sigma, applied elementwise to an array.
    name : str, optional
        Display name (default: ``fn.__name__``, else ``"custom"``).
    """

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "custom")

    def __call__(self, z, xp=np):
        return self.fn(z)


ACTIVATIONS = {cls.name: cls for cls in (Sign, ReLU, Erf, Tanh, Linear)}


def get_activation(spec) -> Activation:
    """Resolve ``"sign" | "relu" | "erf" | "tanh" | "linear"``, an :class:`Activation`, or a callable.

    Parameters
    ----------
    spec : str, Activation or callable
        A name (case and surrounding spaces ignored), an instance (returned as is), or a
        callable (wrapped in :class:`Custom`).

    Returns
    -------
    Activation
        A new instance for a name or callable, ``spec`` itself for an instance.

    Raises
    ------
    ValueError
        If ``spec`` is an unknown name or neither a string, an Activation nor a callable.

    Examples
    --------
    >>> get_activation(" Sign ")
    <activation sign (closed form)>
    >>> get_activation("tanh").method
    'quadrature'
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]()
        raise ValueError(
            f"unknown activation {spec!r}; accepted: {', '.join(ACTIVATIONS)} or a Python callable"
        )
    if callable(spec):
        return Custom(spec)
    raise ValueError(
        f"activation must be one of {', '.join(ACTIVATIONS)}, an Activation or a callable; got {spec!r}"
    )
