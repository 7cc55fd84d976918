r"""Predicted learning curves: beside a run (``theory_curve``) and on their own (``twolayer dynamics``).

Conventions (theory/dynamics.md): time t is the gradient-flow time of L = (1/2) E||x - x_hat||^2,
and ``twolayer train`` at learning rate ``lr`` runs t = 2 lr per step; the source is the isotropic
Gaussian.

**Sign code, optimal decoder** (:mod:`twolayer.theory.sign_dynamics`, derived): ``map`` -- the
spectral map from the run's own start; ``flow`` -- the spectral flow from it; ``limit`` -- the
map from Marchenko-Pastur (init gaussian).

**Linear code** (:mod:`twolayer.theory.linear_dynamics`), three predictions, from the most to
the least specific:

* ``map``   -- the discrete gradient-descent map from the run's own start B(0) (exact: equal to
  the simulated curve up to rounding);
* ``flow``  -- the gradient flow from the same start (exact for lr -> 0; off by O(lr));
* ``limit`` -- the proportional limit, B(0) = eps G / sqrt(d) with Marchenko-Pastur singular
  values (exact as d -> infinity; init gaussian only).

From an independent start (A(0) drawn on its own) no closed form holds. For a small start the
linearised flow dA/dt = B^T, dB/dt = A^T grows A + B^T as e^t and shrinks A - B^T as e^{-t}, so
the run follows the tied curve from B_eff(0) = (B(0) + A(0)^T) / 2, i.e. eps / sqrt(2) in the
limit (derived, small-eps approximation; measured in theory/dynamics.md). Then ``flow`` and
``limit`` are that approximation and there is no ``map``.
"""

from __future__ import annotations

import numpy as np

from .theory.linear_dynamics import linear_curve, marchenko_pastur_curve, time_of_steps
from .theory.sign_dynamics import encoder_spectrum, sign_curve
from .theory.sign_dynamics import limit_curve as sign_limit_curve

#: about this many points of a run's recorded curve (``record_every = steps // CURVE_POINTS``).
CURVE_POINTS = 200


