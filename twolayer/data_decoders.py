r"""Decoders beyond linear on a data set, all on the same trained encoder (``--decoder`` for data runs).

A data set has no law, so every nonlinear decoder here learns what it needs from the training
rows and is scored on the held-out rows, in an orthonormal basis x = V u chosen by
``decoder_basis``: ``pca`` (eigenvectors of the training covariance), ``dct`` (the 2-D
orthonormal DCT-II of the item's image shape: image patches are sparse-ish there) or ``pixel``.

* **linear** -- the least-squares decoder A on the training codes (the data run's usual decoder).
* **learned-denoiser** -- per coordinate i of the basis, the isotonic (nondecreasing)
  least-squares regression of u_i on the linear reconstruction's coordinate; fitted on
  *out-of-fold* reconstructions of the training rows (``FOLDS`` least-squares decoders, each
  fitted without its fold), so the fit sees the held-out noise level, not the in-sample one.
* **prior-denoiser** (reported beside it) -- the same channel read as u_lin,i = mu_i (u_i +
  sigma_i w) (mu_i, sigma_i^2 fitted on those out-of-fold pairs), denoised by the posterior mean
  of a Gaussian scale-mixture prior fitted per coordinate
  (:func:`twolayer.simulations.learned_prior.fit_scale_mixture`).
* **amp:L** -- GLM-VAMP (:func:`twolayer.simulations.amp.vamp_decode`) with that learned prior
  decodes y = sign(B x) itself: run for ``VAMP_PASSES`` passes on the held-out codes
  (``risk_vamp_per_pass``), and unrolled to L passes (:class:`~twolayer.simulations.amp.UnrolledDecoder`)
  whose 4L precisions start at the median precisions GLM-VAMP measures on training codes
  (``risk_amp_start_per_pass``) and are trained by Adam on training rows (``decoder_steps``;
  ``risk_amp_per_pass``).

There is no theory of these decoders on real data: they are measurements, each with the
standard error of the held-out risk (:func:`twolayer.simulations.empirical.reconstruction_risk`);
the record's ``predicted_risk`` stays the Gaussian prediction of the *linear* pipeline, so
``relative_gap`` says how far a decoder goes below it.
"""

from __future__ import annotations

import numpy as np

#: the orthonormal bases the coordinate-wise decoders work in.
BASES = ("pca", "dct", "pixel")
#: folds of the out-of-fold linear reconstructions the denoisers are fitted on.
FOLDS = 5
#: passes of GLM-VAMP on the held-out codes (and on the training codes that start amp:L).
VAMP_PASSES = 30
#: training rows GLM-VAMP runs on to measure amp:L's starting precisions.
START_ROWS = 1000
#: second entries of the seed sequences: folds, prior fit, amp:L minibatches (as structured_run's streams).
FOLD_STREAM, PRIOR_STREAM, AMP_STREAM = 6, 7, 5


def decoder_basis(name: str, cov, item_shape=None) -> np.ndarray:
    """The d x d orthogonal V (columns: basis vectors; x = V u) of basis ``name``.

    Parameters
    ----------
    name : {"pca", "dct", "pixel"}
        ``pca``: eigenvectors of ``cov``, by decreasing eigenvalue; ``dct``: the 2-D orthonormal
        DCT-II basis of images of shape ``item_shape`` (flattened row-major); ``pixel``: I.
    cov : ndarray
        d x d training covariance.
    item_shape : sequence of int, optional
        The image shape (h, w) with h w = d (needed for ``dct``).

    Returns
    -------
    ndarray
        d x d, V^T V = I.

    Examples
    --------
    >>> V = decoder_basis("dct", np.eye(4), (2, 2))
    >>> np.allclose(V.T @ V, np.eye(4)), np.allclose(V[:, 0], 0.5)     # first: the constant image
    (True, True)
    """
    from scipy.fft import dct

    cov = np.asarray(cov, dtype=np.float64)
    d = cov.shape[0]
    if name == "pca":
        return np.linalg.eigh(cov)[1][:, ::-1]
    if name == "pixel":
        return np.eye(d)
    if name != "dct":
        raise ValueError(f"decoder_basis: expected one of {', '.join(BASES)}, got {name!r}")
    shape = tuple(int(s) for s in (item_shape or ()))
    if len(shape) != 2 or shape[0] * shape[1] != d:
        raise ValueError(f"decoder_basis dct needs items that are 2-D images with h w = d = {d}; "
                         f"this data set's items have shape {list(shape) or 'unknown'}: use pca or pixel")
    Dh, Dw = (dct(np.eye(m), norm="ortho", axis=0) for m in shape)
    return np.kron(Dh, Dw).T


