r"""The source the autoencoder is trained on: a Gaussian N(0, Sigma) or a fixed data matrix.

* ``cov`` -- any d x d covariance (``None``: Sigma = I, the isotropic source);
* ``spectrum`` -- a shortcut for ``cov = diag(spectrum)``: the covariance is kept *diagonal*
  (eigenbasis = the coordinate axes). Every initialisation here is rotation invariant in
  law, so a diagonal Sigma is equivalent in distribution to one in a random eigenbasis, and
  it keeps the eigenbasis of the allocation metrics exact and sampling cheap;
* ``data`` -- an N x d matrix (method "samples" only). The theory comparison then uses the
  Gaussian with the data's second-moment matrix X^T X / N (the model has no bias, so the
  risk of a Gaussian source depends only on this matrix), and the empirical risk on the data
  is reported beside it.

Training runs on the *standardised* source x / sqrt(v), v = tr(Sigma)/d the mean coordinate
variance (:meth:`Source.standardised`), so that learning rates and initialisations do not
depend on the source's overall scale; :func:`twolayer.simulations.training.train` maps the
result back (B / sqrt(v), A sqrt(v)), which leaves the normalised risk unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_covariance, as_matrix, as_spectrum


@dataclass(frozen=True)
class Source:
    """A resolved source: ``cov`` (float64, None = I), ``data`` (N x d float64 or None).

    ``scale`` is the sampling matrix L with x = L g, g ~ N(0, I) (None = I), ``variance`` the
    mean coordinate variance v = tr(Sigma)/d (mean ||x||^2/d of the data).

    Attributes
    ----------
    d : int
        Input dimension.
    cov : ndarray or None
        d x d covariance (the second-moment matrix for data); None is Sigma = I.
    data : ndarray or None
        N x d samples, or None for a Gaussian source.
    scale : ndarray or None
        d x d sampling matrix L (None for Sigma = I and for data).
    variance : float
        v = tr(Sigma)/d.
    """

    d: int
    cov: np.ndarray | None
    data: np.ndarray | None
    scale: np.ndarray | None
    variance: float
    law: object = None  # a twolayer.theory.priors.Law: x = Q z, z i.i.d. of the law (unit variance)
    rotation: np.ndarray | None = None  # Q (None: the identity)

    @property
    def isotropic(self) -> bool:
        """True when Sigma is a multiple of I (the theory's isotropic case)."""
        from .metrics import is_isotropic

        return is_isotropic(self.cov)

    def standardised(self) -> dict:
        """float64 arrays of the source with mean coordinate variance 1: cov / v, scale / sqrt(v), data / sqrt(v).

        Returns
        -------
        dict
            ``"cov"``, ``"scale"`` and ``"data"``, each an array or None.
        """
        v, root = self.variance, np.sqrt(self.variance)
        return {
            "cov": None if self.cov is None else self.cov / v,
            "scale": None if self.scale is None else self.scale / root,
            "data": None if self.data is None else self.data / root,
            "rotation": self.rotation,
        }


def make_source(d: int, *, cov=None, spectrum=None, data=None, law=None, rotation=None) -> Source:
    """Validate and resolve (cov | spectrum | data) for input dimension ``d``; at most one may be given.

    Parameters
    ----------
    d : int
        Input dimension.
    cov : array_like, optional
        d x d covariance (symmetric PSD).
    spectrum : array_like, optional
        d eigenvalues; the source is N(0, diag(spectrum)).
    data : array_like, optional
        N x d samples (finite, not all zero).

    Returns
    -------
    Source
        The resolved source; none given is the isotropic N(0, I).

    Raises
    ------
    ValueError
        If more than one of ``cov``, ``spectrum``, ``data`` is given, or the one given is
        invalid or does not match ``d``.

    Examples
    --------
    >>> source = make_source(3, spectrum=[1.0, 2.0, 3.0])
    >>> source.variance, source.isotropic
    (2.0, False)
    """
    given = [name for name, v in (("cov", cov), ("spectrum", spectrum), ("data", data), ("law", law))
             if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of cov, spectrum, data and law; got {' and '.join(given)}")
    if rotation is not None and law is None:
        raise ValueError("rotation rotates a structured law; give law too")
    if law is not None:  # i.i.d. unit-variance coordinates: second moment I, also after a rotation
        Q = None
        if rotation is not None:
            Q = as_matrix(rotation, "rotation", shape=(d, d))
            if not np.allclose(Q @ Q.T, np.eye(d), atol=1e-8):
                raise ValueError("rotation must be an orthogonal d x d matrix")
        return Source(d, None, None, None, 1.0, law, Q)
    if data is not None:
        X = as_matrix(data, "data (N x d samples)")
        if X.shape[1] != d:
            raise ValueError(f"data has {X.shape[1]} columns but d = {d}; data must be N x d")
        second = X.T @ X / X.shape[0]
        if np.trace(second) <= 0:
            raise ValueError("data is all zeros; the source has zero variance")
        return Source(d, second, X, None, float(np.trace(second) / d))
    if spectrum is not None:
        sigma = as_spectrum(spectrum)
        if sigma.size != d:
            raise ValueError(f"spectrum has {sigma.size} eigenvalues but d = {d}; give one per coordinate")
        return Source(d, np.diag(sigma), None, np.diag(np.sqrt(sigma)), float(sigma.mean()))
    if cov is not None:
        Sigma = as_covariance(cov, d)
        vals, vecs = np.linalg.eigh(Sigma)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T  # symmetric square root
        return Source(d, Sigma, None, root, float(np.trace(Sigma) / d))
    return Source(d, None, None, None, 1.0)


def draw_batch(key, step, batch_size: int, d: int, consts: dict, dtype, law=None):
    """Minibatch ``step`` (JAX): fresh x = L g, g ~ N(0, I), or rows of ``data`` drawn with replacement.

    The key for step t is fold_in(key, t), so a run's samples depend only on (seed, t).
    ``consts`` holds "scale" (L or None) or "data" (see :meth:`Source.standardised`).

    Parameters
    ----------
    key : jax.Array
        PRNG key of the run.
    step : int or jax.Array
        Step t.
    batch_size : int
        Number of samples.
    d : int
        Input dimension.
    consts : dict
        ``"data"`` (N x d array) or ``"scale"`` (d x d array or None); missing keys count
        as None.
    dtype : dtype
        Floating dtype of the Gaussian samples.

    Returns
    -------
    jax.Array
        batch_size x d samples.
    """
    import jax

    from . import fast_normal

    k = jax.random.fold_in(key, step)
    if law is not None:  # a structured law, optionally rotated: x = Q z
        z = law.sample_jax(k, (batch_size, d), dtype)
        rotation = consts.get("rotation")
        return z if rotation is None else z @ rotation.T
    data = consts.get("data")
    if data is not None:
        idx = jax.random.randint(k, (batch_size,), 0, data.shape[0])
        return data[idx]
    g = fast_normal.normal(k, (batch_size, d), dtype)  # = jax.random.normal, bit for bit
    scale = consts.get("scale")
    return g if scale is None else g @ scale.T
