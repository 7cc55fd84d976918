r"""One run on a structured source: train on fresh samples, score each decoder under the law itself.

For ``data = "bernoulli-gaussian:P"`` (or ``sparse-rademacher:P``, ``uniform``, ``laplace``,
each optionally ``:rotated``) the source is x = Q z with z i.i.d. of the law (unit variance)
and Q a Haar rotation drawn from ``default_rng([seed, ROTATION_STREAM])`` (identity without
``:rotated``). The autoencoder is trained by minibatches of fresh samples
(:func:`twolayer.simulations.train`, untied: A and B trained; with ``method = "population"``, for
Bernoulli-Gaussian only, by gradient descent on exact Gaussian risks given fresh supports,
:func:`twolayer.simulations.estimators.support_loss`: no smoothed sign), then:

* **linear** -- x_hat = A sign(Bx) with the trained A (``risk_linear_refit``: with the best
  linear decoder for the learned encoder instead); its risk under the law is
  :func:`twolayer.theory.structured.structured_risk` (Rao-Blackwellised over supports for
  Bernoulli-Gaussian, plain Monte Carlo otherwise). Prediction: the Gaussian value R_G =
  ``min_risk(r)`` (the theorem "a linear decoder performs as on a Gaussian source",
  Kögler, Shevchenko, Hassani, Mondelli, ICML 2024, arXiv:2402.05013);
* **denoiser** -- the effective scalar channel: in the z basis, each coordinate of the linear
  reconstruction z_lin = Q^T A sign(Bx) is mu (z_i + sigma w); mu and sigma^2 are fitted on
  ``eval_samples`` fresh draws (mu = <z_lin, z> / <z, z>, sigma^2 = ||z_lin - mu z||^2 / (mu^2 <z, z>), sums over all draws and coordinates),
  and z_hat_i = E[z_i | z_lin,i / mu] is the law's MMSE denoiser at noise sigma^2
  (:meth:`~twolayer.theory.priors.Law.denoise`). Prediction: mmse of the law at
  sigma^2 = R_G / (1 - R_G) (:func:`~twolayer.theory.priors.denoiser_risk`; derived, see
  theory/structured.md);
* **learned-denoiser** -- the same, with E[z_i | y] replaced by the isotonic (nondecreasing)
  least-squares regression of z on y = z_lin / mu over the fitting draws (scikit-learn's
  ``IsotonicRegression``; at most ``LEARNED_PAIRS`` pairs): no knowledge of the law, only the
  fact that a posterior mean under Gaussian noise is nondecreasing in y (its derivative is
  Var[z | y] / sigma^2). Prediction: as the denoiser's.

* **bayes** -- GLM-VAMP (:func:`twolayer.simulations.amp.vamp_decode`) run for ``BAYES_PASSES``
  passes on the code sign(B Q z), knowing the law and the encoder: the Bayes benchmark for the
  learned encoder. Prediction: the fixed point of its state evolution
  (:mod:`twolayer.theory.amp`; theory/amp.md), for the Gaussian-optimal encoder in the limit
  (``predicted_risk``) and for the learned encoder's own spectrum (``predicted_risk_bayes_encoder``);
* **amp:L** -- L unrolled GLM-VAMP passes with 4L trainable precisions, initialised from the
  state evolution and trained by Adam (``decoder_steps``) with the encoder fixed
  (:class:`twolayer.simulations.amp.UnrolledDecoder`); reported per layer, at its start
  (``risk_amp_start_per_pass``) and trained (``risk_amp_per_pass``), beside GLM-VAMP to its
  fixed point on the same draws (``risk_bayes``). Prediction: the state evolution after L passes.

Every decoder is scored on the same ``eval_samples`` fresh test draws (``risk_linear``,
``risk_denoiser``, ``risk_learned_denoiser``, each with a standard error); ``final_risk`` is the
chosen decoder's (for the linear decoder on Bernoulli-Gaussian data, the Rao-Blackwellised
estimate over ``max(100, eval_samples // 20)`` supports).
"""

from __future__ import annotations

import math

import numpy as np

