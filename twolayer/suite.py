r"""The universality suite: several data sets x preprocessings x rates in one resumable sweep, one row per cell.

``twolayer universality`` (:mod:`twolayer.cli` prints; this module returns data). A *cell* is
one data-set run of :func:`twolayer.run` (:func:`twolayer.universality.data_experiment`): the
sign autoencoder trained on the training rows of one data set, preprocessed one way, at one
rate, scored on the held-out rows, beside the Gaussian predictions, the controls and the
diagnostics of its record. The cells are the runs of one sweep spec
(:func:`suite_spec`: ``[grid]`` data x remove_item_mean x rate, every other option from the
option table :data:`twolayer.config.OPTIONS` through :class:`~twolayer.config.RunConfig`),
executed by :func:`twolayer.sweep.run_sweep` into its SQLite store, so the suite is resumable
after a kill at any moment (finished cells are never redone) and shares its runs with
``twolayer sweep`` / ``twolayer results``: a cell is the same run, with the same key, as
``twolayer train --data D --rate R`` with the same options.

Per cell (:func:`cell_row`): the record's fields, plus

* ``predictions``: every prediction of the record (:data:`PREDICTIONS`: the proportional-limit
  Gaussian ``predicted_risk``, its scale-mixture correction ``predicted_risk_mixture``, the
  spiked-spectrum prediction ``predicted_risk_spiked`` with its correction, and,
  with the controls, the finite-d Gaussian risk of the theory encoder and its mixture
  correction, its risk under a zero-mean 4-component mixture, under the rows grouped by
  contrast and by brightness x contrast, and the best sign code for a
  4-component mixture with means), name -> value;
* ``best_prediction`` / ``best_prediction_name``: the prediction closest to the measured
  held-out risk in ratio, i.e. the one minimising |log(final_risk / prediction)|, and
  ``best_ratio`` = final_risk / best_prediction;
* ``least_squares_factor``, ``best_prediction_at_n_train``, ``best_ratio_at_n_train``: the theory at
  the run's own data size: the best prediction times (N - 1)/(N - n - 1), the least-squares
  decoder's out-of-sample excess on N training rows (:mod:`twolayer.theory.finite_sample`; None
  when the fit interpolates, n >= N - 1), and the held-out risk over it; a prediction already at
  the data size (:data:`AT_SAMPLE_SIZE`: the model twin, ``bc-twin``) is kept as it is;
* ``flags``: warnings about the cell (:data:`FLAGS`);
* ``closest_relative_error``: min over the predictions of |prediction - final_risk| / final_risk,
  and ``within_tolerance``: whether that is at most :data:`TOLERANCE` (None for a cell that is
  not counted: not done, or n >= n_train / 2).

:func:`suite_count` counts the cells within :data:`TOLERANCE`. Several seeds (``seed=[0, 1,
2]``) make the seed a grid axis: each seed is its own cell (its own data split, initialisation
and test items), and :func:`seed_summary` gives per (data set, preprocessing, rate) the mean
held-out risk over the seeds with its spread, the mean of each prediction, and the best
prediction of the means: the measurement with its training-and-split uncertainty.

The default suite (:data:`DEFAULT_DATA`, :data:`DEFAULT_RATES`, both preprocessings) is the
embedded data sets: 4 data sets x 2 preprocessings x 4 rates = 32 cells.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from .config import OPTIONS, RunConfig, code_size, source_kind
from .sweep import ResultStore, SweepReport, SweepSpec, run_key, run_sweep, spec_from_dict
from .theory.finite_sample import least_squares_factor, risk_at_sample_size
from .universality import FEW_SAMPLES, few_samples_flags

__all__ = [
    "AT_SAMPLE_SIZE",
    "DEFAULT_DATA",
    "DEFAULT_OUT",
    "DEFAULT_RATES",
    "FLAGS",
    "PREDICTIONS",
    "REMOVE_ITEM_MEAN",
    "SuiteResult",
    "TOLERANCE",
    "best_prediction",
    "cell_config",
    "cell_flags",
    "cell_row",
    "check_suite",
    "count_if_exact",
    "run_suite",
    "seed_summary",
    "stale_cells",
    "suite_count",
    "suite_rows",
    "suite_spec",
]

#: the embedded data sets (no download): scikit-learn's digits, scikit-image photographs' patches, lfw_subset.
DEFAULT_DATA = ("digits", "patches:8", "patches:16", "lfw")
#: rates r = n/d of the default suite.
DEFAULT_RATES = (0.1, 0.25, 0.5, 1.0)
#: ``--remove-item-mean`` -> the values of the ``remove_item_mean`` option swept.
REMOVE_ITEM_MEAN = {"no": (False,), "yes": (True,), "both": (False, True)}
#: the results database of ``twolayer universality`` when ``--out`` is not given (current folder).
DEFAULT_OUT = "universality.sqlite"
#: sweep name of the suite's spec (recorded in the store).
SUITE_NAME = "universality-suite"
#: (record field, short label) of every prediction a cell is compared with; None values are skipped.
PREDICTIONS = (
    ("predicted_risk", "gauss"),  # proportional-limit Gaussian min risk, spectrum of Sigma_train
    ("predicted_risk_mixture", "mix"),  # 1 - kappa (1 - predicted_risk)
    ("predicted_risk_spiked", "spiked"),  # the top eigen-direction's arcsin kernel exact (theory/spiked.md)
    ("predicted_risk_spiked_mixture", "mix-s"),  # 1 - kappa (1 - predicted_risk_spiked)
    ("theory_encoder_gaussian_risk", "gauss-d"),  # exact Gaussian risk of the GD-optimal encoder at this d
    ("theory_encoder_mixture_risk", "mix-d"),  # its scale-mixture correction
    ("theory_encoder_gmm_risk", "gmm-d"),  # its risk under a 4-component Gaussian mixture fitted to the training rows
    ("theory_encoder_contrast_risk", "bins-d"),  # its risk under the training rows grouped by contrast (32 bins)
    ("theory_encoder_brightness_contrast_risk", "bc-d"),  # grouped by brightness x contrast (4 x 8), means kept
    ("gmm_optimum_risk", "gmm-opt"),  # the best sign code for a 4-component mixture with means (clusters)
    ("model_training_risk", "bc-train"),  # where the default training stops on the brightness x contrast model
    ("model_twin_risk", "bc-twin"),  # the run's pipeline trained on N rows of that model (the theory at the data size)
)
#: the predictions computed at the run's own training size N (the pipeline trained on N rows): ``best@N`` keeps them.
AT_SAMPLE_SIZE = ("model_twin_risk",)
#: flag -> what it warns about.
FLAGS = {
    **FEW_SAMPLES,  # n_train<d, n>=n_train/2: the one sample-size rule of data runs
    "top_eig>50%": "one eigenvalue holds more than half the variance: the allocation formula is optimistic",
    "kappa_raw>1": "norms more concentrated than a Gaussian's (kappa_raw above 1 by 3 standard errors): "
                   "not a scale mixture",
    "gmm-opt_at_limit": "gmm-opt's L-BFGS stopped at its iteration limit, not converged: an upper bound on the "
                        "model's best code",
}
#: relative tolerance of the count: a cell is within when some prediction p has |p - held-out| <= TOLERANCE * held-out.
TOLERANCE = 0.05
#: the options a suite cell takes from the option table besides data, rate and remove_item_mean.
RUN_OPTIONS = ("activation", "steps", "theory_steps", "controls", "gmm_optimum", "model_training", "seed", "max_items",
               "test_fraction", "contrast_normalize", "whiten", "batch_size", "lr", "optimizer", "schedule", "init", "dtype")


# ----------------------------------------------------------------------------- the spec
def suite_spec(data=None, rates=None, remove_item_mean="both", *, name: str = SUITE_NAME, **options) -> SweepSpec:
    """The sweep of the suite: ``[grid]`` data x remove_item_mean x rate, ``[defaults]`` the other options.

    Every run is validated and resolved by :class:`~twolayer.config.RunConfig` (the defaults of
    :data:`~twolayer.config.OPTIONS`), exactly as a ``twolayer sweep`` spec with the same keys.

    Parameters
    ----------
    data : sequence of str, optional
        Data set specs (default :data:`DEFAULT_DATA`); repeated values are dropped.
    rates : sequence of float, optional
        Rates r = n/d (default :data:`DEFAULT_RATES`); repeated values are dropped.
    remove_item_mean : {"no", "yes", "both"} or bool, optional
        Which preprocessings (default "both": raw, then item mean removed).
    name : str, optional
        The sweep's name (default ``"universality-suite"``).
    **options
        Other run options (keys of :data:`~twolayer.config.OPTIONS`), shared by every cell;
        None values are left out (= the option's default), except ``gmm_optimum``, which the
        suite turns on when the controls run and the code is sign. ``seed`` may be a sequence:
        two or more distinct seeds become the innermost grid axis (one cell per seed).

    Returns
    -------
    SweepSpec
        Runs in table order: data set, then preprocessing, then rate (then seed).

    Raises
    ------
    ValueError
        (:class:`~twolayer.sweep.SpecError`) An unknown data set kind, a bad rate, an unknown
        option, an option that does not apply to data sets, or an invalid combination.

    Examples
    --------
    >>> spec = suite_spec(["digits"], [0.25, 0.5], "yes", steps=50)
    >>> [(run["data"], run["remove_item_mean"], run["rate"], run["steps"]) for run in spec.runs]
    [('digits', True, 0.25, 50), ('digits', True, 0.5, 50)]
    >>> [(run["rate"], run["seed"]) for run in suite_spec(["digits"], [0.25, 0.5], "yes", seed=[0, 1]).runs]
    [(0.25, 0), (0.25, 1), (0.5, 0), (0.5, 1)]
    """
    if isinstance(remove_item_mean, bool):
        means = (remove_item_mean,)
    elif remove_item_mean in REMOVE_ITEM_MEAN:
        means = REMOVE_ITEM_MEAN[remove_item_mean]
    else:
        raise ValueError(f"remove_item_mean: expected one of {', '.join(REMOVE_ITEM_MEAN)}; got {remove_item_mean!r}")
    data = list(DEFAULT_DATA if data is None else ([data] if isinstance(data, str) else data))
    rates = list(DEFAULT_RATES if rates is None else ([rates] if isinstance(rates, (int, float)) else rates))
    if not data or not rates:
        raise ValueError("the suite needs at least one data set and one rate")
    for key in options:
        if key in ("data", "rate", "remove_item_mean", "n"):
            raise ValueError(f"{key} is set by the suite's own arguments, not as an option")
    for spec in data:
        if isinstance(spec, str) and source_kind(spec) != "data":
            raise ValueError(f"data {spec!r} is not a data set; the suite runs data sets (digits, patches:P[:N], lfw, "
                             "mnist:PATH, npz:PATH[:KEY], ...); for the Gaussian and structured sources use "
                             "twolayer train or twolayer sweep")
    seeds = options.pop("seed", None)
    if seeds is not None and not isinstance(seeds, (str, bytes)) and hasattr(seeds, "__iter__"):
        seeds = _unique(OPTIONS["seed"].check(v) for v in seeds)
        if not seeds:
            raise ValueError("seed: expected at least one seed (an integer >= 0)")
        options["seed"] = seeds[0] if len(seeds) == 1 else None
    else:
        options["seed"], seeds = seeds, None
    defaults = {k: v for k, v in options.items() if v is not None}
    if defaults.get("controls", True) and defaults.get("activation", "sign") == "sign":
        defaults.setdefault("gmm_optimum", True)  # the suite's departures from the option defaults
        defaults.setdefault("model_training", True)
    grid = {
        "data": _unique(OPTIONS["data"].check(v) if isinstance(v, str) else v for v in data),
        "remove_item_mean": list(means),
        "rate": _unique(OPTIONS["rate"].check(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                        for v in rates),
    }
    if seeds is not None and len(seeds) > 1:
        grid["seed"] = seeds
    return spec_from_dict({"sweep": {"name": name, "description": "twolayer universality: held-out risk of the "
                                      "sign autoencoder on data sets against the Gaussian predictions"},
                           "grid": grid, "defaults": defaults}, f"<{name}>")


def _unique(values) -> list:
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def check_suite(spec: SweepSpec, runs=None) -> dict:
    """Load each data set of ``runs`` once and check that every rate gives a code (n >= 1).

    Called before anything is trained, so that a missing file or a rate too small for a data
    set's dimension is one error at once, not a failed run per cell.

    Parameters
    ----------
    spec : SweepSpec
        The suite (:func:`suite_spec`).
    runs : list of dict, optional
        The runs to check (default: all of ``spec``).

    Returns
    -------
    dict
        ``(data, seed, max_items)`` -> (number of items, d) of each data set loaded.

    Raises
    ------
    ValueError
        If a data set cannot be loaded (:class:`~twolayer.data.DatasetError`) or a rate gives
        n = round(r d) = 0.
    """
    from .data import load_dataset

    runs = spec.runs if runs is None else runs
    shapes = {}
    for params in runs:
        key = (params["data"], params["seed"], params["max_items"])
        if key not in shapes:
            X = load_dataset(params["data"], seed=params["seed"], max_items=params["max_items"]).X
            shapes[key] = X.shape
        d = shapes[key][1]
        try:
            code_size(params["rate"], d)
        except ValueError as exc:
            raise ValueError(f"data {params['data']!r} (d = {d}): {exc}") from None
    return shapes


# ----------------------------------------------------------------------------- one row per cell
def best_prediction(final_risk, predictions: dict) -> tuple:
    """The prediction closest to ``final_risk`` in ratio: argmin over names of |log(final_risk / value)|.

    Ties (within 1e-12 in log ratio, e.g. the mixture prediction at kappa = 1) go to the first
    name in the order of ``predictions``.

    Parameters
    ----------
    final_risk : float or None
        The measured risk (> 0).
    predictions : dict
        Name -> predicted risk; None and non-positive values are skipped.

    Returns
    -------
    tuple
        ``(name, value)``, or ``(None, None)`` when there is no measured risk or no usable prediction.

    Examples
    --------
    >>> best_prediction(0.5, {"a": 0.3, "b": 0.6, "c": None})
    ('b', 0.6)
    """
    if final_risk is None or not final_risk > 0:
        return None, None
    best = (None, None)
    error = math.inf
    for name, value in predictions.items():
        if value is None or not value > 0:
            continue
        e = abs(math.log(final_risk / value))
        if e < error - 1e-12:  # equal predictions (kappa = 1: mixture = Gaussian) keep the first name
            best, error = (name, value), e
    return best


def cell_flags(record: dict) -> list:
    """The :data:`FLAGS` that apply to one cell's record.

    Parameters
    ----------
    record : dict
        A data run's record (``n``, ``n_train``, ``d``, ``top_eigenvalue_fraction``,
        ``kappa_raw``, ``kappa_stderr``, ``gmm_optimum_converged``; missing fields raise no flag).

    Returns
    -------
    list of str
        Keys of :data:`FLAGS`, in its order.

    Examples
    --------
    >>> cell_flags({"n": 64, "n_train": 100, "d": 640})
    ['n_train<d', 'n>=n_train/2']
    >>> cell_flags({"n": 32, "n_train": 16000, "d": 64, "gmm_optimum_converged": False})
    ['gmm-opt_at_limit']
    """
    flags = few_samples_flags(record.get("n"), record.get("n_train"), record.get("d"))
    if (record.get("top_eigenvalue_fraction") or 0.0) > 0.5:
        flags.append("top_eig>50%")
    raw, se = record.get("kappa_raw"), record.get("kappa_stderr")
    if raw is not None and se is not None and raw > 1.0 + 3.0 * se:
        flags.append("kappa_raw>1")
    if record.get("gmm_optimum_converged") is False:
        flags.append("gmm-opt_at_limit")
    return flags


#: the fields of a cell's row, in order (the record's, then the suite's); ``twolayer universality --json``.
ROW_FIELDS = (
    "data", "remove_item_mean", "rate", "dataset", "d", "n", "n_train", "n_test", "samples_per_dimension",
    "final_risk", "final_risk_stderr", "train_risk",
    "predicted_risk", "predicted_risk_mixture", "theory_encoder_gaussian_risk", "theory_encoder_mixture_risk",
    "predictions", "best_prediction", "best_prediction_name", "best_ratio",
    "least_squares_factor", "best_prediction_at_n_train", "best_ratio_at_n_train",
    "gaussian_twin_risk", "gaussian_twin_risk_stderr", "theory_encoder_risk", "theory_encoder_risk_stderr",
    "gmm_optimum_heldout_risk", "gmm_optimum_heldout_risk_stderr",
    "model_training_heldout_risk", "model_training_heldout_risk_stderr",
    "model_twin_risk_stderr", "model_twin_train_risk",
    "kappa", "kappa_raw", "kappa_stderr", "top_eigenvalue_fraction", "projection_excess_kurtosis",
    "projection_excess_kurtosis_top", "norm_spread", "norm_spread_gaussian", "norm_spread_ratio",
    "flags", "closest_relative_error", "within_tolerance", "seed", "status", "error", "seconds", "run_key", "version",
)


def cell_row(params: dict, metrics: dict | None, *, status: str | None = "done", error: str | None = None,
             seconds: float | None = None, version: str | None = None) -> dict:
    """One cell of the table from its run options and record (the store's ``params`` and ``metrics``).

    Parameters
    ----------
    params : dict
        The run's resolved options.
    metrics : dict or None
        Its record (None: not run, or failed).
    status : str or None, optional
        "done", "failed", or None (not run yet).
    error : str or None, optional
        A failed run's error.
    seconds : float or None, optional
        Wall time of the run.
    version : str or None, optional
        The twolayer version that computed the record (the store's ``version`` column).

    Returns
    -------
    dict
        :data:`ROW_FIELDS` first (None where unknown), then the rest of the record; the
        module docstring says what ``predictions``, ``best_*`` and ``flags`` are.
    """
    rec = dict(metrics or {})
    row = {field: rec.get(field) for field in ROW_FIELDS}
    row.update(data=params["data"], remove_item_mean=bool(params["remove_item_mean"]), status=status, error=error,
               seconds=seconds if seconds is not None else rec.get("seconds"), run_key=run_key(params), version=version)
    if row["rate"] is None:
        row["rate"] = params["rate"]
    predictions = {name: rec[name] for name, _ in PREDICTIONS if rec.get(name) is not None}
    name, value = best_prediction(row["final_risk"], predictions)
    row.update(predictions=predictions, best_prediction=value, best_prediction_name=name,
               best_ratio=row["final_risk"] / value if value else None,
               flags=cell_flags(rec) if metrics is not None else [], seed=params["seed"])
    row["closest_relative_error"] = _closest_relative_error(row["final_risk"], predictions)
    counted = status == "done" and row["closest_relative_error"] is not None and "n>=n_train/2" not in row["flags"]
    row["within_tolerance"] = row["closest_relative_error"] <= TOLERANCE if counted else None
    if rec.get("n") and rec.get("n_train"):  # the same prediction at the run's own training size
        at_n = value if name in AT_SAMPLE_SIZE else risk_at_sample_size(value, rec["n"], rec["n_train"])
        row.update(least_squares_factor=least_squares_factor(rec["n"], rec["n_train"]), best_prediction_at_n_train=at_n,
                   best_ratio_at_n_train=row["final_risk"] / at_n if at_n and row["final_risk"] is not None else None)
    if row["samples_per_dimension"] is None and rec.get("n_train") and rec.get("d"):
        row["samples_per_dimension"] = rec["n_train"] / rec["d"]
    for key, value in rec.items():
        row.setdefault(key, value)
    return row


def _closest_relative_error(final_risk, predictions: dict):
    """min over the predictions p (> 0) of |p - final_risk| / final_risk; None without a risk or a prediction."""
    if final_risk is None or not final_risk > 0:
        return None
    errors = [abs(p - final_risk) / final_risk for p in predictions.values() if p is not None and p > 0]
    return min(errors) if errors else None


def suite_count(rows) -> tuple:
    """How many counted cells have a prediction within :data:`TOLERANCE` of their held-out risk.

    A cell is counted when it is done and n < n_train / 2 (issue 14's "meaningful" cells; the
    least-squares decoder does not fit its training rows). Works on :func:`cell_row` rows and on
    :func:`seed_summary` rows alike (their ``within_tolerance``).

    Parameters
    ----------
    rows : list of dict
        Rows with ``within_tolerance`` (True, False, or None for a cell not counted).

    Returns
    -------
    tuple
        ``(within, counted)``.

    Examples
    --------
    >>> suite_count([{"within_tolerance": True}, {"within_tolerance": False}, {"within_tolerance": None}])
    (1, 2)
    """
    counted = [row["within_tolerance"] for row in rows if row.get("within_tolerance") is not None]
    return sum(counted), len(counted)


def count_if_exact(summary, tolerance: float = TOLERANCE) -> dict:
    r"""The count a perfect prediction would reach, given the held-out risk's spread over the seeds.

    Take a prediction equal to each cell's mean held-out risk mu, and a measured risk
    h ~ N(mu, sigma^2) with sigma the sample sd over the cell's k seeds. To first order in
    sigma / mu it is within the tolerance t of one seed's risk with probability
    erf(t mu / (sigma sqrt 2)), and of the mean of the k seeds with probability
    erf(t mu sqrt(k) / (sigma sqrt 2)). The sums are the expected counts, the products the
    chances that every cell is within. Status: a normal approximation with sigma estimated
    from k seeds (with k = 3 it is itself uncertain by about half); it says how much of a
    count's shortfall the measurement's own noise explains.

    Parameters
    ----------
    summary : list of dict
        :func:`seed_summary` rows; cells not counted (``within_tolerance`` None) or with one seed
        are left out.
    tolerance : float, optional
        The relative tolerance t (default :data:`TOLERANCE`).

    Returns
    -------
    dict
        ``cells`` (those used), ``expected_one_seed``, ``all_one_seed``, ``expected_mean``,
        ``all_mean``.

    Examples
    --------
    >>> row = dict(final_risk=0.5, final_risk_sd=0.025, seeds=[0, 1, 2, 3], within_tolerance=True)
    >>> got = count_if_exact([row])          # t mu / sigma = 1 and 2: erf(1/sqrt 2), erf(2/sqrt 2)
    >>> round(got["expected_one_seed"], 4), round(got["expected_mean"], 4)
    (0.6827, 0.9545)
    """
    one, mean = [], []
    for row in summary:
        sd, k = row.get("final_risk_sd"), len(row.get("seeds", []))
        if row.get("within_tolerance") is None or sd is None or k < 2:
            continue
        z = tolerance * row["final_risk"] / (sd * math.sqrt(2.0)) if sd > 0 else math.inf
        one.append(math.erf(z))
        mean.append(math.erf(z * math.sqrt(k)))
    return dict(cells=len(one), expected_one_seed=math.fsum(one), all_one_seed=math.prod(one),
                expected_mean=math.fsum(mean), all_mean=math.prod(mean))


def seed_summary(rows) -> list:
    """Per (data set, preprocessing, rate): the held-out risk over seeds, with its spread, against the mean predictions.

    Each seed is its own split, initialisation and test set, so the spread over seeds is the
    uncertainty of "the trained held-out risk" from training and from the data split together
    (the test-set standard error of one cell measures only the second part).

    Parameters
    ----------
    rows : list of dict
        :func:`cell_row` rows (several seeds per cell; rows not done are skipped).

    Returns
    -------
    list of dict
        One per (data, remove_item_mean, rate) with at least one seed done, in the order of
        ``rows``: ``seeds`` (those done), ``final_risk`` (mean over them), ``final_risk_sd``
        (sample standard deviation, None with one seed), ``final_risk_sem`` (sd / sqrt(seeds)),
        ``predictions`` (name -> mean over the seeds, for the names every seed has),
        ``best_prediction``, ``best_prediction_name``, ``best_ratio`` (of the means, as
        :func:`best_prediction`), ``closest_relative_error``, ``within_tolerance`` (of the means;
        None when any seed is not counted), ``seeds_within`` (how many seeds' own cells are
        within), ``flags`` (every seed's, in :data:`FLAGS` order), and ``d``, ``n``, ``n_train``.

    Examples
    --------
    >>> cells = [dict(data="x", remove_item_mean=False, rate=1.0, seed=s, status="done", final_risk=f,
    ...               predictions={"gauss": 0.5}, flags=[], within_tolerance=abs(0.5 - f) <= 0.05 * f)
    ...          for s, f in ((0, 0.50), (1, 0.54))]
    >>> row = seed_summary(cells)[0]
    >>> row["seeds"], round(row["final_risk"], 3), row["best_prediction_name"], row["seeds_within"]
    ([0, 1], 0.52, 'gauss', 1)
    """
    groups: dict = {}
    for row in rows:
        if row.get("status") == "done" and row.get("final_risk") is not None:
            groups.setdefault((row["data"], bool(row["remove_item_mean"]), row["rate"]), []).append(row)
    out = []
    for (data, mean, rate), cells in groups.items():
        held = [cell["final_risk"] for cell in cells]
        k = len(held)
        average = math.fsum(held) / k
        sd = math.sqrt(math.fsum((h - average) ** 2 for h in held) / (k - 1)) if k > 1 else None
        names = [name for name in cells[0]["predictions"] if all(name in cell["predictions"] for cell in cells)]
        predictions = {name: math.fsum(cell["predictions"][name] for cell in cells) / k for name in names}
        name, value = best_prediction(average, predictions)
        closest = _closest_relative_error(average, predictions)
        counted = all(cell.get("within_tolerance") is not None for cell in cells) and closest is not None
        flags = {flag for cell in cells for flag in cell.get("flags", [])}
        out.append(dict(
            data=data, remove_item_mean=mean, rate=rate, d=cells[0].get("d"), n=cells[0].get("n"),
            n_train=cells[0].get("n_train"), seeds=[cell["seed"] for cell in cells], final_risk=average,
            final_risk_sd=sd, final_risk_sem=sd / math.sqrt(k) if sd is not None else None, predictions=predictions,
            best_prediction=value, best_prediction_name=name, best_ratio=average / value if value else None,
            closest_relative_error=closest, within_tolerance=closest <= TOLERANCE if counted else None,
            seeds_within=sum(bool(cell.get("within_tolerance")) for cell in cells),
            flags=[flag for flag in FLAGS if flag in flags]))
    return out


def suite_rows(spec: SweepSpec, store) -> list:
    """One row per cell of ``spec`` (in its order), from what ``store`` holds.

    Parameters
    ----------
    spec : SweepSpec
        The suite.
    store : ResultStore, str or os.PathLike
        The results store (a path is opened read-only and closed).

    Returns
    -------
    list of dict
        :func:`cell_row` of each run; a cell not in the store has status None.
    """
    own = not isinstance(store, ResultStore)
    store = ResultStore(store, create=False) if own else store
    try:
        by_key = {row["run_key"]: row for row in store.rows()}
    finally:
        if own:
            store.close()
    rows = []
    for params in spec.runs:
        got = by_key.get(run_key(params))
        if got is None:
            rows.append(cell_row(params, None, status=None))
        else:
            metrics = got["metrics"] if got["status"] == "done" else None
            rows.append(cell_row(params, metrics, status=got["status"], error=got["error"], seconds=got["seconds"],
                                 version=got.get("version")))
    return rows


def stale_cells(rows, version: str | None = None) -> list:
    """The done cells that another twolayer version computed (their predictions are not recomputed on reading).

    A cell is keyed by its options alone, so a store resumed under a newer version keeps the
    records of the older one; a prediction changed or added since is stale or missing there.

    Parameters
    ----------
    rows : list of dict
        :func:`cell_row` rows (e.g. :func:`suite_rows`).
    version : str or None, optional
        The version to compare with (default: this package's).

    Returns
    -------
    list of dict
        The rows whose ``version`` is known and differs.

    Examples
    --------
    >>> [r["version"] for r in stale_cells([{"status": "done", "version": "0.1.0"},
    ...                                     {"status": "done", "version": "9.9"}], "9.9")]
    ['0.1.0']
    """
    from ._version import __version__

    version = __version__ if version is None else version
    return [row for row in rows if row.get("status") == "done" and row.get("version") not in (None, version)]


# ----------------------------------------------------------------------------- running
@dataclass
class SuiteResult:
    """What :func:`run_suite` returns: ``rows`` (one per cell, :func:`cell_row`) and the sweep's ``report``.

    Parameters
    ----------
    rows : list of dict
        One row per cell, in the spec's order.
    report : SweepReport
        What the sweep ran (``already_done``, ``submitted``, ``done``, ``failed``, ``seconds``).
    """

    rows: list
    report: SweepReport

    @property
    def complete(self) -> bool:
        """Every cell is 'done'."""
        return all(row["status"] == "done" for row in self.rows)


def run_suite(spec: SweepSpec, store, *, workers: int | None = None, progress: bool = False,
              log: Callable[[str], None] | None = None, run_fn=None) -> SuiteResult:
    """Run (or resume) the suite into ``store``; return one row per cell.

    The cells already 'done' in the store are not run again (:func:`twolayer.sweep.run_sweep`);
    before the others run, their data sets are loaded once and checked (:func:`check_suite`).

    Parameters
    ----------
    spec : SweepSpec
        The suite (:func:`suite_spec`).
    store : ResultStore, str or os.PathLike
        The results store (a path is created if missing).
    workers : int or None, optional
        Worker processes (None: all cores, at most one per cell to run; 1: in this process).
    progress : bool, optional
        A progress bar on stderr (default False).
    log : callable or None, optional
        Receives one-line messages (default None: silent).
    run_fn : callable, str or None, optional
        The run function (default :func:`twolayer.sweep.default_run`, i.e. :func:`twolayer.run`).

    Returns
    -------
    SuiteResult
        The rows and the sweep's report.

    Raises
    ------
    ValueError
        A data set that cannot be loaded, a rate too small for a data set, or a store that
        cannot be used (:class:`~twolayer.sweep.StoreError`).
    KeyboardInterrupt
        On Ctrl-C; the cells finished so far stay in the store.
    """
    own = not isinstance(store, ResultStore)
    if own:  # check before a new database file is created
        if os.path.isfile(store):
            with ResultStore(store, create=False) as existing:
                statuses = existing.statuses()
        else:
            statuses = {}
    else:
        statuses = store.statuses()
    pending = [p for p in spec.runs if statuses.get(run_key(p)) != "done"]
    if pending:
        check_suite(spec, pending)
    store = ResultStore(store) if own else store
    try:
        report = run_sweep(spec, store, run_fn=run_fn, workers=workers, progress=progress, log=log)
        return SuiteResult(suite_rows(spec, store), report)
    finally:
        if own:
            store.close()


def cell_config(row_or_params: dict) -> RunConfig:
    """The :class:`~twolayer.config.RunConfig` of a cell (its run options; :func:`twolayer.run` reproduces it).

    Parameters
    ----------
    row_or_params : dict
        A run of the suite's spec (resolved options).

    Returns
    -------
    RunConfig
    """
    return RunConfig.from_dict({k: v for k, v in row_or_params.items() if k in OPTIONS})
