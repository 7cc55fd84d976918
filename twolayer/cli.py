"""The ``twolayer`` command line: one thin layer over the public API, and the only place that prints.

    twolayer theory --activation sign --rate 0.25 0.5 1 2 [--spectrum FILE.npy] [--json]
    twolayer train  --d 256 --rate 0.5 --activation sign --method population [--json]
    twolayer sweep SPEC.toml --out RESULTS.sqlite      twolayer results RESULTS.sqlite
    twolayer figure NAME                                twolayer reproduce [--quick]
    twolayer universality [--data SPEC ...] [--rate R ...] [--remove-item-mean {no,yes,both}] [--out DB] [--json] [--plot FILE]

The options of ``train`` (and the matching ones of ``theory``) are generated from the one
option table :data:`twolayer.config.OPTIONS`, the table the sweep specs and the Python API
read too. Every error (bad input, missing file, divergence) becomes one line on stderr and
exit status 2 (1 for a failed run), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

from . import config as run_options
from ._version import __version__


class CommandLineError(Exception):
    """A usage error: printed as one line, exit status 2."""


class _Once:
    """argparse action mixin: a flag given twice is refused (argparse would keep the last silently)."""

    def __call__(self, parser, namespace, values, option_string=None):
        previous = getattr(namespace, self.dest, None)
        if previous is not self.default:
            several = " (list all values after one flag)" if self.nargs in ("+", "*") else ""
            raise argparse.ArgumentError(self, f"given twice (first {_shown(previous)}, then "
                                               f"{_shown(self.value(values, option_string))}); give it once{several}")
        super().__call__(parser, namespace, values, option_string)

    def value(self, values, option_string):
        return values


def _shown(value) -> str:
    """A parsed flag value as typed: numbers with %g, lists space-separated, booleans in lower case."""
    if isinstance(value, list):
        return " ".join(_shown(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


class _StoreOnce(_Once, argparse._StoreAction):
    pass


class _BooleanOnce(_Once, argparse.BooleanOptionalAction):
    def value(self, values, option_string):
        return not option_string.startswith("--no-")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # every value flag, in this parser and its argument groups (they share the registry), is given once
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)
        self.register("action", argparse.BooleanOptionalAction, _BooleanOnce)

    def error(self, message):  # one line, no usage block
        raise CommandLineError(f"{self.prog}: {message} (see '{self.prog} --help')")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a command stops as on Ctrl-C (workers stopped, results kept)."""


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def _stopped_by(exc: BaseException) -> str:
    return "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"