#: second entries of the seed sequences: the rotation, the fitting draws, the test draws, the amp:L training draws.
ROTATION_STREAM, FIT_STREAM, TEST_STREAM, AMP_STREAM = 2, 3, 4, 5
#: passes of the ``bayes`` decoder (GLM-VAMP; its state evolution has converged to 1e-6 by then in every case measured).
BAYES_PASSES = 40
#: most (y, z) pairs the learned denoiser is fitted on (a random subset beyond that).
LEARNED_PAIRS = 2_000_000


def _z_reconstruction(z, B, A, Q, act):
    """Q^T A sigma(B Q z) for rows z (the linear reconstruction in the law's basis); sign(0) = +1."""
    from .theory.structured import _code

    x = z if Q is None else z @ Q.T
    out = _code(act, x @ B.T) @ A.T
    return out if Q is None else out @ Q


def _draws(law, d, count, seed, batch=2000):
    rng = np.random.default_rng(seed)
    for start in range(0, count, batch):
        yield law.sample(rng, (min(batch, count - start), d))


def effective_channel(law, B, A, Q, act, count, seed) -> dict:
    """mu, sigma^2 of z_lin = mu (z + sigma w) fitted on ``count`` fresh draws, and the learned denoiser.

    With z_lin = Q^T A sigma(B Q z) (sign(0) = +1) and sums over all draws and coordinates:
    mu = sum z_lin z / sum z^2 and sigma^2 = sum (z_lin - mu z)^2 / (mu^2 sum z^2). The learned
    denoiser is the isotonic regression of z on y = z_lin / mu over the same draws (at most
    ``LEARNED_PAIRS`` pairs, a random subset beyond that).

    Parameters
    ----------
    law : Law
        The coordinate law of z (:class:`~twolayer.theory.priors.Law`).
    B : ndarray
        n x d encoder.
    A : ndarray
        d x n decoder.
    Q : ndarray or None
        d x d orthogonal rotation of the source x = Q z (None: the identity).
    act : Activation
        The code sigma, an :class:`~twolayer.activations.Activation` instance (not a name).
    count : int
        Number of fresh draws of z (each a vector of d coordinates).
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng`` for the draws and for the subset.

    Returns
    -------
    dict
        ``mu`` (float), ``sigma2`` (float) and ``learned``, a callable mapping a 1-D array of y to the
        fitted nondecreasing estimates of z (y outside the fitted range clipped to it).
    """
    from sklearn.isotonic import IsotonicRegression

    zz = zl = ll = 0.0
    ys, zs = [], []
    for z in _draws(law, B.shape[1], count, seed):
        lin = _z_reconstruction(z, B, A, Q, act)
        zz, zl, ll = zz + np.sum(z * z), zl + np.sum(z * lin), ll + np.sum(lin * lin)
        ys.append(lin.ravel())
        zs.append(z.ravel())
    mu = zl / zz
    resid = (ll - 2 * mu * zl + mu * mu * zz) / zz  # mean (z_lin - mu z)^2, per unit of E z^2 = 1
    y, z = np.concatenate(ys) / mu, np.concatenate(zs)
    if y.size > LEARNED_PAIRS:
        keep = np.random.default_rng(seed).choice(y.size, LEARNED_PAIRS, replace=False)
        y, z = y[keep], z[keep]
    learned = IsotonicRegression(out_of_bounds="clip").fit(y, z)
    return {"mu": float(mu), "sigma2": float(resid / mu**2), "learned": learned.predict}


