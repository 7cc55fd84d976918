r"""The theory at your data size: the least-squares decoder's out-of-sample excess.

A data run fits the decoder by least squares (no intercept) on the codes y = sigma(Bx) of its
N training rows and scores it on held-out rows. For a *fixed* encoder B with n neurons and
population risk R_inf (best linear decoder), the classical out-of-sample risk of least squares
with a Gaussian design and residuals independent of it,

    E[R_N] = R_inf (1 + n / (N - n - 1)) = R_inf (N - 1) / (N - n - 1),      n < N - 1,

carries over to sign codes (**derived for Gaussian designs; validated numerically for sign
codes**: Monte Carlo over training sets of Gaussian sources, isotropic and k^-1 spectra,
n / N from 0.01 to 0.16, within 0.3 % of the formula; ``tests/test_finite_sample.py``). The
sign code is not a Gaussian design and its residual is uncorrelated with it, not independent;
the formula holds to that accuracy because the residual's conditional variance varies little
with the code.

Where it breaks:

* n >= N - 1: the least-squares decoder interpolates the training codes (minimum-norm solution
  for n >= N); the held-out risk has the interpolation peak at n ~ N and this formula has no
  value (:func:`least_squares_factor` returns ``inf``).
* An encoder *trained on the same rows* also adapts to the sample. That excess is not in the
  formula: on the 8x8 digits (N = 1438, n = 16) the theory encoder's held-out / training risk
  ratio is 1.028 and the trained encoder's 1.099, against the factor 1.011
  (theory/finite_sample.md).
* Heavy-tailed data (heteroscedastic residuals) raise the excess above the formula.
"""

from __future__ import annotations

import math


def least_squares_factor(n: int, n_train: int) -> float:
    """(N - 1) / (N - n - 1): the held-out risk of a least-squares decoder over its population risk.

    Parameters
    ----------
    n : int
        Code size (unknowns per output coordinate), n >= 1.
    n_train : int
        Training rows N the decoder is fitted on.

    Returns
    -------
    float
        The factor (>= 1); ``inf`` when n >= N - 1 (the fit interpolates).

    Examples
    --------
    >>> round(least_squares_factor(16, 1438), 6)
    1.01126
    >>> least_squares_factor(156, 160) == float("inf")
    False
    >>> least_squares_factor(159, 160)
    inf
    """
    for name, value in (("n", n), ("n_train", n_train)):
        if isinstance(value, bool) or not float(value).is_integer() or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    n, n_train = int(n), int(n_train)
    if n >= n_train - 1:
        return math.inf
    return (n_train - 1) / (n_train - n - 1)


def risk_at_sample_size(risk, n: int, n_train: int):
    """R_inf (N - 1)/(N - n - 1): a population risk carried to the held-out risk at N training rows (module docstring).

    Parameters
    ----------
    risk : float or None
        The population (infinite-data) risk of the encoder with its best linear decoder.
    n, n_train : int
        Code size and training rows.

    Returns
    -------
    float or None
        None when ``risk`` is None or the fit interpolates (n >= N - 1).

    Examples
    --------
    >>> round(risk_at_sample_size(0.5, 32, 200), 6)
    0.595808
    """
    if risk is None:
        return None
    factor = least_squares_factor(n, n_train)
    return None if math.isinf(factor) else float(risk) * factor