def _out_of_fold(X, S, folds: int, seed) -> np.ndarray:
    """Each row's linear reconstruction by a least-squares decoder fitted without its fold."""
    parts = np.array_split(np.random.default_rng(seed).permutation(X.shape[0]), folds)
    out = np.empty_like(X)
    for part in parts:
        rest = np.setdiff1d(np.arange(X.shape[0]), part)
        out[part] = S[part] @ np.linalg.lstsq(S[rest], X[rest], rcond=None)[0]
    return out


def _isotonic_per_coordinate(inputs, targets):
    """One nondecreasing least-squares fit of targets[:, i] on inputs[:, i] per column; returns predict."""
    from sklearn.isotonic import IsotonicRegression

    fits = [IsotonicRegression(out_of_bounds="clip").fit(inputs[:, i], targets[:, i]) for i in range(inputs.shape[1])]
    return lambda Y: np.stack([f.predict(Y[:, i]) for i, f in enumerate(fits)], axis=1)


def _channel(u_lin, u):
    """mu_i = <u_lin,i, u_i> / <u_i, u_i> and sigma_i^2 = mean (u_lin,i / mu_i - u_i)^2 (absolute units)."""
    uu = np.sum(u * u, axis=0)
    mu = np.sum(u_lin * u, axis=0) / np.where(uu > 0, uu, 1.0)
    dead = mu <= 1e-8  # a direction the code does not carry: its estimate is the prior mean, 0
    mu = np.where(dead, 1.0, mu)
    s2 = np.mean((u_lin / mu - u) ** 2, axis=0)
    return mu, np.where(dead, 1e30, np.maximum(s2, 1e-300))