def score_decoders(law, B, A, Q, act, count: int, seed: int, passes=None) -> tuple[dict, dict]:
    """The channel fitted on ``count`` draws, and every decoder's risk on ``count`` other draws.

    Parameters
    ----------
    law, B, A, Q, act
        The law, the encoder, the linear decoder, the rotation (None: identity) and the activation.
    count : int
        Fitting draws, and test draws (the same number).
    seed : int
        The run's seed: fitting draws from ``[seed, FIT_STREAM]``, test draws from ``[seed, TEST_STREAM]``.
    passes : dict, optional
        More decoders of the 1-bit code, scored on the same test draws at every pass: name -> a
        function of the codes sign(B Q z) (N x n) returning a list of estimates of z, one per pass.

    Returns
    -------
    (dict, dict)
        :func:`effective_channel`'s dict, and ``{decoder: (risk, standard error)}`` for "linear",
        "denoiser" and "learned-denoiser", all scored on the same test draws; for each decoder of
        ``passes``, ``{name: [(risk, standard error) per pass]}`` too.
    """
    d = B.shape[1]
    channel = effective_channel(law, B, A, Q, act, count, [seed, FIT_STREAM])
    decoders = {
        "linear": lambda lin: lin,
        "denoiser": lambda lin: law.denoise(lin / channel["mu"], channel["sigma2"]),
        "learned-denoiser": lambda lin: channel["learned"]((lin / channel["mu"]).ravel()).reshape(lin.shape),
    }
    passes = passes or {}
    errors = {name: [] for name in decoders}
    pass_errors = {name: [] for name in passes}
    BQ = B if Q is None else B @ Q
    for z in _draws(law, d, count, [seed, TEST_STREAM]):  # paired: every decoder on the same draws
        lin = _z_reconstruction(z, B, A, Q, act)
        for name, decode in decoders.items():
            errors[name].append(np.sum((z - decode(lin)) ** 2, axis=1) / d)
        if passes:
            from .theory.structured import sign_code

            code = sign_code(z @ BQ.T)
            for name, decode in passes.items():
                pass_errors[name].append([np.sum((z - est) ** 2, axis=1) / d for est in decode(code)])

    def mean_se(e):
        return float(e.mean()), float(e.std(ddof=1) / math.sqrt(e.size))

    scored = {name: mean_se(np.concatenate(errs)) for name, errs in errors.items()}
    for name, chunks in pass_errors.items():
        scored[name] = [mean_se(np.concatenate(per_pass)) for per_pass in zip(*chunks)]
    return channel, scored


def _amp_decoders(config, law, BQ, rate) -> tuple[dict, dict]:
    """The GLM-VAMP decoders of the run (``bayes``, ``amp:L``) as pass-wise decoders, and their record fields.

    Always ``predicted_risk_bayes``: the Bayes benchmark of the Gaussian-optimal encoder in the
    limit (:func:`twolayer.theory.amp.bayes_risk`). For ``bayes`` and ``amp:L`` also the state
    evolution of this encoder's own spectrum (``predicted_risk_encoder_per_pass`` and its fixed
    point ``predicted_risk_bayes_encoder``); for ``amp:L`` the start (the algorithm with its
    predicted precisions, decoder ``amp-start``) and the trained decoder (decoder ``amp``,
    ``decoder_steps`` Adam steps on draws from ``[seed, AMP_STREAM]``), reported beside GLM-VAMP
    run to its fixed point on the same draws (decoder ``bayes``).
    """
    from .config import decoder_layers
    from .theory.amp import bayes_risk, encoder_spectrum, state_evolution

    fields = {"predicted_risk_bayes": bayes_risk(law, rate)}
    layers = decoder_layers(config.decoder)
    if config.decoder != "bayes" and layers is None:
        return {}, fields
    from .simulations.amp import initial_unrolled, train_unrolled, vamp_decode

    own = state_evolution(law, rate, spectrum=encoder_spectrum(BQ), passes=BAYES_PASSES, tol=0.0)
    limit = state_evolution(law, rate, passes=BAYES_PASSES, tol=0.0)
    fields["predicted_risk_bayes_encoder"] = own.fixed_point
    if config.decoder == "bayes":
        fields.update(predicted_risk=fields["predicted_risk_bayes"],
                      predicted_risk_encoder_per_pass=own.risk[1:].tolist(),
                      predicted_risk_per_pass=limit.risk[1:].tolist())
        return {"bayes": lambda code: vamp_decode(code, BQ, law, BAYES_PASSES)}, fields
    start = initial_unrolled(law, BQ, layers)
    trained, losses = train_unrolled(start, steps=config.decoder_steps, seed=[config.seed, AMP_STREAM])
    fields.update(predicted_risk=float(limit.risk[layers]),
                  predicted_risk_encoder_per_pass=own.risk[1:layers + 1].tolist(),
                  predicted_risk_per_pass=limit.risk[1:layers + 1].tolist(),
                  amp_precisions_start=np.exp(start.log_precisions).tolist(),
                  amp_precisions=np.exp(trained.log_precisions).tolist(),
                  decoder_loss_first=float(losses[:10].mean()) if losses.size else None,
                  decoder_loss_last=float(losses[-10:].mean()) if losses.size else None)
    return {"amp-start": lambda code: start.decode(code, every_layer=True),
            "amp": lambda code: trained.decode(code, every_layer=True),
            "bayes": lambda code: vamp_decode(code, BQ, law, BAYES_PASSES)}, fields


