r"""One run: :func:`run` (``RunConfig -> record``), for the command line, the sweep workers and the figures.

* Gaussian source (``data = "gaussian"``): :func:`twolayer.simulations.train` on N(0, Sigma)
  with Sigma from ``spectrum`` (isotropic, ``powerlaw:ALPHA`` or a file); the record is
  :meth:`~twolayer.simulations.TrainResult.as_record` (``final_risk`` is the exact population
  risk of the trained autoencoder, with the decoder described there).
* A data set: :func:`twolayer.universality.data_experiment` (held-out risk of the encoder
  trained on the training rows, Gaussian and scale-mixture predictions, controls).
* A structured source (``bernoulli-gaussian:P``, ...): :func:`twolayer.structured_run.run_structured`
  (minibatches of fresh samples; the risk under the law itself, with a standard error, for the
  chosen decoder, beside its prediction).

With ``save_params`` the trained decoder ``A``, encoder ``B``, the start ``B0`` and the
record (as JSON text) are written to that ``.npz`` file; ``{rate}``, ``{seed}``, ... in the
name are replaced by the run's options (so that the runs of a sweep write separate files).
"""

from __future__ import annotations

import json

import numpy as np

from .config import RunConfig

__all__ = ["run", "load_params"]


def run(config, *, progress: bool = False) -> dict:
    """Execute one run; return its record (a flat JSON-serialisable dict).

    Parameters
    ----------
    config : RunConfig or dict
        The run (a dict is validated with :meth:`RunConfig.from_dict`).
    progress : bool
        Show a progress bar on stderr for runs longer than two seconds.

    Returns
    -------
    dict
        The configuration as run, ``final_risk``, ``predicted_risk`` and the other metrics
        (with ``save_params``: ``saved_params``, the file written).

    Raises
    ------
    ValueError
        An invalid configuration or data set, or a ``save_params`` path that cannot be written
        (checked before training).
    twolayer.simulations.TrainingDivergedError
        When training diverges (a ``RuntimeError``, not a ValueError).

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    .. [2] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.

    Examples
    --------
    >>> from twolayer import RunConfig, run
    >>> record = run(RunConfig(d=16, rate=0.5, steps=50, dtype="float64"))
    >>> record["n"], record["predicted_risk"] == record["predicted_risk"]
    (8, True)
    """
    config = config if isinstance(config, RunConfig) else RunConfig.from_dict(dict(config))
    save_to = None
    if config.save_params is not None:
        save_to = config.save_params.format_map(config.to_dict())
        _check_writable(save_to)
    kind = config.source_kind
    if kind == "data":
        record, result = _run_data(config, progress)
    elif kind == "structured":
        from .structured_run import run_structured

        record, result = run_structured(config, progress)
    else:
        record, result = _run_gaussian(config, progress)
    _name_risks(record, kind)
    if save_to is not None:
        np.savez(save_to, A=result.A, B=result.B, B0=result.B0, record=json.dumps(record))
        record["saved_params"] = save_to
    return record


def _name_risks(record: dict, kind: str) -> None:
    """Give every record the risk of the network as trained and of its encoder with a refitted decoder.

    ``trained_network_risk``: the trained (A, B) itself -- for the Gaussian source its exact risk (the
    decoder A*(B) is part of the network with parametrization optimal-decoder), for a structured source
    the trained decoder's risk under the law (``risk_linear``); for a data set its training-row risk
    ``trained_network_train_risk`` (the test rows are scored with refitted decoders only).
    ``refitted_decoder_risk``: the same encoder with the refitted decoder (A*(B), the least-squares
    decoder on the training rows, or the best linear decoder under the law); None when nothing is refitted.
    ``final_risk`` keeps its meaning (the refitted decoder's for samples runs with an untied decoder).
    """
    if kind == "structured":
        record["trained_network_risk"] = record.get("risk_linear")
        record["refitted_decoder_risk"] = record.get("risk_linear_refit")
    elif kind == "gaussian":
        record.setdefault("trained_network_risk", record.get("final_risk"))
        record.setdefault("refitted_decoder_risk", None)