def _interrupt_status(exc: BaseException) -> int:
    """128 + the signal number, as a shell reports a process ended by that signal."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""
    kind = run_options.Integer(minimum)

    def parse(value: str) -> int:
        try:
            return kind.from_text(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


_positive_int = _int_at_least(1)


# ----------------------------------------------------------------------------- theory
def theory_records(rates, activation: str, spectrum=None, kappa: float | None = None, law=None,
                   decoder: str | None = None, orbits: int = 0, d: int | None = None) -> list[dict]:
    """The records printed by ``twolayer theory`` (one per rate).

    With ``kappa`` (a data set's scale-mixture coefficient) each record also carries the
    corrected prediction ``predicted_risk_mixture`` = 1 - kappa (1 - min_risk). With ``law``
    (a structured source) it carries ``predicted_risk`` of the ``decoder``: the Gaussian value
    for the linear decoder, the law's mmse at sigma^2 = R / (1 - R) for the denoisers, the state
    evolution of GLM-VAMP after L passes for ``amp:L`` and at its fixed point (the Bayes benchmark of
    the Gaussian-optimal encoder) for ``bayes`` (:mod:`twolayer.theory.amp`; sign codes only). With
    ``orbits`` > 0 (sign codes) each record carries ``orbit_risk``, the exact risk of the best
    sign-flip orbit encoder found at n = round(r d) (:func:`twolayer.theory.orbits.orbit_min_risk`;
    the isotropic source needs ``d``).

    Parameters
    ----------
    rates : iterable of float
        The rates r = n/d, one record each.
    activation : str
        The activation name (``gap_db`` is given only for "sign").
    spectrum : array_like, optional
        Eigenvalues of the source covariance (None: isotropic).
    kappa : float, optional
        A data set's scale-mixture coefficient, in (0, 1].
    law : Law, optional
        A structured source's law (:class:`~twolayer.theory.priors.Law`).
    decoder : str, optional
        With ``law``: "linear" gives the Gaussian value, "bayes" the Bayes benchmark, "amp:L" the state
        evolution after L passes; any other value, None included, the denoiser's.
    orbits : int, optional
        Sign codes: also ``orbit_risk`` with at least this many orbits (default 0: not computed).
    d : int, optional
        The dimension of the isotropic source, for ``orbit_risk`` (a spectrum brings its own).

    Returns
    -------
    list of dict
        Per rate: ``rate``, ``activation``, ``min_risk``, ``rate_distortion``, ``pca_risk``, ``gap_db``
        (10 log10(min_risk / rate_distortion) for sign, else None) and ``status``; with ``kappa`` also
        ``kappa`` and ``predicted_risk_mixture``; with ``law`` also ``data``, ``decoder``,
        ``predicted_risk_linear``, ``predicted_risk_denoiser``, ``predicted_risk_bayes`` and ``predicted_risk``
        (denoiser values None when min_risk >= 1; Bayes and amp values None for activations other than sign).

    Raises
    ------
    ValueError
        A rate that is not finite and > 0, an invalid spectrum or activation, a kappa outside (0, 1], or
        ``orbits`` on the isotropic source without ``d``.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    .. [2] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.

    Examples
    --------
    >>> [rec["min_risk"] for rec in theory_records([0.5], "linear")]     # PCA: 1 - r
    [0.5]
    """
    from . import theory
    from .config import decoder_layers
    from .theory.amp import bayes_risk, state_evolution
    from .theory.compression import gap_db
    from .theory.priors import denoiser_risk
    from .theory.scale_mixture import mixture_risk

    status = theory.prediction_status(activation, spectrum)
    one_bit_codes = activation == "sign"  # only sign codes spend exactly r bits per dimension
    orbit_spectrum = None
    if orbits and one_bit_codes:
        if spectrum is None and d is None:
            raise ValueError("orbits needs the source's dimension: give d (--d) for the isotropic source, "
                             "or a spectrum or data set")
        orbit_spectrum = [1.0] * int(d) if spectrum is None else spectrum
    rates = [float(r) for r in rates]
    # all rates at once: the state evolution shares one mmse table per law over many rates
    benchmarks = bayes_risk(law, rates) if law is not None and one_bit_codes else [None] * len(rates)
    records = []
    for r, bayes in zip(rates, benchmarks):
        best = float(theory.min_risk(r, activation=activation, spectrum=spectrum))
        shannon = float(theory.rate_distortion(r, spectrum=spectrum))
        gap = gap_db(r, best, spectrum=spectrum) if one_bit_codes else None  # exact where D(r) underflows
        records.append(
            {
                "rate": float(r),
                "activation": activation,
                "min_risk": best,
                "rate_distortion": shannon,
                "pca_risk": float(theory.pca_risk(r, spectrum=spectrum)),
                "gap_db": gap,
                "status": status,
            }
        )
        if orbit_spectrum is not None:
            records[-1]["orbit_risk"] = float(theory.orbit_min_risk(r, orbit_spectrum, orbits=orbits))
        if kappa is not None:
            records[-1]["kappa"] = kappa
            records[-1]["predicted_risk_mixture"] = float(mixture_risk(best, kappa))
        if law is not None:
            denoised = denoiser_risk(law, best) if best < 1 else None
            bayes = None if bayes is None else float(bayes)
            layers = decoder_layers(decoder) if decoder is not None else None
            if decoder == "bayes":
                target = bayes
            elif layers is not None:
                target = float(state_evolution(law, r, passes=layers, tol=0.0).risk[layers]) if one_bit_codes else None
            else:
                target = best if decoder == "linear" else denoised
            records[-1].update(data=law.spec, decoder=decoder, predicted_risk_linear=best,
                               predicted_risk_denoiser=denoised, predicted_risk_bayes=bayes, predicted_risk=target)
    return records


#: the run options ``twolayer theory`` takes from the option table (``--rate`` takes several rates).
THEORY_OPTIONS = ("rate", "d", "data", "spectrum", "activation", "decoder", "remove_item_mean", "contrast_normalize",
                  "whiten", "test_fraction", "max_items", "seed", "orbits")
DEFAULT_THEORY_RATES = [0.25, 0.5, 1.0, 2.0]


def _theory_source(args):
    """(description, spectrum or None, kappa or None, data info or None, config) for ``twolayer theory``."""
    from ._validation import as_rates
    from .spectra import eigenvalues

    as_rates(args.rate, "--rate")  # every rate, before the configuration checks the first
    given = run_options.from_arguments(args, THEORY_OPTIONS)
    given["rate"] = args.rate[0]
    if "d" in given and "data" not in given and "spectrum" not in given:
        given.pop("d")  # the isotropic limit does not depend on d
    cfg = run_options.RunConfig.from_dict(given, "twolayer theory")  # the option rules of train
    if cfg.source_kind == "structured":
        return (f"{cfg.data} (i.i.d. coordinates, unit variance), {cfg.decoder} decoder; proportional limit",
                None, None, {"data": cfg.data}, cfg)
    if not cfg.is_data:
        if cfg.spectrum is None:
            return "isotropic Gaussian", None, None, None, cfg
        spectrum = eigenvalues(cfg.spectrum, args.d)
        return f"Gaussian, spectrum {cfg.spectrum} (d = {spectrum.size})", spectrum, None, None, cfg
    from .data import prepare
    from .theory.scale_mixture import estimate_kappa

    dataset, split = prepare(cfg.data, seed=cfg.seed, max_items=cfg.max_items, remove_item_mean=cfg.remove_item_mean,
                             contrast_normalize=cfg.contrast_normalize,
                             whiten=None if cfg.whiten == "none" else cfg.whiten, test_fraction=cfg.test_fraction)
    if cfg.d is not None and cfg.d != split.train.shape[1]:
        raise ValueError(f"data {cfg.data!r} has dimension {split.train.shape[1]} but --d is {cfg.d}")
    kappa = float(estimate_kappa(split.train))
    info = {"dataset": cfg.data, "n_train": int(split.train.shape[0]), "preprocessing": split.info}
    description = (f"Gaussian with the training covariance of {dataset.name} (d = {split.spectrum.size}, "
                   f"{split.train.shape[0]} training items), kappa = {kappa:.4f}")
    return description, split.spectrum, kappa, info, cfg


def _format_table(records: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain aligned table; ``columns`` = (key, header, format spec)."""
    cells = [[header for _, header, _ in columns]]
    for rec in records:
        cells.append([format(rec[key], spec) if rec.get(key) is not None else "-" for key, _, spec in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _note_underflow(records: list[dict]) -> None:
    """A note on stderr for the rates whose Shannon D(r) is below float64's normal range (shown as 0)."""
    tiny = [rec["rate"] for rec in records if rec["rate_distortion"] < sys.float_info.min]
    if tiny:
        print(f"note: Shannon's D(r) at r = {', '.join(f'{r:g}' for r in tiny)} is below float64's normal range "
              f"({sys.float_info.min:.3g}): it is shown as 0, and the gap to Shannon is computed from log D",
              file=sys.stderr)


def _cmd_theory(args) -> int:
    from .theory.priors import parse_source

    source, spectrum, kappa, info, cfg = _theory_source(args)
    law = parse_source(cfg.data)[0] if cfg.source_kind == "structured" else None
    records = theory_records(args.rate, args.activation or "sign", spectrum, kappa, law, cfg.decoder,
                             orbits=cfg.orbits or 0, d=cfg.d)
    if info is not None and "n_train" in info:
        _flag_few_samples(records, info["n_train"], spectrum.size)
    if args.json:
        for rec in records:
            rec.update(info or {})
        print(json.dumps(records, indent=2))
        _note_underflow(records)
        return 0
    print(f"Two-layer {records[0]['activation']} autoencoder, {source}; risk = E|x - x_hat|^2 / E|x|^2")
    print(
        _format_table(
            records,
            [
                ("rate", "rate r", ".4g"),
                ("min_risk", "min risk", ".6f"),
            ]
            + ([("orbit_risk", "orbit encoder", ".6f")] if "orbit_risk" in records[0] else [])
            + [
                ("rate_distortion", "Shannon D(r)", ".6f"),
                ("pca_risk", "PCA", ".6f"),
                ("gap_db", "gap to Shannon (dB)", ".3f"),
            ]
            + ([("predicted_risk_mixture", "scale-mixture pred.", ".6f")] if kappa is not None else [])
            + ([("predicted_risk", f"{cfg.decoder} decoder pred.", ".6f"),
                ("predicted_risk_bayes", "Bayes benchmark", ".6f")] if law is not None else []),
        )
    )
    if law is not None:
        print("min risk is the Gaussian value, which a linear decoder attains on this source (ICML 2024, "
              "arXiv:2402.05013); Shannon's D(r) is the Gaussian's, an upper bound on this source's.")
        print("Bayes benchmark: the fixed point of GLM-VAMP's state evolution for the Gaussian-optimal encoder "
              "(derived; Bayes-optimal where the replica potential has one minimum; theory/amp.md).")
    print(f"min risk status: {records[0]['status']}  (theory/README.md says what each status means)")
    if "orbit_risk" in records[0]:
        print("orbit encoder: the exact risk of the best sign-flip orbit encoder found at n = round(r d), an "
              "achievable upper bound on the optimum (theory/orbits.md)")
    _note_underflow(records)
    if records[0]["activation"] != "sign":
        print("Shannon's D(r) assumes r bits per dimension; only sign codes are 1 bit per neuron, so no gap is shown.")
    if info is not None and "n_train" in info:
        _warn_few_samples(records, info["n_train"], spectrum.size)
    return 0


def _flag_few_samples(records: list[dict], n_train: int, d: int) -> None:
    """``few_samples`` and ``few_samples_warning`` of each rate's record (:mod:`twolayer.universality`'s rule)."""
    from .universality import few_samples_flags, few_samples_warning

    for rec in records:
        n = round(rec["rate"] * d) or None  # n = 0 is refused by a run; no code-size check then
        rec["few_samples"] = few_samples_flags(n, n_train, d)
        rec["few_samples_warning"] = few_samples_warning(n, n_train, d)


def _warn_few_samples(records: list[dict], n_train: int, d: int) -> None:
    """The warnings of :func:`_flag_few_samples` as text: the covariance's once, the code size's per rate."""
    from .universality import few_samples_warning

    singular = few_samples_warning(None, n_train, d)
    if singular:
        print(f"warning: {singular}")
    for rec in records:
        overfit = few_samples_warning(round(rec["rate"] * d) or None, n_train, None)
        if overfit:
            print(f"warning (r = {rec['rate']:g}): {overfit}")


# ----------------------------------------------------------------------------- train
#: what ``twolayer train`` prints (key, format) after the header line.
GAUSSIAN_KEYS = [("final_risk", ".6f"), ("trained_network_risk", ".6f"), ("refitted_decoder_risk", ".6f"),
                 ("predicted_risk", ".6f"), ("relative_gap", ".3%"), ("predicted_risk_orbit", ".6f"),
                 ("relative_gap_orbit", ".3%"), ("frame_spectrum_error", ".4f"), ("polar_alignment", ".4f"),
                 ("decoder_distance", ".3g"),
                 ("final_risk_denoising", ".6f"), ("predicted_risk_denoising", ".6f"),
                 ("relative_gap_denoising", ".3%"), ("final_l1_penalty", ".6g"), ("final_contractive_penalty", ".6g"),
                 ("flow_time", ".4g"), ("curve_gap_map", ".2e"),
                 ("curve_gap_flow", ".2e"), ("curve_gap_limit", ".2e"),
                 ("steps", "d"), ("seconds", ".2f"), ("saved_params", "s")]
STRUCTURED_KEYS = [("final_risk", ".6f"), ("final_risk_stderr", ".2g"), ("trained_network_risk", ".6f"),
                   ("refitted_decoder_risk", ".6f"), ("predicted_risk", ".6f"), ("relative_gap", ".3%"),
                   ("risk_linear", ".6f"), ("risk_linear_refit", ".6f"), ("risk_denoiser", ".6f"),
                   ("risk_learned_denoiser", ".6f"), ("encoder_localisation", ".3f"),
                   ("predicted_risk_linear", ".6f"), ("predicted_risk_denoiser", ".6f"),
                   ("predicted_risk_denoiser_given_linear", ".6f"), ("predicted_risk_linear_finite_d", ".6f"),
                   ("predicted_risk_denoiser_finite_d", ".6f"), ("predicted_risk_denoiser_finite_d_given_linear", ".6f"),
                   ("effective_sigma2", ".4f"), ("predicted_sigma2", ".4f"), ("predicted_sigma2_finite_d", ".4f"),
                   ("gaussian_equivalent_risk", ".6f"), ("steps", "d"), ("seconds", ".1f"),
                   ("saved_params", "s")]
DATA_KEYS = [("final_risk", ".6f"), ("final_risk_stderr", ".2g"), ("train_risk", ".6f"),
             ("trained_network_train_risk", ".6f"), ("refitted_decoder_risk", ".6f"), ("predicted_risk", ".6f"),
             ("kappa", ".4f"), ("predicted_risk_mixture", ".6f"), ("predicted_risk_spiked", ".6f"),
             ("predicted_risk_spiked_mixture", ".6f"), ("predicted_risk_orbit", ".6f"),
             ("predicted_risk_orbit_mixture", ".6f"), ("risk_linear", ".6f"), ("risk_learned_denoiser", ".6f"),
             ("risk_prior_denoiser", ".6f"), ("risk_vamp", ".6f"), ("risk_amp_start", ".6f"), ("risk_amp", ".6f"),
             ("gaussian_twin_risk", ".6f"), ("theory_encoder_risk", ".6f"), ("theory_encoder_gmm_risk", ".6f"),
             ("theory_encoder_contrast_risk", ".6f"), ("theory_encoder_brightness_contrast_risk", ".6f"),
             ("gmm_optimum_risk", ".6f"), ("gmm_optimum_heldout_risk", ".6f"), ("model_training_risk", ".6f"),
             ("model_training_heldout_risk", ".6f"), ("model_twin_risk", ".6f"), ("model_twin_train_risk", ".6f"),
             ("validation_risk", ".6f"),
             ("validation_step", "d"), ("steps", "d"), ("seconds", ".1f"), ("saved_params", "s")]
#: what the risk lines of ``twolayer train`` measure, printed beside them.
RISK_NOTES = {
    "trained_network_risk": "the network as trained, its own decoder",
    "trained_network_train_risk": "the network as trained, its own decoder, on the training rows",
    "refitted_decoder_risk": "its encoder with the refitted decoder",
    "gmm_optimum_heldout_risk": "gmm_optimum_risk's encoder on the test rows, least-squares decoder",
    "model_training_heldout_risk": "model_training_risk's encoder on the test rows, least-squares decoder",
    "model_twin_risk": "the same pipeline trained on n_train rows of the brightness x contrast model (the theory at "
                       "this data size), on fresh rows of the model",
    "model_twin_train_risk": "the model twin on its own training rows",
    "validation_risk": "early stopping: the kept encoder on the held-out training rows",
}


def _cmd_train(args) -> int:
    from .experiment import run

    given = run_options.from_arguments(args)
    if "rate" not in given and "n" not in given:
        raise CommandLineError("twolayer train: give --rate or --n")
    cfg = run_options.RunConfig.from_dict(given, "twolayer train")
    if cfg.d is not None:  # a run silent for long (set-up, compilation, first steps) says so at once
        from ._resources import large_run_note

        large = large_run_note(cfg.d, cfg.code_size(), cfg.method, cfg.steps, cfg.batch_size)
        if large:
            print(f"twolayer: {large}", file=sys.stderr, flush=True)
    if cfg.d is not None and cfg.rate is not None and not math.isclose(cfg.code_size() / cfg.d, cfg.rate, rel_tol=1e-9):
        print(f"note: n = round(rate * d) = {cfg.code_size()}, so r = n/d = {cfg.code_size() / cfg.d:.6g}",
              file=sys.stderr)
    record = run(cfg, progress=not args.json)
    if args.json:
        print(json.dumps(record, indent=2, default=float))
        return 0
    if cfg.is_data:
        what, keys = f"held-out risk of the {cfg.decoder} decoder on {record['n_test']} test items", DATA_KEYS
    elif cfg.source_kind == "structured":
        what = f"the {cfg.decoder} decoder's risk under the law, estimated on {record['final_risk_estimator']}"
        keys = STRUCTURED_KEYS
    else:
        what, keys = "exact population risk", GAUSSIAN_KEYS
    print(
        f"{record['activation']} autoencoder on {record.get('dataset', cfg.data)}, d = {record['d']}, "
        f"n = {record['n']} (r = {record['rate']:.4g}), method = {record['method']}; risk = {what}"
    )
    for key, spec in keys:
        if record.get(key) is not None:
            note = f"  ({RISK_NOTES[key]})" if key in RISK_NOTES else ""
            print(f"  {key:<46} {format(record[key], spec)}{note}")
    if record.get("few_samples_warning"):
        print(f"warning: {record['few_samples_warning']}")
    if record.get("penalty_warning"):
        print(f"warning: {record['penalty_warning']}")
    return 0


# ----------------------------------------------------------------------------- dynamics
#: the run options ``twolayer dynamics`` takes from the option table.
DYNAMICS_OPTIONS = ("rate", "n", "d", "activation", "init", "init_scale", "start", "noise", "weight_decay", "lr", "seed")
DEFAULT_TIMES = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]


def _cmd_dynamics(args) -> int:
    from .learning_curves import dynamics_records

    given = run_options.from_arguments(args, DYNAMICS_OPTIONS)
    if "rate" not in given and "n" not in given:
        raise CommandLineError("twolayer dynamics: give --rate (or --n with --d)")
    if "n" in given and "d" not in given:
        raise CommandLineError("twolayer dynamics: --n needs --d (without --d the curve is the proportional limit "
                               "at a rate)")
    given.setdefault("activation", "linear")
    if given["activation"] == "linear":
        given.setdefault("start", "tied")
    elif "start" in given:
        raise CommandLineError("twolayer dynamics: --start applies to the linear autoencoder (its trained decoder); "
                               f"the {given['activation']} curve is for the optimal decoder")
    finite = "d" in given
    # the same rules as a train run with --theory-curve (the parametrisation of the activation's curve)
    needs = run_options.CURVE_NEEDS.get(given["activation"], {"parametrization": None})
    try:
        cfg = run_options.RunConfig.from_dict(
            {**given, "parametrization": needs["parametrization"], "theory_curve": True}, "twolayer dynamics")
    except ValueError as exc:
        raise ValueError(str(exc).replace("theory_curve: ", "dynamics: ")) from None
    records = dynamics_records(cfg, args.times, finite=finite)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    rec = records[0]
    noise = f", input noise s^2 = {cfg.noise:g}" if cfg.noise else ""
    decay = f", weight decay {cfg.weight_decay:g}" if cfg.weight_decay else ""
    start = {"tied": "tied start A(0) = B(0)^T", "independent": "independent start A(0), B(0)",
             None: "optimal decoder"}[cfg.start]
    print(f"{cfg.activation.capitalize()} autoencoder, {start}, B(0) = {cfg.init_scale:g} x init {cfg.init}, r = "
          f"{rec['rate']:.4g}{noise}{decay}; isotropic Gaussian source")
    print(f"prediction: {rec['prediction']}; t = gradient-flow time of L = E|x - x_hat|^2 / 2 "
          "(train: t = 2 lr x steps); risk = E|x - x_hat|^2 / E|x|^2")
    print(_format_table(records, [("time", "t", ".4g"), ("risk", "risk", ".6f")]))
    return 0


# ----------------------------------------------------------------------------- sweeps and figures
#: a sweep grid of more runs than this is refused without --yes (a typo in a grid multiplies it).
MAX_RUNS_WITHOUT_YES = 10_000


def _cmd_sweep(args) -> int:
    from .sweep import ResultStore, load_spec, resolve_run_fn, run_key, run_sweep
    from .sweep.executors import check_executor_args

    spec = load_spec(args.spec)
    run_fn = resolve_run_fn(args.run_fn)
    check_executor_args(args.executor, args.workers, args.scheduler)
    if len(spec.runs) > MAX_RUNS_WITHOUT_YES and not args.yes:
        raise CommandLineError(f"twolayer sweep: {args.spec} is a grid of {len(spec.runs):,} runs, more than "
                               f"{MAX_RUNS_WITHOUT_YES:,}; check the spec, or pass --yes to run them all")
    with ResultStore(args.out) as store:
        try:
            report = run_sweep(spec, store, run_fn=run_fn, executor=args.executor, workers=args.workers,
                               scheduler=args.scheduler, progress=not args.no_progress,
                               retry_failed=not args.skip_failed, log=print)
        except KeyboardInterrupt as exc:
            statuses = store.statuses()
            done = sum(statuses.get(run_key(p)) == "done" for p in spec.runs)
            print(f"{_stopped_by(exc)}: {done} of {len(spec.runs)} runs done in {args.out} (finished runs are kept); "
                  "run the same command again to resume the sweep", file=sys.stderr)
            return _interrupt_status(exc)
        statuses = [store.statuses().get(run_key(p)) for p in spec.runs]
    done, failed = statuses.count("done"), statuses.count("failed")
    if report.submitted:
        print(f"ran {report.submitted} runs in {report.seconds:.1f} s ({report.done} done, {report.failed} failed); "
              f"{args.out} holds {done} of {len(spec.runs)} runs of this sweep done"
              + (f", {failed} failed (see: twolayer results {args.out} --where status=failed)" if failed else ""))
    return 0 if done == len(spec.runs) else 1


def _cmd_results(args) -> int:
    from .sweep import ResultStore, format_rows, write_csv

    filters = args.where or []
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    with ResultStore(args.db, create=False) as store:
        rows = store.rows(filters)
        total = store.count()
    if args.csv is not None:
        n, m = write_csv(rows, args.csv, columns=columns, overwrite=args.overwrite)
        if args.csv != "-":
            print(f"wrote {n} rows x {m} columns to {args.csv}")
        return 0
    done = sum(r["status"] == "done" for r in rows)
    matched = f"{len(rows)} of {total} runs match {' and '.join(filters)}" if filters else f"{total} runs"
    print(f"{args.db}: {matched} ({done} done, {len(rows) - done} failed)")
    if rows:
        print(format_rows(rows, columns=columns))
    return 0


# ----------------------------------------------------------------------------- universality suite
#: (row field, header, format) of the table of ``twolayer universality``; a field None prints "-".
UNIVERSALITY_COLUMNS = [
    ("data", "data", "s"), ("mean", "item mean", "s"), ("rate", "r", ".4g"), ("d", "d", "d"), ("n", "n", "d"),
    ("samples_per_dimension", "n_tr/d", ".3g"), ("final_risk", "held-out", ".4f"), ("final_risk_stderr", "+-", ".1g"),
    ("train_risk", "train", ".4f"), ("predicted_risk", "gauss", ".4f"), ("predicted_risk_mixture", "mix", ".4f"),
    ("predicted_risk_spiked", "spiked", ".4f"), ("predicted_risk_spiked_mixture", "mix-s", ".4f"),
    ("theory_encoder_gaussian_risk", "gauss-d", ".4f"), ("theory_encoder_mixture_risk", "mix-d", ".4f"),
    ("theory_encoder_gmm_risk", "gmm-d", ".4f"), ("theory_encoder_contrast_risk", "bins-d", ".4f"),
    ("theory_encoder_brightness_contrast_risk", "bc-d", ".4f"), ("gmm_optimum_risk", "gmm-opt", ".4f"),
    ("model_training_risk", "bc-train", ".4f"), ("model_twin_risk", "bc-twin", ".4f"), ("best", "best", "s"),
    ("best_ratio", "held/best", ".3f"),
    ("best_prediction_at_n_train", "best@N", ".4f"), ("best_ratio_at_n_train", "held/best@N", ".3f"),
    ("gaussian_twin_risk", "twin", ".4f"), ("theory_encoder_risk", "theory-enc", ".4f"),
    ("gmm_optimum_heldout_risk", "gmm-enc", ".4f"), ("model_training_heldout_risk", "train-enc", ".4f"),
    ("kappa", "kappa", ".3f"), ("top_eigenvalue_fraction", "top-eig", ".3f"),
    ("projection_excess_kurtosis", "kurt", ".2f"), ("norm_spread_ratio", "spread", ".2f"), ("flag_text", "flags", "s"),
]


#: the table of ``twolayer universality --seed S S ...``: per cell, over its seeds.
SEED_SUMMARY_COLUMNS = [
    ("data", "data", "s"), ("mean", "item mean", "s"), ("rate", "r", ".4g"), ("d", "d", "d"), ("n", "n", "d"),
    ("seed_count", "seeds", "d"), ("final_risk", "held-out mean", ".4f"), ("final_risk_sd", "sd", ".4f"),
    ("final_risk_sem", "+-", ".1g"), ("best", "best", "s"), ("best_prediction", "best mean", ".4f"),
    ("best_ratio", "held/best", ".3f"), ("off_percent", "off by %", ".1f"), ("seeds_within_text", "seeds within", "s"),
    ("flag_text", "flags", "s"),
]


def _universality_table(rows: list[dict], *, by_seed: bool = False) -> str:
    from .suite import PREDICTIONS

    label = dict(PREDICTIONS)
    shown = []
    for row in rows:
        shown.append({**row, "mean": "removed" if row["remove_item_mean"] else "raw",
                      "best": label.get(row["best_prediction_name"]),
                      "flag_text": ("FAILED" if row["status"] == "failed" else "not run" if row["status"] is None
                                    else ",".join(row["flags"]))})
    columns = UNIVERSALITY_COLUMNS
    if by_seed:
        columns = [*columns[:3], ("seed", "seed", "d"), *columns[3:]]
    return _format_table(shown, columns)


def _seed_summary_table(summary: list[dict]) -> str:
    from .suite import PREDICTIONS

    label = dict(PREDICTIONS)
    shown = [{**row, "mean": "removed" if row["remove_item_mean"] else "raw", "seed_count": len(row["seeds"]),
              "best": label.get(row["best_prediction_name"]),
              "off_percent": 100 * row["closest_relative_error"] if row["closest_relative_error"] is not None else None,
              "seeds_within_text": f"{row['seeds_within']} of {len(row['seeds'])}",
              "flag_text": ",".join(row["flags"])} for row in summary]
    return _format_table(shown, SEED_SUMMARY_COLUMNS)


def _count_line(rows: list[dict], what: str) -> str:
    from .suite import TOLERANCE, suite_count

    within, counted = suite_count(rows)
    return (f"{what}: some prediction within {TOLERANCE:.0%} of the held-out risk in {within} of {counted} "
            "cells with n < n_train/2")


def _cmd_universality(args) -> int:
    from ._files import check_output_path
    from ._version import __version__ as twolayer_version
    from .suite import (
        FLAGS,
        RUN_OPTIONS,
        TOLERANCE,
        count_if_exact,
        run_suite,
        seed_summary,
        stale_cells,
        suite_rows,
        suite_spec,
    )

    options = run_options.from_arguments(args, RUN_OPTIONS)
    spec = suite_spec(args.data, args.rate, args.remove_item_mean, **options)
    if not Path(args.out).exists():
        check_output_path(args.out, overwrite=True, what="results database")
    elif Path(args.out).is_dir():
        raise ValueError(f"results database {args.out!r} is a folder; give a file name")
    if args.plot is not None:  # checked before any cell runs
        from .figures.suite import IMAGE_SUFFIXES

        if Path(args.plot).suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"--plot {args.plot!r}: the file name must end in {', '.join(IMAGE_SUFFIXES)}")
        for path in (args.plot, Path(args.plot).with_suffix(".csv")):
            check_output_path(path, overwrite=True, what="plot file")
    start = time.perf_counter()
    try:
        result = run_suite(spec, args.out, workers=args.workers, progress=not args.no_progress,
                           log=lambda message: print(message, file=sys.stderr))
    except KeyboardInterrupt as exc:
        done = sum(row["status"] == "done" for row in suite_rows(spec, args.out)) if Path(args.out).exists() else 0
        print(f"{_stopped_by(exc)}: {done} of {len(spec.runs)} cells done in {args.out}; "
              "run the same command again to finish the table", file=sys.stderr)
        return _interrupt_status(exc)
    rows, report = result.rows, result.report
    stale = stale_cells(rows)
    if stale:
        versions = ", ".join(sorted({row["version"] for row in stale}))
        print(f"note: {len(stale)} of {len(rows)} cells in {args.out} were computed by twolayer {versions} "
              f"(this is {twolayer_version}); their predictions are not recomputed on reading: give a new --out "
              "to recompute them", file=sys.stderr)
    seeds = sorted({run["seed"] for run in spec.runs})
    summary = seed_summary(rows) if len(seeds) > 1 else []
    if report.submitted:
        print(f"ran {report.submitted} cells in {time.perf_counter() - start:.1f} s ({report.done} done, "
              f"{report.failed} failed; {report.already_done} were already done in {args.out})", file=sys.stderr)
    if args.json:
        for row in rows:
            print(json.dumps(row, default=float))
        for row in summary:
            print(json.dumps({"summary": "over seeds", **row}, default=float))
    else:
        first = spec.runs[0]
        print(f"{first['activation']} autoencoder on data sets, {len(rows)} cells ({args.out}); steps = {first['steps']}, "
              f"seed = {', '.join(map(str, seeds))}, test fraction {first['test_fraction']}; risk = held-out "
              "sum |x - x_hat|^2 / sum |x|^2 on the test items")
        print(_universality_table(rows, by_seed=len(seeds) > 1))
        if summary:
            print(f"\nover the seeds {', '.join(map(str, seeds))} (each its own split, initialisation and test items): "
                  "sd = spread of the held-out risk over the seeds, +- = sd / sqrt(seeds); best = the prediction "
                  "(averaged over the seeds) closest to the mean held-out risk; off by = its distance in % of it; "
                  "seeds within = seeds whose own cell has a prediction within the tolerance")
            print(_seed_summary_table(summary))
            for seed in seeds:
                print(_count_line([row for row in rows if row["seed"] == seed], f"seed {seed}"))
        print(_count_line(summary or rows, "over the seeds' means" if summary else "count"))
        exact = count_if_exact(summary)
        if exact["cells"]:
            print(f"noise: a prediction equal to each cell's mean held-out risk would be within {TOLERANCE:.0%} at one "
                  f"seed in {exact['expected_one_seed']:.1f} of {exact['cells']} cells on average (all: "
                  f"{exact['all_one_seed']:.0%}), and on the means in {exact['expected_mean']:.1f} (all: "
                  f"{exact['all_mean']:.0%}): normal errors with the sd over the seeds")
        print("gauss: Gaussian min risk (proportional limit, spectrum of the training covariance); mix: 1 - kappa (1 - gauss); "
              "spiked / mix-s: the same with the top eigen-direction's arcsin kernel exact (theory/spiked.md); "
              "gmm-d: the theory encoder's exact risk under a 4-component zero-mean Gaussian mixture fitted to the "
              "training rows; bins-d: its exact risk when the training rows, grouped by contrast, are each "
              "group's own zero-mean Gaussian (up to 32 groups); bc-d: the same with 4 brightness x 8 contrast groups, "
              "means kept (raw image patches); gmm-opt: the best sign code for a 4-component Gaussian mixture with means "
              "fitted to the training rows (clusters); bc-train: the default training (Adam, schedule, smoothing, start) "
              "run on the exact loss of bc's model, that encoder's bc risk less bc's Gaussian excess (n_train >= 32 d; "
              "theory/universality.md); bc-twin: the theory at the run's data size, the same training and decoder on "
              "n_train rows drawn from bc's model, scored on fresh rows of the model (n_train >= 32 d); "
              "gauss-d / mix-d: exact Gaussian risk at this d of the theory encoder and its mixture correction; "
              "best: the prediction closest to the held-out risk in ratio; best@N: that prediction at the run's "
              "training size N, times (N - 1)/(N - n - 1), the least-squares decoder's out-of-sample excess "
              "(theory/finite_sample.md; '-' where the fit interpolates, n >= N - 1); twin: the same training on Gaussian data "
              "with the training covariance; theory-enc: the Gaussian-optimal encoder on the real test items; "
              "gmm-enc: gmm-opt's encoder on the real test items (a code the model found, to compare with training); "
              "train-enc: bc-train's encoder on the real test items; "
              "kurt: excess kurtosis of the principal projections (variance-weighted); spread: std/mean of |x|^2 "
              "over its Gaussian value.")
        print("flags: " + "; ".join(f"{flag}: {meaning}" for flag, meaning in FLAGS.items()))
    if args.plot is not None:
        from .figures.suite import suite_figure

        if any(row["status"] == "done" for row in rows):
            print(f"wrote {', '.join(map(str, suite_figure(rows, args.plot)))}", file=sys.stderr)
        else:
            print(f"no cell done: {args.plot} not written", file=sys.stderr)
    failed = [row for row in rows if row["status"] != "done"]
    for row in failed:
        print(f"failed: data={row['data']}, remove_item_mean={str(row['remove_item_mean']).lower()}, "
              f"rate={row['rate']:g}: {row['error']}", file=sys.stderr)
    return 1 if failed else 0


def _figure_names():
    from .figures import FIGURES

    return list(FIGURES)


def _run_figures(names, out: Path, quick: bool, workers) -> list:
    from ._files import check_output_folder
    from .figures import FIGURES

    check_output_folder(out)  # before any run: a file, or a folder that cannot be written
    out.mkdir(parents=True, exist_ok=True)
    outputs = []
    for name in names:
        print(f"[{name}] running{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        result = FIGURES[name](out, quick=quick, workers=workers, progress=sys.stderr.isatty())
        outputs.append(result)
        files = ", ".join(str(f) for f in result.files)
        print(f"[{name}] {time.perf_counter() - start:.1f} s -> {files}", file=sys.stderr, flush=True)
    return outputs


def _cmd_figure(args) -> int:
    names = _figure_names()
    if args.name not in names:
        raise ValueError(f"unknown figure {args.name!r}; available: {', '.join(names)}")
    _run_figures([args.name], Path(args.out), args.quick, args.workers)
    return 0


def _cmd_reproduce(args) -> int:
    start = time.perf_counter()
    outputs = _run_figures(_figure_names(), Path(args.out), args.quick, args.workers)
    rows = []
    for row in (dict(row) for output in outputs for row in output.summary):  # copies: the outputs stay as built
        if row.get("preprocessing"):
            row["dataset"] = f"{row['dataset']} ({row['preprocessing']})"
        rows.append(row)
        if row.get("theory_mixture") is not None and abs(row["theory_mixture"] - row["theory"]) > 1e-12:  # kappa < 1
            rows.append({**row, "quantity": "risk vs mixture", "theory": row["theory_mixture"]})
    for row in rows:
        row.setdefault("quantity", "risk")
        row.setdefault("dataset", "gaussian")
        row["difference"] = row["simulation"] - row["theory"]
    print(f"Theory against simulation ({'quick' if args.quick else 'full'} form; figures in {args.out}):")
    print(
        _format_table(
            rows,
            [
                ("figure", "figure", "s"),
                ("dataset", "source", "s"),
                ("quantity", "quantity", "s"),
                ("d", "d", "d"),
                ("rate", "r", "g"),
                ("theory", "theory", ".4f"),
                ("simulation", "simulation", ".4f"),
                ("difference", "sim - theory", "+.4f"),
            ],
        )
    )
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="twolayer",
        description="Theory-validation simulator for two-layer autoencoders x_hat = A sigma(B x).",
    )
    parser.add_argument("--version", action="version", version=f"twolayer {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("theory", help="proportional-limit risks, Shannon's limit and PCA at given rates",
                       description="Proportional-limit risks, Shannon's limit and PCA at given rates, for the "
                                   "isotropic Gaussian, a spectrum, or a data set's training covariance.")
    run_options.add_arguments(p, THEORY_OPTIONS, overrides={"rate": {
        "nargs": "+", "default": DEFAULT_THEORY_RATES,
        "help": f"rates r = n/d (default: {' '.join(f'{r:g}' for r in DEFAULT_THEORY_RATES)})"},
        "d": {"help": "input dimension, for --spectrum powerlaw:ALPHA (default: the spectrum's or data's own)"}})
    p.add_argument("--json", action="store_true", help="print a JSON list of records (default: a table)")
    p.set_defaults(func=_cmd_theory)

    p = sub.add_parser("train", help="gradient descent at one size, compared with the theory",
                       description="Train x_hat = A sigma(B x) at one size and compare with the theory. Every option "
                                   "is also a sweep spec key and a RunConfig field of the same name.")
    run_options.add_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON record, no progress bar (default: a summary)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("dynamics", help="predicted learning curve R(t) of gradient descent, without simulating",
                       description="The learning curve of population gradient descent on the isotropic Gaussian "
                                   "(theory/dynamics.md): for the linear autoencoder, exact from a tied start and a "
                                   "small-init approximation from an independent one; for the sign autoencoder with "
                                   "the optimal decoder, the spectral flow (derived). The proportional limit "
                                   "(Marchenko-Pastur) "
                                   "or, with --d, the finite-d curve of the start that 'twolayer train --seed' draws; "
                                   "with --lr the discrete gradient-descent map instead of the flow.")
    run_options.add_arguments(p, DYNAMICS_OPTIONS, overrides={
        "activation": {"help": "activation sigma of the code: linear (exact curves) or sign (the spectral flow with "
                                "the optimal decoder, derived) (default: linear)"},
        "d": {"help": "input dimension: the finite-d curve (default: the proportional limit)"},
        "lr": {"help": "learning rate of 'twolayer train' (step 2 lr on L): the discrete map (default: the flow)"},
        "start": {"help": "linear: start of the decoder, tied A(0) = B(0)^T (exact) or independent (a small-init "
                           "approximation) (default: tied)"}})
    p.add_argument("--times", type=float, nargs="+", default=DEFAULT_TIMES, metavar="T",
                   help=f"flow times (default: {' '.join(f'{t:g}' for t in DEFAULT_TIMES)})")
    p.add_argument("--json", action="store_true", help="print a JSON list of records with time and risk (default: a table)")
    p.set_defaults(func=_cmd_dynamics)

    p = sub.add_parser("sweep", help="run a grid of train runs from a TOML spec into an SQLite store (resumable)")
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (keys: the options of 'twolayer train')")
    p.add_argument("--out", required=True, metavar="RESULTS.sqlite", help="results database (created if missing)")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=["local", "dask"], default="local", help="where runs execute (default: local)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, with --executor dask "
                                                          "(default: a new local cluster)")
    p.add_argument("--skip-failed", action="store_true", help="do not retry runs recorded as failed (default: retry)")
    p.add_argument("--run-fn", metavar="MODULE:FUNCTION", default=None,
                   help="run function params -> metrics (default: twolayer.sweep.train_run:default_run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: a bar on stderr)")
    p.add_argument("--yes", action="store_true",
                   help=f"run a grid of more than {MAX_RUNS_WITHOUT_YES:,} runs (default: refuse it)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("results", help="print or export the rows of a results store")
    p.add_argument("db", metavar="RESULTS.sqlite")
    p.add_argument("--columns", metavar="COL,COL,...",
                   help="show these columns: options, record fields (final_risk, kappa, ...) or bookkeeping "
                        "(status, seconds, ...) (default: the options that vary and the main metrics)")
    p.add_argument("--csv", metavar="FILE", help="write the rows to FILE ('-' for stdout) (default: print a table)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing CSV file (default: refuse; a database is never overwritten)")
    p.add_argument("--where", action="append", metavar="COL=VAL",
                   help="filter (repeatable, ANDed; also <, >, !=) (default: every row)")
    p.set_defaults(func=_cmd_results)

    from .suite import DEFAULT_DATA, DEFAULT_OUT, DEFAULT_RATES, REMOVE_ITEM_MEAN, RUN_OPTIONS

    p = sub.add_parser("universality", help="held-out risk on several data sets and rates against every Gaussian "
                                            "prediction, with controls and diagnostics: one table (resumable)",
                       description="Train the autoencoder on each data set x preprocessing x rate (one 'twolayer train "
                                   "--data' run per cell, through the resumable sweep store) and print one table: "
                                   "held-out and training risk, every prediction and the closest one, the Gaussian "
                                   "twin, the theory encoder, and diagnostics of non-Gaussianity. Killed, it resumes: "
                                   "the same command again runs only the cells not done.")
    run_options.add_arguments(p, ("data", "rate"), overrides={
        "data": {"nargs": "+", "metavar": "SPEC",
                 "help": f"data sets (default: {' '.join(DEFAULT_DATA)}; also mnist:PATH, npz:PATH[:KEY], ...)"},
        "rate": {"nargs": "+", "metavar": "R",
                 "help": f"rates r = n/d (default: {' '.join(f'{r:g}' for r in DEFAULT_RATES)})"}})
    p.add_argument("--remove-item-mean", choices=list(REMOVE_ITEM_MEAN), default="both",
                   help="subtract each item's mean: no, yes, or both as separate cells (default: both)")
    run_options.add_arguments(p, RUN_OPTIONS, overrides={
        "gmm_optimum": {"help": (
            "also predict with the best sign code for a 4-component Gaussian mixture with means fitted to the "
            "training rows (gmm-opt; 10 s to minutes per cell) (default: true with the controls and the sign code)")},
        "model_training": {"help": (
            "also predict where the default training stops on the brightness x contrast model of the training rows "
            "(bc-train; 5 s to 20 minutes per cell; needs n_train >= 32 d) (default: true with the controls and the sign "
            "code)")},
        "seed": {"nargs": "+", "metavar": "SEED", "help": (
            f"{run_options.OPTIONS['seed'].help}; several seeds run each cell once per seed and add a table over "
            "the seeds: mean held-out risk, its spread, the best mean prediction (default: 0)")}})
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DB",
                   help=f"results database, created if missing, resumed if present (default: {DEFAULT_OUT})")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print one JSON record per cell (default: a table)")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="also draw every prediction's error against the held-out risk, one panel per data set "
                        "(.png, .pdf or .svg; its numbers go to the same name with .csv) (default: no plot)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: a bar on stderr)")
    p.set_defaults(func=_cmd_universality)

    p = sub.add_parser("figure", help="build one reproduce-figure (PNG, PDF and the CSV of its numbers)")
    p.add_argument("name", metavar="NAME",
                   help="risk-vs-rate, finite-size, features, anisotropic, universality, phase-transition, "
                        "sparse-decoders, learning-curves, regularised")
    p.add_argument("--out", default="figures", help="output folder (default: figures)")
    p.add_argument("--quick", action="store_true", help="small sizes, seconds to a minute (default: full size)")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.set_defaults(func=_cmd_figure)

    p = sub.add_parser("reproduce", help="the main job: every figure and a table of theory against simulation")
    p.add_argument("--out", default="figures", help="output folder (default: figures)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, embedded data only: about 2.5 minutes on two cores (default: full size, 20-40 minutes)")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``twolayer`` console script (SIGTERM stops a command as Ctrl-C does)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return _main(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CommandLineError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help exits 0 through argparse
        return int(exc.code or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"twolayer: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # divergence and other failed runs
        print(f"twolayer: run failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"twolayer: {_stopped_by(exc)}", file=sys.stderr)
        return _interrupt_status(exc)
    except BrokenPipeError:  # `twolayer results DB | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