def run_structured(config, progress: bool = False):
    """:func:`twolayer.run` for a structured source: ``(record, TrainResult)`` (module docstring).

    Parameters
    ----------
    config : RunConfig
        A run whose ``data`` is a structured source (``source_kind == "structured"``).
    progress : bool
        Show a training progress bar on stderr (default False).

    Returns
    -------
    record : dict
        :meth:`~twolayer.simulations.TrainResult.as_record` with its ``final_risk`` renamed
        ``gaussian_equivalent_risk``, plus ``data``, ``law``, ``rotated``, ``decoder``, ``eval_samples``,
        ``final_risk`` (with ``final_risk_stderr`` and ``final_risk_estimator``) of the chosen decoder,
        ``predicted_risk`` and ``relative_gap`` (None where there is no prediction),
        the risks ``risk_linear``, ``risk_denoiser``, ``risk_learned_denoiser``, ``risk_linear_refit``
        (each with ``_stderr``), the fitted channel ``effective_mu`` and ``effective_sigma2``, the
        predictions ``predicted_risk_linear``, ``predicted_risk_denoiser``, ``predicted_sigma2`` and
        ``predicted_risk_denoiser_given_linear``, the finite-d predictions of the sign code
        (``predicted_risk_linear_finite_d``, ``predicted_sigma2_finite_d``,
        ``predicted_risk_denoiser_finite_d`` and ``..._given_linear``: the channel with the norm the
        code does not see, theory/structured.md), ``encoder_localisation`` (rows of B Q), ``sign_at_zero``.
    result : TrainResult
        The trained network (:func:`twolayer.simulations.train`).

    Raises
    ------
    ValueError
        Invalid training options (from :func:`twolayer.simulations.train`).
    twolayer.simulations.TrainingDivergedError
        When training diverges (a ``RuntimeError``).

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.
    .. [2] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    from .activations import get_activation
    from .simulations import train
    from .simulations.metrics import row_localisation
    from .theory import min_risk
    from .theory.priors import effective_noise, haar_rotation, parse_source
    from .theory.structured import structured_linear_decoder, structured_risk

    law, rotated = parse_source(config.data)
    d, n = config.d, config.code_size()
    seed = config.seed
    act = get_activation(config.activation)
    Q = haar_rotation(d, [seed, ROTATION_STREAM]) if rotated else None
    result = train(
        d, n, activation=config.activation, method=config.method, law=law, rotation=Q, steps=config.steps,
        optimizer=config.optimizer, lr=config.lr, schedule=config.schedule, batch_size=config.batch_size or 256,
        parametrization=config.parametrization, init=config.init, seed=seed, dtype=config.dtype, progress=progress,
    )
    B, A = result.B, result.A
    count = config.eval_samples

    gaussian_value = float(min_risk(n / d, activation=act))
    predicted = {"linear": gaussian_value}
    if gaussian_value < 1:
        predicted["denoiser"] = predicted["learned-denoiser"] = law.mmse(effective_noise(gaussian_value))

    passes, amp = _amp_decoders(config, law, B if Q is None else B @ Q, n / d) if act.name == "sign" else ({}, {})
    channel, scored = score_decoders(law, B, A, Q, act, count, seed, passes)

    chosen = "amp" if config.decoder.startswith("amp:") else config.decoder
    if chosen in passes:
        (final, stderr), estimator = scored[chosen][-1], "fresh samples"
    elif config.decoder == "linear" and law.is_gaussian_mixture:
        est = structured_risk(B, A, law, rotation=Q, activation=act, draws=max(100, count // 20),
                              seed=[seed, TEST_STREAM])
        final, stderr, estimator = est.value, est.stderr, "supports (Rao-Blackwellised)"
    else:
        (final, stderr), estimator = scored[config.decoder], "fresh samples"

    # the best linear decoder for the learned encoder (moments from independent draws): training uses a
    # smoothed sign, which maps an exact 0 to 0, so on sparse data the trained A can be fitted to a
    # ternary code that the 1-bit code (sign(0) = +1) does not reproduce
    refit = structured_linear_decoder(B, law, rotation=Q, activation=act, seed=[seed, FIT_STREAM])
    refit_risk = structured_risk(B, refit, law, rotation=Q, activation=act,
                                 draws=max(100, count // 20) if law.is_gaussian_mixture else count,
                                 seed=[seed, TEST_STREAM])

    record = result.as_record()
    record["gaussian_equivalent_risk"] = record.pop("final_risk")  # the Gaussian with the same second moments
    for key in ("predicted_risk", "relative_gap", "final_risk_trained_decoder"):
        record.pop(key, None)
    target = amp.pop("predicted_risk") if "predicted_risk" in amp else predicted.get(config.decoder)
    record.update(
        data=config.data, law=law.spec, rotated=rotated, decoder=config.decoder,
        final_risk=final, final_risk_stderr=stderr, final_risk_estimator=estimator, eval_samples=count,
        predicted_risk=target,
        relative_gap=None if target is None else (final - target) / target,
        predicted_risk_linear=predicted["linear"], predicted_risk_denoiser=predicted.get("denoiser"),
        effective_mu=channel["mu"], effective_sigma2=channel["sigma2"],
        predicted_sigma2=effective_noise(gaussian_value) if gaussian_value < 1 else None,
        sign_at_zero=1,
        encoder_localisation=row_localisation(B if Q is None else B @ Q),  # in the law's basis
        risk_linear_refit=refit_risk.value, risk_linear_refit_stderr=refit_risk.stderr,
    )
    for name, value in scored.items():
        key = "risk_" + name.replace("-", "_")
        if isinstance(value, list):  # per pass: the last pass as the decoder's risk, and the whole curve
            record[key + "_per_pass"] = [v for v, _ in value]
            value = value[-1]
        record[key], record[key + "_stderr"] = value
    record.update(amp)
    if config.record_spectrum:  # i.i.d. unit-variance coordinates (rotated or not): second moment I
        record["spectrum"] = [1.0] * d
    # the channel prediction given the linear risk actually reached (separates the scalar-channel
    # approximation from how close training came to the Gaussian value)
    reached = scored["linear"][0]
    record["predicted_risk_denoiser_given_linear"] = law.mmse(effective_noise(reached)) if reached < 1 else None
    record.update(_finite_d_predictions(law, d, gaussian_value, reached, act))
    return record, result


def _finite_d_predictions(law, d, gaussian_value, reached, act) -> dict:
    """The channel at this d, with the norm the 1-bit code does not see (:func:`~twolayer.theory.priors.finite_d_channel`).

    ``predicted_risk_linear_finite_d``, ``predicted_sigma2_finite_d`` and
    ``predicted_risk_denoiser_finite_d`` from the Gaussian value; ``..._finite_d_given_linear`` from
    the linear risk the run reached. Nones for codes other than sign and where a risk is not in (0, 1).
    """
    from .theory.priors import finite_d_channel

    keys = ("predicted_risk_linear_finite_d", "predicted_sigma2_finite_d", "predicted_risk_denoiser_finite_d",
            "predicted_risk_denoiser_finite_d_given_linear")
    fields = dict.fromkeys(keys)
    if act.name != "sign" or not 0 < gaussian_value < 1:
        return fields
    model = finite_d_channel(law, d, gaussian_value)
    fields.update(zip(keys, (model["risk_linear"], model["sigma2"], model["risk_denoiser"])))
    if 0 < reached < 1:
        try:
            fields[keys[3]] = finite_d_channel(law, d, linear_risk=reached)["risk_denoiser"]
        except ValueError:  # a linear risk below what the model reaches: no prediction
            pass
    return fields
