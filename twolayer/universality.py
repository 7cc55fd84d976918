r"""Universality on real data: train x_hat = A sigma(B x) on a data set, compare with the Gaussian theory.

One entry point, :func:`data_experiment`. For a data set split into a training part
X_tr (n_tr x d) and a test part X_te (n_te x d), preprocessed with training statistics
only (:func:`twolayer.data.prepare`; the training covariance Sigma = X_tr^T X_tr / n_tr has
trace d), it measures

* ``final_risk``: the encoder B trained by minibatch gradients on the REAL training rows
  (:func:`twolayer.simulations.train`, method "samples"), with the least-squares decoder
  fitted on the training codes, scored on the test rows by the held-out risk

      R_te(A, B) = sum_{x in X_te} ||x - A sigma(Bx)||^2 / sum_{x in X_te} ||x||^2

  (:func:`heldout_risk`; numerator and denominator over the SAME test rows, i.e. the plug-in
  estimate of E||x - x_hat||^2 / E||x||^2 on the test distribution); ``train_risk`` is the
  same ratio over the training rows; the same two are ``refitted_decoder_risk`` and
  ``refitted_decoder_train_risk``, beside ``trained_network_train_risk``, the training-row risk of
  the network as trained (its own decoder, before the refit);
* ``predicted_risk`` = :func:`twolayer.theory.min_risk` (rate, spectrum of Sigma): the
  Gaussian theory for N(0, Sigma), the same second moments as the data;
* ``kappa`` = :func:`~twolayer.theory.scale_mixture.estimate_kappa` (training rows; clipped
  to 1, ``kappa_raw`` unclipped) and ``predicted_risk_mixture`` = 1 - kappa (1 - predicted_risk),
  the exact risk of a Gaussian scale mixture x = s g for sign (theory/scale_mixture.md); for
  relu and linear codes (degree-1 homogeneous, kappa_1 = 1) it equals ``predicted_risk``; None
  for erf and tanh;
* ``predicted_risk_spiked`` (sign only): :func:`twolayer.theory.spiked.spiked_min_risk`, the
  Gaussian prediction with the top eigen-direction's arcsin kernel kept exact (theory/spiked.md),
  and ``predicted_risk_spiked_mixture`` = 1 - kappa (1 - predicted_risk_spiked);
* ``predicted_risk_orbit`` and ``predicted_risk_orbit_mixture`` (sign, with ``orbits`` > 0; else
  None): the exact Gaussian risk of the best sign-flip orbit encoder found for the training
  covariance (:func:`twolayer.theory.orbits.orbit_min_risk`, theory/orbits.md) and its
  scale-mixture correction; not among the suite's candidates for ``best_prediction``;

diagnostics of how far the training rows are from a Gaussian with their covariance
(:func:`data_diagnostics`): ``top_eigenvalue_fraction`` (lambda_1 / tr Sigma),
``projection_excess_kurtosis`` (the excess kurtosis of the projections on the principal
directions, averaged with weights lambda_j) and ``projection_excess_kurtosis_top`` (on the top
direction), ``norm_spread`` (std / mean of ||x||^2 over the rows) against
``norm_spread_gaussian`` (its exact value sqrt(2 sum lambda^2) / sum lambda for N(0, Sigma)),
their ratio ``norm_spread_ratio``, and ``samples_per_dimension`` = n_train / d;

and two controls (``controls=True``) that separate the causes of a gap (theory/universality.md):

* ``gaussian_twin_risk``: the same pipeline on Gaussian data with the training covariance --
  n_tr samples of N(0, Sigma) to train on, n_te fresh ones to score on, the same training
  options and seed. final_risk / gaussian_twin_risk isolates what the non-Gaussianity of the
  data does to a sample-trained autoencoder, with finite-sample effects matched;
* ``theory_encoder_risk``: the encoder of Adam (:data:`THEORY_OPTIMIZER`) on the EXACT Gaussian
  risk with covariance Sigma (method "population"), i.e. the Gaussian-optimal encoder for the
  data's second moments, with the least-squares decoder fitted on the REAL training codes, scored
  on the real test rows. (Plain gradient descent, the population default, stalls where one
  eigenvalue dominates: up to 61 % above the Gaussian optimum after 2000 steps on raw 16×16
  patches, against 2.7 % for Adam; theory/universality.md, "The theory encoder converges".)
  ``theory_encoder_risk_gaussian_decoder`` uses the Gaussian optimal
  decoder A*(B) = C M^{-1} instead (no fit on the data at all). ``theory_encoder_gaussian_risk``
  and ``theory_encoder_mixture_risk`` are its exact Gaussian risk and the scale-mixture
  correction; ``theory_encoder_gmm_risk`` its exact risk (best linear decoder) under a
  zero-mean Gaussian mixture of ``gmm_components`` components fitted to the training rows
  (:mod:`twolayer.theory.gaussian_mixture`; None when n_train <= 2 d);
* ``theory_encoder_contrast_risk``: its exact risk under the training rows grouped by contrast
  (``contrast_bins`` groups, each a zero-mean Gaussian with its own second moments:
  :func:`~twolayer.theory.gaussian_mixture.contrast_binned_mixture`; the direction-contrast
  dependence of image patches), less the same model's excess on a scale-mixture twin: the twin's
  Gaussian rows times scales with the norm spread of the training rows
  (:func:`~twolayer.theory.scale_mixture.twin_scales`), whose exact risk is known (the binning
  reads each row's own norm fluctuation as a scale). None when n_train < 4 d;
* ``theory_encoder_brightness_contrast_risk`` (sign, linear): the same with the rows grouped by
  brightness (4 groups, the top principal projection), then contrast (8 groups in each), every
  group a Gaussian with its own mean and covariance
  (:func:`~twolayer.theory.gaussian_mixture.brightness_contrast_mixture`: raw image patches),
  less its excess on the twin's Gaussian rows (not the scale-mixture twin: brightness and
  contrast are independent on raw patches). None when n_train < 32 d;
* ``gmm_optimum_risk`` (sign only): the best sign code for a Gaussian mixture *with means* of
  ``gmm_means_components`` components fitted to the training rows (scikit-learn's EM): the exact
  mixture risk minimised over the encoder by L-BFGS from the theory encoder
  (:func:`~twolayer.theory.gaussian_mixture.gaussian_mixture_optimum`: where L-BFGS stops, an upper
  bound on the model's best code; ``gmm_optimum_iterations`` and ``gmm_optimum_converged`` say whether it
  stopped at :data:`GMM_OPTIMUM_ITERATIONS`, as it does on raw image patches). Clusters
  let a code do better than on the Gaussian with the same covariance (the digits;
  theory/universality.md, "Exploitable structure"). Only with ``gmm_optimum=True`` (and the
  controls); None when n_train <= K (d + 1) or the code is not sign;
* ``gmm_optimum_heldout_risk`` (``_stderr``) and ``gmm_optimum_train_risk``: that optimal encoder
  on the data, with its least-squares decoder, like the trained encoder: a model-based code that
  a user can compare with training (theory/universality.md, "The best code for a model of the
  data": on the digits it beats the default training by up to 6 %; on patches it does not, and
  its risk is well above ``gmm_optimum_risk``);
* ``model_training_risk`` (sign only): where the default training stops on the brightness-contrast
  model: :func:`~twolayer.simulations.mixture_training.train_on_mixture` (the samples default's Adam,
  schedule, smoothing and start, on the exact loss of the smoothed network under the model of the
  standardised training rows), that encoder's model risk less the model's Gaussian excess, as
  ``theory_encoder_brightness_contrast_risk``; and ``model_training_heldout_risk`` (``_stderr``), that
  encoder on the test rows. Only with ``model_training=True`` (and the controls); None when
  n_train < 32 d or the loss's size, K n (n + 1) / 2 orthant probabilities a step, exceeds
  :data:`MODEL_TRAINING_MAX_PAIRS` (theory/universality.md, "The default training on the data model");
* ``model_twin_risk`` (``_stderr``): the theory at the run's own data size, the *model twin*: the
  run's pipeline (the same training options and seed, the least-squares decoder) trained on n_tr rows
  drawn from the brightness-contrast model of the training rows
  (:func:`~twolayer.theory.gaussian_mixture.brightness_contrast_mixture`: 32 Gaussians with their own
  means and covariances) and scored on :data:`MODEL_TWIN_TEST_FACTOR` n_te fresh rows of the model;
  ``model_twin_train_risk`` its training risk. Unlike the predictions above it trains on N rows, so it
  carries what finite data does to the training (the rows it fits, where it stops) into the
  prediction (theory/universality.md, "The model twin"). With the controls; None when n_train < 32 d.

Too few training items (:func:`few_samples_flags`: n_train < d, or n >= n_train / 2) are flagged in
``few_samples`` (the flags) and ``few_samples_warning`` (a sentence, None when there are enough), and
the command line prints the warning.

Seed policy (one ``seed`` for everything): the split (and the patch sampler) use ``seed``;
every training run initialises B from ``seed`` (the same B0 for the three encoders); the twin's
Gaussian rows come from ``numpy.random.default_rng([seed, TWIN_STREAM])``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .activations import get_activation
from .simulations.empirical import code_matrix, heldout_risk, least_squares_decoder
from .simulations.training import THEORY_OPTIMIZER  # the theory encoder's optimiser, recorded as theory_optimizer

__all__ = ["code_matrix", "data_diagnostics", "data_experiment", "few_samples_flags", "few_samples_warning",
           "gaussian_rows", "heldout_risk", "least_squares_decoder"]

#: second entry of the seed sequence of the Gaussian twin's samples: default_rng([seed, 1]).
TWIN_STREAM = 1
#: second entry of the seed sequence of the model twin's rows (training, then test): default_rng([seed, 2]).
MODEL_TWIN_STREAM = 2
#: the model twin is scored on this many times n_test fresh rows of the model (its held-out noise, not the data's).
MODEL_TWIN_TEST_FACTOR = 4
#: how the decoder of every encoder scored here is obtained (recorded as ``decoder_refit``).
DECODER_REFIT = "least squares on training codes"
#: BLAS threads of a data run (:func:`_data_experiment`): one, so that its numbers do not depend on the
#: process's thread count (in process 1.35 times slower on two cores than two threads; a sweep's workers
#: use one each anyway: :func:`twolayer.sweep.executors.worker_blas_threads`).
DATA_BLAS_THREADS = 1
#: most L-BFGS iterations of ``gmm_optimum_risk`` (:func:`~twolayer.theory.gaussian_mixture.gaussian_mixture_optimum`).
GMM_OPTIMUM_ITERATIONS = 300
#: most orthant probabilities a step of ``model_training_risk`` (K n (n + 1) / 2 with the 32 brightness-contrast
#: groups): the suite's largest cell, 16x16 patches at r = 1 (n = 256: 1,052,672, about 0.4 s a step on two
#: cores, 14 minutes); d = n = 64 is 66,560 (0.025 s a step). Larger cells record None.
MODEL_TRAINING_MAX_PAIRS = 1_100_000
#: THE sample-size rule of data runs (:func:`few_samples_flags`; the suite's flags read it too): flag -> what it means.
FEW_SAMPLES = {
    "n_train<d": "fewer training items than dimensions: the training covariance is singular",
    "n>=n_train/2": "code size at least half the training items: the least-squares decoder can overfit",
}


def few_samples_flags(n, n_train, d) -> list:
    """The :data:`FEW_SAMPLES` flags of a data run: ``n_train < d``, and ``n >= n_train / 2``.

    A cell is meaningful when it raises neither: with fewer training items than dimensions the
    training covariance (every prediction's input) is singular, and with a code of at least half as
    many neurons as training items the least-squares decoder fits them and does not generalise
    (held-out risks above 1 happen).

    Parameters
    ----------
    n, n_train, d : int or None
        Code size, training items and input dimension (None: that condition is not checked).

    Returns
    -------
    list of str
        Keys of :data:`FEW_SAMPLES`, in its order.

    Examples
    --------
    >>> few_samples_flags(64, 100, 640), few_samples_flags(16, 1437, 64)
    (['n_train<d', 'n>=n_train/2'], [])
    """
    flags = []
    if n_train is not None and d is not None and n_train < d:
        flags.append("n_train<d")
    if n is not None and n_train is not None and n >= n_train / 2:
        flags.append("n>=n_train/2")
    return flags


def few_samples_warning(n, n_train, d) -> str | None:
    """One sentence on what :func:`few_samples_flags` found (None when nothing).

    Parameters
    ----------
    n, n_train, d : int or None
        As :func:`few_samples_flags`.

    Returns
    -------
    str or None
        The warning, naming the numbers and what to do.

    Examples
    --------
    >>> few_samples_warning(16, 1437, 64) is None
    True
    """
    flags = few_samples_flags(n, n_train, d)
    if not flags:
        return None
    parts = []
    if "n_train<d" in flags:
        parts.append(f"only {n_train} training items for d = {d} dimensions: the training covariance is singular, "
                     "and the Gaussian predictions describe it rather than the data")
    if "n>=n_train/2" in flags:
        parts.append(f"the code size n = {n} is at least half the {n_train} training items: a decoder fitted on "
                     "them overfits, and held-out risks can exceed 1")
    lower = ", or a lower rate" if "n>=n_train/2" in flags else ""
    return "; ".join(parts) + f"; treat these numbers with caution (use more training items{lower})"


# ----------------------------------------------------------------------------- helpers
def gaussian_rows(cov, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` rows of N(0, cov): x = V diag(sqrt(lambda)) g, cov = V diag(lambda) V^T (lambda clipped at 0).

    Parameters
    ----------
    cov : array_like
        d x d symmetric covariance (only its lower triangle is read, as by
        :func:`numpy.linalg.eigh`).
    count : int
        Number of rows.
    rng : numpy.random.Generator
        Source of the standard normal draws.

    Returns
    -------
    ndarray
        ``count`` x d float64 samples.

    Examples
    --------
    >>> gaussian_rows(np.eye(3), 5, np.random.default_rng(0)).shape
    (5, 3)
    """
    lam, V = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    root = V * np.sqrt(np.clip(lam, 0.0, None))
    return rng.standard_normal((int(count), root.shape[0])) @ root.T


def data_diagnostics(X, cov=None, *, chunk: int = 4096) -> dict:
    r"""How far the rows of ``X`` are from a Gaussian with their second-moment matrix.

    ``X`` (N x d) holds centred rows (the preprocessed training part: its column means are 0);
    Sigma = ``cov`` (default X^T X / N), lambda_1 >= ... >= lambda_d its eigenvalues and v_j
    its eigenvectors. For N(0, Sigma) the projections z_j = <x, v_j> are Gaussian (excess
    kurtosis 0) and ||x||^2 has coefficient of variation sqrt(2 sum lambda^2) / sum lambda.

    Parameters
    ----------
    X : array_like
        N x d rows, N >= 2.
    cov : array_like, optional
        d x d second-moment matrix of the rows (default: X^T X / N).
    chunk : int, optional
        Rows projected at a time (memory only; default 4096).

    Returns
    -------
    dict
        ``top_eigenvalue_fraction`` = lambda_1 / sum lambda;
        ``projection_excess_kurtosis`` = sum_j lambda_j k_j / sum_j lambda_j, with
        k_j = mean(z_j^4) / mean(z_j^2)^2 - 3 over the directions with lambda_j > 1e-10 lambda_1;
        ``projection_excess_kurtosis_top`` = k_1; ``norm_spread`` = std(||x||^2) / mean(||x||^2)
        (population std); ``norm_spread_gaussian`` = sqrt(2 sum lambda^2) / sum lambda;
        ``norm_spread_ratio`` = their ratio (> 1: norms more spread than a Gaussian's, as in a
        scale mixture; < 1: more concentrated).

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D array with at least 2 rows, or is all zeros.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((20000, 4)) * [2.0, 1.0, 1.0, 1.0]
    >>> diag = data_diagnostics(X)
    >>> round(diag["top_eigenvalue_fraction"], 2), abs(diag["projection_excess_kurtosis"]) < 0.1
    (0.57, True)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite 2-D array with at least 2 rows, got shape {X.shape}")
    N = X.shape[0]
    cov = X.T @ X / N if cov is None else np.asarray(cov, dtype=np.float64)
    lam, V = np.linalg.eigh(cov)
    lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
    total = float(lam.sum())
    if total <= 0.0:
        raise ValueError("X is all zeros: no diagnostics")
    keep = lam > 1e-10 * lam[0]
    Vk = V[:, keep]
    m2, m4 = np.zeros(Vk.shape[1]), np.zeros(Vk.shape[1])
    for start in range(0, N, chunk):
        Z = X[start:start + chunk] @ Vk
        Z2 = Z * Z
        m2 += Z2.sum(axis=0)
        m4 += (Z2 * Z2).sum(axis=0)
    m2, m4 = m2 / N, m4 / N
    kurt = m4 / (m2 * m2) - 3.0
    sq = np.einsum("ij,ij->i", X, X)
    spread = float(sq.std() / sq.mean())
    spread_gauss = float(np.sqrt(2.0 * np.sum(lam * lam)) / total)
    return {
        "top_eigenvalue_fraction": float(lam[0] / total),
        "projection_excess_kurtosis": float(np.sum(lam[keep] * kurt) / np.sum(lam[keep])),
        "projection_excess_kurtosis_top": float(kurt[0]),
        "norm_spread": spread,
        "norm_spread_gaussian": spread_gauss,
        "norm_spread_ratio": spread / spread_gauss,
    }


# ----------------------------------------------------------------------------- the experiment
def _scored(Xtr, Xte, B, act) -> dict:
    """Least-squares decoder on Xtr; training and held-out risks (with the test standard error)."""
    A = least_squares_decoder(Xtr, B, activation=act)
    test, se = heldout_risk(Xte, B, A, activation=act, return_stderr=True)
    return {"A": A, "train": heldout_risk(Xtr, B, A, activation=act), "test": test, "stderr": se}


def _check(rate, n, test_fraction, steps, theory_steps):
    if (rate is None) == (n is None):
        raise ValueError("give exactly one of rate (n = round(rate * d)) and n")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
    else:
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"rate must be a number > 0, got {rate!r}") from None
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
    if test_fraction is None or not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1): the held-out risk needs test rows; got {test_fraction!r}")
    for name, value in (("steps", steps), ("theory_steps", theory_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return rate


def data_experiment(
    data: str,
    rate=None,
    *,
    n: int | None = None,
    activation="sign",
    steps: int = 2000,
    theory_steps: int | None = None,
    seed: int = 0,
    remove_item_mean: bool = False,
    contrast_normalize: bool = False,
    whiten: str | None = None,
    test_fraction: float = 0.2,
    max_items: int | None = None,
    batch_size: int = 256,
    lr=None,
    optimizer=None,
    schedule=None,
    init: str = "gaussian",
    controls: bool = True,
    progress: bool = False,
    dtype: str = "float32",
    d: int | None = None,
    record_spectrum: bool = False,
    decoder: str = "linear",
    decoder_steps: int | None = None,
    decoder_basis: str | None = None,
    gmm_optimum: bool = False,
    model_training: bool = False,
    orbits: int = 0,
    validation: float = 0.0,
) -> dict:
    r"""Train x_hat = A sigma(B x) on the data set ``data`` at rate r; held-out risk, Gaussian theory, controls.

    ``data`` is a :func:`twolayer.data.load_dataset` spec (not ``gaussian``); it is loaded with
    ``seed`` and ``max_items`` and preprocessed by :func:`twolayer.data.preprocess`
    (``remove_item_mean``, ``contrast_normalize``, ``whiten``, ``test_fraction``; statistics from
    the training rows only). The code size is n = round(r d), or ``n`` itself when it is given
    instead of ``rate`` (the record's ``rate`` is then n / d). The sample-trained encoder (and
    the twin's) uses ``steps``, ``batch_size``, ``lr``, ``optimizer``, ``schedule``, ``init``,
    ``dtype`` (None: :func:`~twolayer.simulations.train`'s defaults for method "samples": Adam,
    cosine decay), and ``validation`` (early stopping); the theory encoder runs ``theory_steps``
    (None: ``steps``) of Adam on the exact Gaussian risk (:data:`THEORY_OPTIMIZER`). See the module docstring for every
    quantity. Returns a flat JSON-serialisable dict. ``controls=False`` skips the
    twin and the theory encoder (their fields are None). ``d``, when given, is the dimension
    the caller expects (a sweep run's ``d``): a data set of another dimension raises
    ``ValueError`` before any training. ``record_spectrum`` adds ``spectrum``, the training
    covariance's eigenvalues (d numbers), to the record.

    Parameters
    ----------
    data : str
        A data set spec of :func:`twolayer.data.load_dataset` (not ``gaussian``).
    rate : float, optional
        r = n/d, finite and > 0; give exactly one of ``rate`` and ``n``.
    n : int, optional
        Code size, >= 1.
    activation : str, Activation or callable, optional
        The code's non-linearity (default ``"sign"``).
    steps : int, optional
        Steps of the sample-trained encoders (default 2000).
    theory_steps : int or None, optional
        Steps of the theory encoder (None: ``steps``).
    seed : int, optional
        The one seed (module docstring; default 0).
    remove_item_mean, contrast_normalize : bool, optional
        Preprocessing steps (default False).
    whiten : {None, "pca", "zca"}, optional
        Whitening (default None).
    test_fraction : float, optional
        Fraction of rows held out, in (0, 1) (default 0.2).
    max_items : int or None, optional
        Cap on the items loaded (None: all).
    batch_size : int, optional
        Minibatch size (default 256).
    lr, optimizer, schedule : optional
        As :func:`~twolayer.simulations.train` (None: its defaults for method "samples").
    init : str, optional
        Initialisation of the encoders (default ``"gaussian"``).
    controls : bool, optional
        Run the Gaussian twin and the theory encoder (default True).
    progress : bool, optional
        Progress bars of the training runs (default False).
    dtype : {"float32", "float64"}, optional
        Training precision (default "float32").
    d : int or None, optional
        The dimension the caller expects (None: no check).
    record_spectrum : bool, optional
        Add ``spectrum`` to the record (default False).
    decoder : str, optional
        ``linear`` (default: the least-squares decoder), ``learned-denoiser`` or ``amp:L``:
        ``final_risk`` is then that decoder's held-out risk on the same trained encoder, beside
        the others (:func:`twolayer.data_decoders.score_data_decoders`).
    decoder_steps : int or None, optional
        Adam steps of amp:L's precisions (None: 200).
    decoder_basis : {"pca", "dct", "pixel"} or None, optional
        Basis of the nonlinear decoders (None: pca).
    gmm_optimum : bool, optional
        With the controls: record ``gmm_optimum_risk`` (module docstring; default False).
    model_training : bool, optional
        With the controls: record ``model_training_risk`` (module docstring; default False).
    orbits : int, optional
        Sign code: record ``predicted_risk_orbit``, the exact Gaussian risk of the best sign-flip orbit
        encoder with at least this many orbits for the training covariance
        (:func:`twolayer.theory.orbits.orbit_min_risk`), and ``predicted_risk_orbit_mixture``
        = 1 - kappa (1 - predicted_risk_orbit); 0 (default): not computed (None).
    validation : float, optional
        Early stopping of the sample-trained encoders: this fraction of the training rows, in
        [0, 1), is held out and the encoder of the best validation risk kept
        (:func:`~twolayer.simulations.train`; recorded as ``validation_risk`` and
        ``validation_step``); 0 (default): off.

    Returns
    -------
    dict
        The flat record (module docstring); non-finite floats are None.

    Raises
    ------
    ValueError
        If both or neither of ``rate`` and ``n`` are given, an option is out of range,
        ``data`` is ``gaussian`` or cannot be loaded, its dimension differs from ``d``, or
        n = round(r d) is 0.
    """
    record, _ = _data_experiment(**locals())
    return record


def _data_experiment(**options):
    """:func:`data_experiment`, returning ``(record, TrainResult of the sample-trained encoder)``.

    The run's BLAS work is done on :data:`DATA_BLAS_THREADS` thread(s), whatever the process
    (the command line, a sweep worker) allows: the summation order of a BLAS call depends on
    its thread count, and at d = 256 that moved the twin's risk by up to 1.1 % and gmm-opt's
    by up to 0.8 % through the twin's sample draw, the EM fits and the L-BFGS path. With one
    thread a data run gives the same numbers in process and in any sweep worker.
    """
    from .simulations.threads import blas_threads

    with blas_threads(DATA_BLAS_THREADS):
        return _data_experiment_body(**options)


def _data_experiment_body(*, data, rate, n, activation, steps, theory_steps, seed, remove_item_mean,
                          contrast_normalize, whiten, test_fraction, max_items, batch_size, lr, optimizer, schedule,
                          init, controls, progress, dtype, d, record_spectrum, decoder="linear", decoder_steps=None,
                          decoder_basis=None, gmm_optimum=False, orbits=0, validation=0.0,
                          model_training=False):
    """:func:`_data_experiment` without the BLAS limit."""
    from .config import code_size
    from .data import prepare
    from .data.specs import parse_spec
    from .simulations import train
    from .theory import min_risk, optimal_decoder, population_risk
    from .theory.orbits import orbit_min_risk
    from .theory.scale_mixture import estimate_kappa, mixture_risk
    from .theory.spiked import spiked_min_risk

    t_start = time.perf_counter()
    rate = _check(rate, n, test_fraction, steps, theory_steps)
    if gmm_optimum and not controls:
        raise ValueError("gmm_optimum needs the controls (it starts from the theory encoder); drop --no-controls")
    if model_training and not controls:
        raise ValueError("model_training needs the controls (it corrects by the Gaussian twin's rows); drop --no-controls")
    act = get_activation(activation)
    if parse_spec(data)[0] == "gaussian":
        raise ValueError("data_experiment needs a data set; for the Gaussian source use twolayer.simulations.train")
    dataset, split = prepare(
        data, seed=seed, max_items=max_items, remove_item_mean=remove_item_mean,
        contrast_normalize=contrast_normalize, whiten=whiten, test_fraction=test_fraction,
    )
    Xtr, Xte = split.train, split.test
    if d is not None and d != Xtr.shape[1]:
        raise ValueError(f"data {data!r} has dimension {Xtr.shape[1]} but the run says d = {d}; set d = {Xtr.shape[1]}")
    n_train, d = Xtr.shape
    n_test = Xte.shape[0]
    if n is None:
        n = code_size(rate, d)
    else:
        n, rate = int(n), n / d
    seconds = {"seconds_load": time.perf_counter() - t_start}

    # -- theory: Gaussian prediction from the training covariance, scale-mixture correction
    t0 = time.perf_counter()
    predicted = float(min_risk(rate, activation=act, spectrum=split.spectrum))
    kappa_raw, kappa_se = estimate_kappa(Xtr, spectrum=split.spectrum, return_stderr=True, clip=False)
    kappa = min(1.0, kappa_raw)  # estimate_kappa's clip: a scale mixture has kappa <= 1
    # exact for degree-0 homogeneous codes (sign); degree-1 codes (relu, linear) have kappa_1 = 1
    mixture = mixture_risk(predicted, kappa) if act.name == "sign" else (predicted if act.name in ("relu", "linear") else None)
    # the top eigen-direction's arcsin kernel kept exact (theory/spiked.md), and its scale-mixture correction
    spiked = spiked_min_risk(rate, split.spectrum) if act.name == "sign" else None
    # the exact risk of the best sign-flip orbit encoder for the training covariance (theory/orbits.md)
    orbit = orbit_min_risk(n / d, split.spectrum, orbits=orbits) if orbits and act.name == "sign" else None
    diagnostics = data_diagnostics(Xtr, split.cov)
    seconds["seconds_theory"] = time.perf_counter() - t0

    act_arg = act.name if isinstance(activation, str) else act  # a string keeps train's compile cache warm
    options = dict(activation=act_arg, method="samples", steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer,
                   schedule=schedule, init=init, seed=seed, dtype=dtype, parametrization="untied", progress=progress,
                   validation=validation)

    # -- the autoencoder trained on the real training rows, scored on the test rows
    t0 = time.perf_counter()
    real = train(d, n, data=Xtr, **options)
    ours = _scored(Xtr, Xte, real.B, act)
    seconds["seconds_train"] = time.perf_counter() - t0
    decoded = {}
    if decoder != "linear":
        from .data_decoders import score_data_decoders

        decoded = score_data_decoders(decoder, Xtr, Xte, real.B, act, basis=decoder_basis or "pca", cov=split.cov,
                                      item_shape=split.info.get("item_shape"), seed=seed,
                                      decoder_steps=200 if decoder_steps is None else decoder_steps)
        seconds["seconds_decoders"] = decoded.pop("seconds_decoders")

    record = {
        "dataset": dataset.name, "data": data, "d": d, "n": n, "rate": rate, "activation": act.name,
        "method": "samples", "n_train": n_train, "n_test": n_test, "preprocessing": dict(split.info),
        "decoder_refit": DECODER_REFIT,
        "risk_denominator": "sum of ||x||^2 over the same rows (test rows for held-out risks)",
        "final_risk": ours["test"], "final_risk_stderr": ours["stderr"], "train_risk": ours["train"],
        # the network as trained (its own decoder) and the same encoder with the least-squares decoder
        "trained_network_train_risk": real.metrics.get("empirical_risk_trained_decoder"),
        "refitted_decoder_risk": ours["test"], "refitted_decoder_train_risk": ours["train"],
        "predicted_risk": predicted,
        "kappa": float(kappa), "kappa_raw": float(kappa_raw), "kappa_stderr": float(kappa_se),
        "predicted_risk_mixture": mixture,
        "predicted_risk_spiked": spiked,
        "predicted_risk_spiked_mixture": None if spiked is None else mixture_risk(spiked, kappa),
        "predicted_risk_orbit": orbit,
        "predicted_risk_orbit_mixture": None if orbit is None else mixture_risk(orbit, kappa),
        **diagnostics, "samples_per_dimension": n_train / d,
        # the sample-trained encoder under the Gaussian formula (same second moments as the data)
        "gaussian_risk_of_trained_encoder": population_risk(real.B, activation=act, cov=split.cov),
        "few_samples": few_samples_flags(n, n_train, d), "few_samples_warning": few_samples_warning(n, n_train, d),
        "decoder": decoder, **decoded,
        "steps": int(real.steps), "theory_steps": None, "theory_optimizer": None, "seed": int(seed),
        "batch_size": int(batch_size),
        "optimizer": real.config["optimizer"], "lr": real.config["lr"], "schedule": real.config["schedule"],
        "dtype": dtype, "init": init, "stopped": real.stopped, "validation": validation,
        "validation_risk": real.metrics.get("validation_risk"), "validation_step": real.metrics.get("validation_step"),
        "gaussian_twin_risk": None, "gaussian_twin_risk_stderr": None, "gaussian_twin_train_risk": None,
        "gaussian_twin_population_risk": None,
        "theory_encoder_risk": None, "theory_encoder_risk_stderr": None, "theory_encoder_train_risk": None,
        "theory_encoder_risk_gaussian_decoder": None, "theory_encoder_gaussian_risk": None,
        "theory_encoder_mixture_risk": None, "theory_encoder_gmm_risk": None, "gmm_components": None,
        "theory_encoder_contrast_risk": None, "contrast_bins": None, "theory_encoder_brightness_contrast_risk": None,
        "gmm_optimum_risk": None, "gmm_means_components": None, "gmm_optimum_heldout_risk": None,
        "gmm_optimum_heldout_risk_stderr": None, "gmm_optimum_train_risk": None,
        "gmm_optimum_iterations": None, "gmm_optimum_converged": None,
        "model_training_risk": None, "model_training_heldout_risk": None, "model_training_heldout_risk_stderr": None,
        "model_twin_risk": None, "model_twin_risk_stderr": None, "model_twin_train_risk": None,
    }

    final = record["final_risk"]
    record["relative_gap"] = (final - predicted) / predicted if predicted > 0 else None
    if controls:
        # -- Gaussian twin: same sizes, options and seed, data drawn from N(0, Sigma_train)
        t0 = time.perf_counter()
        rng = np.random.default_rng([int(seed), TWIN_STREAM])
        Gtr, Gte = gaussian_rows(split.cov, n_train, rng), gaussian_rows(split.cov, n_test, rng)
        twin = train(d, n, data=Gtr, **options)
        tw = _scored(Gtr, Gte, twin.B, act)
        record.update(
            gaussian_twin_risk=tw["test"], gaussian_twin_risk_stderr=tw["stderr"], gaussian_twin_train_risk=tw["train"],
            gaussian_twin_population_risk=population_risk(twin.B, tw["A"], activation=act, cov=split.cov),
        )
        seconds["seconds_twin"] = time.perf_counter() - t0

        # -- the same pipeline on N rows of the brightness-contrast model of the training rows
        t0 = time.perf_counter()
        record.update(_model_twin(Xtr, n, n_test, seed, act, options))
        seconds["seconds_model_twin"] = time.perf_counter() - t0

        # -- theory-optimal encoder: Adam on the exact Gaussian risk with Sigma_train
        t0 = time.perf_counter()
        t_steps = steps if theory_steps is None else theory_steps
        pop = train(d, n, activation=act_arg, method="population", cov=split.cov, steps=t_steps, seed=seed,
                    init="gaussian" if init == "theory" else init,  # the control starts at random, as always
                    optimizer=THEORY_OPTIMIZER, dtype=dtype, progress=progress)
        th = _scored(Xtr, Xte, pop.B, act)
        gauss = population_risk(pop.B, activation=act, cov=split.cov)
        record.update(
            theory_steps=int(pop.steps), theory_optimizer=pop.config["optimizer"],
            theory_encoder_risk=th["test"], theory_encoder_risk_stderr=th["stderr"], theory_encoder_train_risk=th["train"],
            theory_encoder_risk_gaussian_decoder=heldout_risk(
                Xte, pop.B, optimal_decoder(pop.B, activation=act, cov=split.cov), activation=act),
            theory_encoder_gaussian_risk=gauss,
            theory_encoder_mixture_risk=mixture_risk(gauss, kappa) if act.name == "sign" else None,
        )
        record["theory_encoder_gmm_risk"], record["gmm_components"] = _gmm_risk(pop.B, Xtr, act)
        record["theory_encoder_contrast_risk"], record["contrast_bins"] = _contrast_risk(pop.B, Xtr, Gtr, gauss, act)
        record["theory_encoder_brightness_contrast_risk"] = _brightness_contrast_risk(pop.B, Xtr, Gtr, gauss, act)
        seconds["seconds_theory_encoder"] = time.perf_counter() - t0
        if gmm_optimum:
            t0 = time.perf_counter()
            record["gmm_optimum_risk"], record["gmm_means_components"], B_opt, search = _gmm_optimum(pop.B, Xtr, act, seed)
            record.update(gmm_optimum_iterations=search.get("iterations"), gmm_optimum_converged=search.get("converged"))
            if B_opt is not None:  # the model's best code, measured on the data like the other encoders
                opt = _scored(Xtr, Xte, B_opt, act)
                record.update(gmm_optimum_heldout_risk=opt["test"], gmm_optimum_heldout_risk_stderr=opt["stderr"],
                              gmm_optimum_train_risk=opt["train"])
            seconds["seconds_gmm_optimum"] = time.perf_counter() - t0
        if model_training:
            t0 = time.perf_counter()
            B_model = _model_training(Xtr, n, act, seed, steps=steps, lr=lr, optimizer=optimizer, schedule=schedule,
                                      init=init, dtype=dtype)
            if B_model is not None:
                record["model_training_risk"] = _brightness_contrast_risk(
                    B_model, Xtr, Gtr, population_risk(B_model, activation=act, cov=split.cov), act)
                scored = _scored(Xtr, Xte, B_model, act)
                record.update(model_training_heldout_risk=scored["test"], model_training_heldout_risk_stderr=scored["stderr"])
            seconds["seconds_model_training"] = time.perf_counter() - t0

    record.update({k: float(v) for k, v in seconds.items()})
    record["seconds"] = time.perf_counter() - t_start
    if record_spectrum:
        record["spectrum"] = [float(v) for v in split.spectrum]
    return {k: _plain(v) for k, v in record.items()}, real


def _gmm_risk(B, Xtr, act):
    """(risk of B for a zero-mean Gaussian mixture fitted to the training rows, its component count); Nones when N <= 2 d."""
    from .theory.gaussian_mixture import DATA_COMPONENTS, fit_gaussian_mixture, gaussian_mixture_risk

    if Xtr.shape[0] <= 2 * Xtr.shape[1]:
        return None, None
    covs, weights = fit_gaussian_mixture(Xtr, DATA_COMPONENTS, iterations=100)
    return gaussian_mixture_risk(B, covs, weights, activation=act), DATA_COMPONENTS


def _contrast_risk(B, Xtr, Gtr, gauss, act):
    """(risk of B under the contrast-binned training rows, less the binning's own excess on a scale twin, bins).

    R_bins(X_train) - (R_bins(T) - R_T) (:func:`_binned_risk`): T are the twin's Gaussian rows
    (same covariance and count) times scales with the training rows' norm spread; binning by
    contrast mistakes each row's own norm fluctuation for a scale (theory/universality.md,
    "Contrast bins" and "The scale-mixture twin"). Nones when N < 4 d.
    """
    from .theory.gaussian_mixture import contrast_binned_mixture

    if Xtr.shape[0] < 4 * Xtr.shape[1]:
        return None, None
    return _binned_risk(contrast_binned_mixture, B, Xtr, Gtr, gauss, act)


def _brightness_contrast_risk(B, Xtr, Gtr, gauss, act):
    """As :func:`_contrast_risk` with the rows grouped by brightness, then contrast (means kept); None if too few rows.

    The excess is measured on the Gaussian rows G, not on the scale-mixture twin: on raw patches
    brightness and contrast are independent (one scale for the row is wrong there), and the
    one-scale, contrast-only and two-scale twins all made this model 2-9 % pessimistic about the
    theory encoder on 8x8 patches, against 0-1.5 % with the Gaussian excess (theory/universality.md,
    "The scale-mixture twin").
    """
    from .theory.gaussian_mixture import BRIGHTNESS_CONTRAST_BINS, brightness_contrast_mixture

    if act.name not in ("sign", "linear") or Xtr.shape[0] < Xtr.shape[1] * np.prod(BRIGHTNESS_CONTRAST_BINS):
        return None
    return _binned_risk(brightness_contrast_mixture, B, Xtr, Gtr, gauss, act, scale_twin=False)[0]


def _binned_risk(grouping, B, Xtr, Gtr, gauss, act, *, scale_twin=True):
    """(R(B) under ``grouping(X_train)`` less its excess on a twin whose risk is known, the group count).

    R(X) - (R(T) - R_T). With ``scale_twin`` and the sign code: T = s * G, the twin's Gaussian rows
    times scales with the norm spread of the training rows
    (:func:`~twolayer.theory.scale_mixture.twin_scales`), R_T = 1 - kappa(s) (1 - R_gauss) its
    exact risk. Otherwise T = G and R_T = R_gauss (the Gaussian excess): for relu and linear codes
    a scale does not change the normalised risk, and the two corrections agreed within the
    binning's noise (about 1 %) on a log-normal scale mixture.
    """
    from .theory.gaussian_mixture import gaussian_mixture_risk
    from .theory.scale_mixture import kappa_of_scales, mixture_risk, twin_scales

    def risk(X):
        covs, weights, *means = grouping(X)
        return gaussian_mixture_risk(B, covs, weights, means=means[0] if means else None, activation=act), len(weights)

    twin_rows, exact = Gtr, gauss
    if scale_twin and act.name == "sign":
        scales = twin_scales(Xtr, Gtr)
        twin_rows, exact = scales[:, None] * Gtr, mixture_risk(gauss, kappa_of_scales(scales))
    (data, groups), (twin, _) = risk(Xtr), risk(twin_rows)
    return data - (twin - exact), groups


def _model_twin(Xtr, n, n_test, seed, act, options) -> dict:
    """The ``model_twin_*`` fields: the run's pipeline on N rows of the brightness-contrast model of the training rows.

    M = :func:`~twolayer.theory.gaussian_mixture.brightness_contrast_mixture` (X_tr); N = n_train rows
    of M from default_rng([seed, :data:`MODEL_TWIN_STREAM`]) train the encoder (``options``: the
    run's) and its least-squares decoder; :data:`MODEL_TWIN_TEST_FACTOR` n_test further rows of M
    score it. The decoder is least squares whatever the run's ``decoder``. An empty dict (the fields stay
    None) when N < d * groups.
    """
    from .simulations import train
    from .theory.gaussian_mixture import BRIGHTNESS_CONTRAST_BINS, brightness_contrast_mixture
    from .theory.skip_mixture import sample_mixture

    N, d = Xtr.shape
    if N < d * int(np.prod(BRIGHTNESS_CONTRAST_BINS)):
        return {}
    model = brightness_contrast_mixture(Xtr)
    rng = np.random.default_rng([int(seed), MODEL_TWIN_STREAM])
    Mtr = sample_mixture(N, *model, rng=rng)[0]
    Mte = sample_mixture(MODEL_TWIN_TEST_FACTOR * n_test, *model, rng=rng)[0]
    scored = _scored(Mtr, Mte, train(d, n, data=Mtr, **options).B, act)
    return {"model_twin_risk": scored["test"], "model_twin_risk_stderr": scored["stderr"],
            "model_twin_train_risk": scored["train"]}


def _model_training(Xtr, n, act, seed, *, steps, lr, optimizer, schedule, init, dtype):
    """The encoder the run's training reaches on the brightness-contrast model of the training rows; None if out of reach.

    The model is fitted to the standardised rows (mean ||x||^2 / d = 1: the training's own
    :class:`~twolayer.simulations.sources.Source`), and the run's start, steps, optimiser, rate and
    schedule are used (no minibatches, no early stopping).
    """
    from .simulations.mixture_training import train_on_mixture
    from .simulations.model import init_params
    from .simulations.sources import make_source
    from .simulations.training import theory_start
    from .theory.gaussian_mixture import BRIGHTNESS_CONTRAST_BINS, brightness_contrast_mixture

    groups = int(np.prod(BRIGHTNESS_CONTRAST_BINS))
    N, d = Xtr.shape
    if act.name != "sign" or N < d * groups or groups * n * (n + 1) // 2 > MODEL_TRAINING_MAX_PAIRS:
        return None
    standardised = make_source(d, data=Xtr).standardised()  # as train(data=Xtr) sees the rows
    if init == "theory":
        start = theory_start(d, n, act, standardised["cov"], "untied", seed, dtype)
    else:
        start = init_params(d, n, parametrization="untied", init=init, seed=seed)
    covs, weights, means = brightness_contrast_mixture(standardised["data"])
    return train_on_mixture(covs, weights, means, n, steps=steps, seed=seed, lr=lr, optimizer=optimizer,
                            schedule=schedule, start=start)


def _gmm_optimum(B, Xtr, act, seed):
    """(best sign-code risk for a Gaussian mixture with means fitted to the training rows, K, that code's encoder,
    L-BFGS's ``{"iterations", "converged"}``).

    Nones (and an empty dict) if the mixture cannot be fitted.
    """
    from .theory.gaussian_mixture import DATA_COMPONENTS, fit_gaussian_mixture_with_means, gaussian_mixture_optimum

    if act.name != "sign" or Xtr.shape[0] <= DATA_COMPONENTS * (Xtr.shape[1] + 1):
        return None, None, None, {}
    mixture = fit_gaussian_mixture_with_means(Xtr, DATA_COMPONENTS, seed=seed)
    risk, B_opt, search = gaussian_mixture_optimum(B, *mixture, maxiter=GMM_OPTIMUM_ITERATIONS, full_output=True)
    return risk, DATA_COMPONENTS, B_opt, search


def _plain(value):
    """JSON-ready: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