def _run_gaussian(config, progress):
    import warnings

    from .simulations import train
    from .simulations.training import PenaltyWarning
    from .spectra import eigenvalues, load_spectrum
    from .theory.regularised import penalty_warning

    source = {}
    if config.spectrum is not None:
        name, arr = load_spectrum(config.spectrum, config.d)
        if arr is not None:
            source[name] = arr
    every = 0
    if config.theory_curve:
        from .learning_curves import record_every

        every = record_every(config.steps)
    with warnings.catch_warnings():  # the record carries it (penalty_warning)
        warnings.simplefilter("ignore", PenaltyWarning)
        result = train(
            config.d, config.code_size(), activation=config.activation, method=config.method,
            steps=config.steps, optimizer=config.optimizer, lr=config.lr, schedule=config.schedule,
            batch_size=config.batch_size or 256, tol=config.tol, parametrization=config.parametrization,
            init=config.init, init_scale=config.init_scale, start=config.start or "independent", noise=config.noise,
            weight_decay=config.weight_decay, l1=config.l1, contractive=config.contractive, seed=config.seed,
            dtype=config.dtype, progress=progress, record_every=every, **source,
        )
    record = result.as_record()
    record["penalty_warning"] = penalty_warning(config.activation, config.parametrization, config.weight_decay,
                                                config.l1, config.contractive)
    if config.method == "population" and config.optimizer == "sgd" and config.schedule == "constant":
        from .theory.linear_dynamics import time_of_steps

        record["flow_time"] = time_of_steps(result.steps, result.config["lr"])  # t of L = E|x - x_hat|^2 / 2
    if config.theory_curve:
        from .learning_curves import curve_record

        record.update(curve_record(result, config))
    if config.noise:
        record.update(_denoising_prediction(config, source.get("spectrum", source.get("cov")), record))
    if config.orbits:
        record.update(_orbit_prediction(config, source.get("spectrum", source.get("cov")), record))
    record["data"] = "gaussian"
    record["spectrum_name"] = config.spectrum or "isotropic"
    if config.record_spectrum:
        lam = eigenvalues(config.spectrum, config.d) if config.spectrum else np.ones(config.d)
        record["spectrum"] = [float(v) for v in lam]
    return record, result


def _denoising_prediction(config, spectrum, record) -> dict:
    """``predicted_risk_denoising`` (where derived: sign, relu isotropic, linear; erf and tanh: the infimum) and its
    relative gap."""
    from .theory.regularised import denoising_min_risk

    if spectrum is not None and np.ndim(spectrum) == 2:
        spectrum = np.linalg.eigvalsh(spectrum)
    try:
        predicted = denoising_min_risk(record["n"] / record["d"], config.noise, activation=config.activation,
                                       spectrum=spectrum)
    except ValueError:  # not derived for this activation and source
        return {"predicted_risk_denoising": None}
    gap = record["final_risk_denoising"] / predicted - 1.0 if predicted > 0 else None
    return {"predicted_risk_denoising": predicted, "relative_gap_denoising": gap}


def _orbit_prediction(config, spectrum, record) -> dict:
    """``predicted_risk_orbit`` (the exact risk of the best sign-flip orbit encoder found for this covariance,
    :func:`twolayer.theory.orbits.orbit_structure`, seed 0), its (P, k) and ``relative_gap_orbit``."""
    from .theory.orbits import orbit_structure

    if spectrum is None:
        spectrum = np.ones(record["d"])
    elif np.ndim(spectrum) == 2:
        spectrum = np.linalg.eigvalsh(spectrum)
    st = orbit_structure(record["n"] / record["d"], spectrum, orbits=config.orbits)
    return {"predicted_risk_orbit": st["risk"], "orbit_shape": [st["P"], st["k"]],
            "relative_gap_orbit": record["final_risk"] / st["risk"] - 1.0}


def _run_data(config, progress):
    from .universality import _data_experiment

    return _data_experiment(
        data=config.data, rate=config.rate, n=config.n, d=config.d, activation=config.activation,
        steps=config.steps, theory_steps=config.theory_steps, seed=config.seed,
        remove_item_mean=config.remove_item_mean, contrast_normalize=config.contrast_normalize,
        whiten=None if config.whiten == "none" else config.whiten, test_fraction=config.test_fraction,
        max_items=config.max_items, batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
        schedule=config.schedule, init=config.init, controls=config.controls, progress=progress,
        dtype=config.dtype, record_spectrum=config.record_spectrum, decoder=config.decoder,
        decoder_steps=config.decoder_steps, decoder_basis=config.decoder_basis, gmm_optimum=config.gmm_optimum,
        model_training=config.model_training,
        orbits=config.orbits or 0, validation=config.validation,
    )


def _check_writable(path: str) -> None:
    """Refuse a save path before the run rather than after it (missing folder, a folder, a database).

    An existing .npz file is replaced (a rerun of the same run writes the same file).
    """
    from ._files import check_output_path

    check_output_path(path, overwrite=True, what="save_params file")


def load_params(path) -> dict:
    """Read a ``save_params`` file: ``{"A", "B", "B0": float64 arrays, "record": dict}``.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file written by :func:`run` with ``save_params``.

    Returns
    -------
    dict
        ``A`` (d x n decoder), ``B`` (n x d encoder), ``B0`` (n x d initial encoder), arrays as saved,
        and ``record``, the run's record decoded from JSON.

    Raises
    ------
    OSError
        If the file cannot be read; ``KeyError`` if an array is missing.
    """
    with np.load(path, allow_pickle=False) as f:
        return {"A": f["A"], "B": f["B"], "B0": f["B0"], "record": json.loads(str(f["record"]))}