def score_data_decoders(decoder: str, Xtr, Xte, B, activation, *, basis: str, cov, item_shape=None,
                        decoder_steps: int = 200, seed=0) -> dict:
    """Held-out risks of the linear and nonlinear decoders of one trained encoder (module docstring).

    Parameters
    ----------
    decoder : str
        ``learned-denoiser`` or ``amp:L`` (``linear`` needs nothing here).
    Xtr, Xte : ndarray
        Training and held-out rows (preprocessed, centred).
    B : ndarray
        The trained n x d encoder.
    activation : Activation
        The code (``amp:L`` needs sign).
    basis : {"pca", "dct", "pixel"}
        The coordinates the denoisers and the prior work in (:func:`decoder_basis`).
    cov : ndarray
        Training covariance (for ``pca``).
    item_shape : sequence of int, optional
        Image shape (for ``dct``).
    decoder_steps : int
        Adam steps of amp:L's precisions (default 200).
    seed : int
        The run's seed.

    Returns
    -------
    dict
        Record fields: ``final_risk``/``final_risk_stderr`` of the chosen decoder; ``risk_linear``,
        ``risk_learned_denoiser``, ``risk_prior_denoiser`` (each with ``_stderr``); for amp:L also
        ``risk_vamp``, ``risk_amp_start``, ``risk_amp`` with ``_stderr`` and ``_per_pass`` lists,
        ``amp_precisions_start``, ``amp_precisions``, ``decoder_loss_first``/``_last``;
        ``decoder_basis``, ``decoder_folds``, ``seconds_decoders``.
    """
    import time

    from .config import decoder_layers
    from .simulations.empirical import code_matrix, reconstruction_risk
    from .simulations.learned_prior import fit_scale_mixture

    t0 = time.perf_counter()
    V = decoder_basis(basis, cov, item_shape)
    Str, Ste = code_matrix(Xtr, B, activation=activation), code_matrix(Xte, B, activation=activation)
    A = np.linalg.lstsq(Str, Xtr, rcond=None)[0].T
    lin_te = Ste @ A.T
    u_oof, u_tr = _out_of_fold(Xtr, Str, FOLDS, [seed, FOLD_STREAM]) @ V, Xtr @ V
    mu, s2 = _channel(u_oof, u_tr)
    prior = fit_scale_mixture(u_tr, seed=[seed, PRIOR_STREAM])
    learned = _isotonic_per_coordinate(u_oof, u_tr)
    u_lin = lin_te @ V
    scored = {
        "linear": reconstruction_risk(Xte, lin_te),
        "learned-denoiser": reconstruction_risk(Xte, learned(u_lin) @ V.T),
        "prior-denoiser": reconstruction_risk(Xte, prior.denoise(u_lin / mu, s2) @ V.T),
    }
    fields = {"decoder_basis": basis, "decoder_folds": FOLDS}
    layers = decoder_layers(decoder)
    if layers is not None:
        fields.update(_amp_fields(layers, Xtr, Xte, B, V, prior, decoder_steps, seed, scored))
    for name, value in scored.items():
        key = "risk_" + name.replace("-", "_")
        if isinstance(value, list):
            fields[key + "_per_pass"] = [_finite(v) for v, _ in value]
            value = value[-1]
        fields[key], fields[key + "_stderr"] = (_finite(v) for v in value)
    chosen = "amp" if layers is not None else decoder
    final = scored[chosen][-1] if isinstance(scored[chosen], list) else scored[chosen]
    fields["final_risk"], fields["final_risk_stderr"] = final
    fields["seconds_decoders"] = time.perf_counter() - t0
    return fields


def _finite(value):
    """A float, or None where it is not finite (a diverged decoder: JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


def _amp_fields(layers, Xtr, Xte, B, V, prior, steps, seed, scored) -> dict:
    """GLM-VAMP with the learned prior, and amp:L started from its measured precisions and trained."""
    from .simulations.amp import UnrolledDecoder, train_unrolled, vamp_decode
    from .simulations.empirical import reconstruction_risk

    def sign(X):
        return np.where(X @ B.T >= 0, 1.0, -1.0)

    rows = np.random.default_rng([seed, AMP_STREAM]).permutation(Xtr.shape[0])[:START_ROWS]
    trace: list = []
    with np.errstate(over="ignore", invalid="ignore"):
        vamp_decode(sign(Xtr[rows]), B, prior, layers, rotation=V, trace=trace)
    start = UnrolledDecoder(prior, np.asarray(B, np.float64), V, np.log(np.clip(np.asarray(trace), 1e-12, 1e12)))
    trained, losses = train_unrolled(start, steps=steps, seed=[seed, AMP_STREAM], data=Xtr @ V)
    code = sign(Xte)
    with np.errstate(over="ignore", invalid="ignore"):  # it may diverge on real data: reported, not hidden
        scored["vamp"] = [reconstruction_risk(Xte, e) for e in vamp_decode(code, B, prior, VAMP_PASSES, rotation=V)]
    scored["amp-start"] = [reconstruction_risk(Xte, e) for e in start.decode(code, every_layer=True)]
    scored["amp"] = [reconstruction_risk(Xte, e) for e in trained.decode(code, every_layer=True)]
    return {"amp_precisions_start": np.exp(start.log_precisions).tolist(),
            "amp_precisions": np.exp(trained.log_precisions).tolist(),
            "decoder_loss_first": float(losses[:10].mean()) if losses.size else None,
            "decoder_loss_last": float(losses[-10:].mean()) if losses.size else None}