def record_every(steps: int) -> int:
    """Steps between two recorded points of a ``theory_curve`` run (about :data:`CURVE_POINTS` points).

    Parameters
    ----------
    steps : int
        The run's step budget.

    Returns
    -------
    int
        max(1, steps // CURVE_POINTS).

    Examples
    --------
    >>> record_every(2000), record_every(150)
    (10, 1)
    """
    return max(1, int(steps) // CURVE_POINTS)


def curve_record(result, config) -> dict:
    """The simulated curve of a run and its three predictions, as record fields (lists) and largest gaps.

    Parameters
    ----------
    result : TrainResult
        A run trained with ``record_every`` > 0 (its ``history``), its start ``B0`` and its ``config``.
    config : RunConfig
        The run's configuration (``theory_curve`` checked there).

    Returns
    -------
    dict
        ``curve_step``, ``curve_time``, ``curve_risk`` (simulated), ``curve_theory_map``,
        ``curve_theory_flow`` (and ``curve_theory_limit`` for init gaussian), and
        ``curve_gap_map``, ``curve_gap_flow``, ``curve_gap_limit``: the largest absolute gap to the
        simulated risk over the recorded points.
    """
    steps = np.asarray(result.history["step"], dtype=np.int64)
    risk = np.asarray(result.history["risk"], dtype=np.float64)
    lr = float(result.config["lr"])
    times = time_of_steps(steps, lr)
    kw = {"noise": config.noise, "weight_decay": config.weight_decay}
    n, d = result.B0.shape
    if config.activation == "sign":
        q0, weights, rho0 = encoder_spectrum(result.B0)
        curves = {"map": sign_curve(q0, weights, n / d, times, lr, rho0),
                  "flow": sign_curve(q0, weights, n / d, times, lr, rho0, discrete=False)}
        if config.init == "gaussian":
            curves["limit"] = sign_limit_curve(times, n / d, lr, rho0=config.init_scale**2)
    else:
        start, eps, exact = effective_start(config, d, n)
        if exact:  # the run's own start as trained (rounded to its dtype), not a second draw
            start = result.B0
        curves = {"map": linear_curve(start, times, eta=2.0 * lr, **kw)} if exact else {}
        curves["flow"] = linear_curve(start, times, **kw)
        if config.init == "gaussian":
            curves["limit"] = marchenko_pastur_curve(times, n / d, eps, **kw)
    record = {"curve_step": steps.tolist(), "curve_time": times.tolist(), "curve_risk": risk.tolist()}
    for name, curve in curves.items():
        record[f"curve_theory_{name}"] = curve.tolist()
        record[f"curve_gap_{name}"] = float(np.max(np.abs(curve - risk))) if risk.size else None
    return record


def effective_start(config, d: int, n: int):
    """(B_start, eps, exact): the tied start whose exact curve predicts the run, its scale, and whether exact.

    ``start`` tied: B(0) itself, eps, True. ``start`` independent: (B(0) + A(0)^T) / 2 with the run's own
    draws (``init_params`` from ``config.seed``), eps / sqrt(2), False (the small-eps approximation).

    Parameters
    ----------
    config : RunConfig
        init, init_scale, start and seed of the run.
    d, n : int
        The run's sizes.

    Returns
    -------
    tuple
        (n x d array, float, bool).
    """
    from .simulations.model import init_params

    params = init_params(d, n, parametrization="untied", init=config.init, seed=config.seed,
                         init_scale=config.init_scale, start=config.start)
    if config.start == "tied":
        return params["B"], config.init_scale, True
    return (params["B"] + params["A"].T) / 2.0, config.init_scale / np.sqrt(2.0), False


def dynamics_records(config, times, *, finite: bool) -> list[dict]:
    """Predicted R(t) without simulating: the records of ``twolayer dynamics``.

    Parameters
    ----------
    config : RunConfig
        rate, init, init_scale, noise, weight_decay, seed, lr and d (validated as for ``theory_curve``).
    times : sequence of float
        Flow times t >= 0.
    finite : bool
        True: the finite-d curve from the start B(0) that ``twolayer train --seed`` draws at ``config.d``
        (the discrete map when ``config.lr`` is given, else the flow); False: the proportional limit.

    Returns
    -------
    list of dict
        One record per time: ``time``, ``risk``, ``prediction`` and the options.

    Raises
    ------
    ValueError
        A negative or non-finite time, or the limit asked for a start other than init gaussian.
    """
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError("times must be finite numbers >= 0")
    kw = {"noise": config.noise, "weight_decay": config.weight_decay}
    if config.activation == "sign":
        risk, prediction, rate = _sign_prediction(config, times, finite)
    else:
        risk, prediction, rate = _linear_prediction(config, times, finite, kw)
    common = {"activation": config.activation, "rate": rate, "d": config.d if finite else None,
              "init_scale": config.init_scale, "start": config.start, "noise": config.noise,
              "weight_decay": config.weight_decay, "lr": config.lr, "prediction": prediction}
    return [{"time": float(t), "risk": float(r), **common} for t, r in zip(times, risk)]


def _linear_prediction(config, times, finite, kw):
    eta = None if config.lr is None else 2.0 * config.lr
    exact = config.start == "tied"
    how = ("discrete map" if eta else "gradient flow") + ("" if exact else
                                                         ", small-init approximation of the independent start")
    if finite:
        n = config.code_size()
        start, _, _ = effective_start(config, config.d, n)
        return linear_curve(start, times, eta=eta, **kw), f"finite d = {config.d}, seed {config.seed}, {how}", n / config.d
    _check_limit(config)
    rate = config.rate if config.rate is not None else config.code_size() / config.d
    eps = config.init_scale if exact else config.init_scale / np.sqrt(2.0)
    return (marchenko_pastur_curve(times, rate, eps, eta=eta, **kw),
            f"proportional limit (Marchenko-Pastur), {how}", rate)


def _sign_prediction(config, times, finite):
    """The spectral map at ``config.lr`` (or the pure flow without it; derived, theory/dynamics.md)."""
    from .simulations.model import init_params

    discrete = config.lr is not None
    lr = config.lr if discrete else 0.0
    how = ("discrete map at lr " + f"{lr:g}" if discrete else "gradient flow") + " of the spectrum (derived)"
    if finite:
        n = config.code_size()
        B0 = init_params(config.d, n, parametrization="optimal-decoder", init=config.init, seed=config.seed,
                         init_scale=config.init_scale)["B"]
        q0, weights, rho0 = encoder_spectrum(B0)
        return (sign_curve(q0, weights, n / config.d, times, lr, rho0, discrete=discrete),
                f"finite d = {config.d}, seed {config.seed}, {how}", n / config.d)
    _check_limit(config)
    rate = config.rate if config.rate is not None else config.code_size() / config.d
    return (sign_limit_curve(times, rate, lr, discrete=discrete, rho0=config.init_scale**2),
            f"proportional limit (Marchenko-Pastur), {how}", rate)


def _check_limit(config):
    if config.init != "gaussian":
        raise ValueError(f"the proportional limit is derived for init gaussian (Marchenko-Pastur), got init "
                         f"{config.init!r}; give --d for the finite-d curve of that start")
