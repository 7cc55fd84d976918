"""The ``twolayer`` command line: one thin layer over the public API.

    twolayer theory --activation sign --rate 0.25 0.5 1 2 [--spectrum FILE.npy] [--json]
    twolayer train  --d 256 --rate 0.5 --activation sign --method population [--json]

Every error (bad input, missing file, divergence) becomes one line on stderr and exit
status 2 (1 for a failed run), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .activations import ACTIVATIONS


class CommandLineError(Exception):
    """A usage error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise CommandLineError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _activation_arg(value: str) -> str:
    if value.lower() not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(
            f"unknown activation {value!r}; choose from {', '.join(ACTIVATIONS)}"
        )
    return value.lower()


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value!r}")
    return x


def _int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""

    def parse(value: str) -> int:
        try:
            x = int(value)
        except ValueError:
            x = None
        if x is None or x < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value!r}")
        return x

    return parse


_positive_int = _int_at_least(1)
_nonnegative_int = _int_at_least(0)


def load_spectrum(path: str) -> np.ndarray:
    """Eigenvalues from a .npy file: a 1-D vector of eigenvalues or a 2-D covariance matrix."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"spectrum file {path!r} not found (expected a .npy file of eigenvalues or a covariance)")
    try:
        arr = np.load(file, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise ValueError(f"could not read {path!r} as a .npy array ({exc}); save one with numpy.save") from None
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
        from ._validation import as_covariance

        return np.linalg.eigvalsh(as_covariance(arr, name=f"covariance in {path}"))[::-1].clip(0.0)
    if arr.ndim != 1:
        raise ValueError(
            f"{path!r} holds an array of shape {arr.shape}; expected a 1-D vector of eigenvalues "
            "or a square covariance matrix"
        )
    from ._validation import as_spectrum

    return as_spectrum(arr, name=f"spectrum in {path}")


# ----------------------------------------------------------------------------- theory
def theory_records(rates, activation: str, spectrum=None, kappa: float | None = None) -> list[dict]:
    """The records printed by ``twolayer theory`` (one per rate).

    With ``kappa`` (a data set's scale-mixture coefficient) each record also carries the
    corrected prediction ``predicted_risk_mixture`` = 1 - kappa (1 - min_risk).
    """
    from . import theory
    from .theory.scale_mixture import mixture_risk

    status = theory.prediction_status(activation, spectrum)
    one_bit_codes = activation == "sign"  # only sign codes spend exactly r bits per dimension
    records = []
    for r in rates:
        best = float(theory.min_risk(r, activation=activation, spectrum=spectrum))
        shannon = float(theory.rate_distortion(r, spectrum=spectrum))
        gap = 10.0 * math.log10(best / shannon) if one_bit_codes else None
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
        if kappa is not None:
            records[-1]["kappa"] = kappa
            records[-1]["predicted_risk_mixture"] = float(mixture_risk(best, kappa))
    return records


def _data_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads a data set."""
    p.add_argument("--remove-item-mean", action="store_true", help="subtract each item's own mean (image DC)")
    p.add_argument("--contrast-normalize", action="store_true", help="divide each item by its own std")
    p.add_argument("--whiten", choices=["none", "pca", "zca"], default="none")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out fraction (default 0.2)")
    p.add_argument("--max-items", type=_positive_int, default=None, help="use at most this many items")


def prepare_data(args):
    """(Dataset, Split) for ``args.data`` with the preprocessing options of :func:`_data_arguments`."""
    from .data import prepare

    return prepare(
        args.data,
        seed=args.seed,
        max_items=args.max_items,
        remove_item_mean=args.remove_item_mean,
        contrast_normalize=args.contrast_normalize,
        whiten=None if args.whiten == "none" else args.whiten,
        test_fraction=args.test_fraction,
    )


def _format_table(records: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain aligned table; ``columns`` = (key, header, format spec)."""
    cells = [[header for _, header, _ in columns]]
    for rec in records:
        cells.append([format(rec[key], spec) if rec.get(key) is not None else "-" for key, _, spec in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_theory(args) -> int:
    if args.spectrum and args.data:
        raise CommandLineError("twolayer theory: give --spectrum or --data, not both")
    spectrum, kappa = (load_spectrum(args.spectrum) if args.spectrum else None), None
    if args.data:
        from .theory.scale_mixture import estimate_kappa

        dataset, split = prepare_data(args)
        spectrum, kappa = split.spectrum, float(estimate_kappa(split.train))
    records = theory_records(args.rate, args.activation, spectrum, kappa)
    if args.json:
        if args.data:
            for rec in records:
                rec.update(dataset=args.data, n_train=int(split.train.shape[0]), preprocessing=split.info)
        print(json.dumps(records, indent=2))
        return 0
    if args.data:
        source = (
            f"Gaussian with the training covariance of {dataset.name} (d = {spectrum.size}, "
            f"{split.train.shape[0]} training items), kappa = {kappa:.4f}"
        )
    elif spectrum is not None:
        source = f"Gaussian, spectrum of {args.spectrum} (d = {spectrum.size})"
    else:
        source = "isotropic Gaussian"
    print(f"Two-layer {args.activation} autoencoder, {source}; risk = E|x - x_hat|^2 / E|x|^2")
    print(
        _format_table(
            records,
            [
                ("rate", "rate r", ".4g"),
                ("min_risk", "min risk", ".6f"),
                ("rate_distortion", "Shannon D(r)", ".6f"),
                ("pca_risk", "PCA", ".6f"),
                ("gap_db", "gap to Shannon (dB)", ".3f"),
            ]
            + ([("predicted_risk_mixture", "scale-mixture pred.", ".6f")] if kappa is not None else []),
        )
    )
    print(f"min risk status: {records[0]['status']}  (theory/README.md says what each status means)")
    if args.activation != "sign":
        print("Shannon's D(r) assumes r bits per dimension; only sign codes are 1 bit per neuron, so no gap is shown.")
    return 0


# ----------------------------------------------------------------------------- train
def _train_on_data(args) -> dict:
    """``twolayer train --data SPEC``: train on the real samples, held-out risk and controls."""
    from .universality import data_experiment

    refused = [flag for flag, bad in (("--spectrum", args.spectrum), ("--tol", args.tol),
                                      ("--method population", args.method == "population"),
                                      ("--parametrization", args.parametrization not in (None, "untied")))
               if bad]
    if refused:
        raise CommandLineError(
            f"twolayer train: {', '.join(refused)} cannot be used with --data {args.data} "
            "(a data set is trained with --method samples, untied)"
        )
    return data_experiment(
        args.data, args.rate, n=args.n, d=args.d, activation=args.activation, steps=args.steps,
        seed=args.seed, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        schedule=args.schedule, init=args.init, dtype=args.dtype,
        remove_item_mean=args.remove_item_mean, contrast_normalize=args.contrast_normalize,
        whiten=None if args.whiten == "none" else args.whiten, test_fraction=args.test_fraction,
        max_items=args.max_items, progress=not args.json,
    )


def _cmd_train(args) -> int:
    from . import simulations

    if args.rate is None and args.n is None:
        raise CommandLineError("twolayer train: give --rate or --n")
    if args.data != "gaussian":
        record = _train_on_data(args)
        keys = [("final_risk", ".6f"), ("predicted_risk", ".6f"), ("kappa", ".4f"), ("predicted_risk_mixture", ".6f"),
                ("gaussian_twin_risk", ".6f"), ("theory_encoder_risk", ".6f"), ("steps", "d"), ("seconds", ".1f")]
        return _print_record(args, record, keys, f"held-out risk on {record['n_test']} test items")
    args.d = 256 if args.d is None else args.d
    args.method = args.method or "population"
    n = args.n if args.n is not None else max(1, int(round(args.rate * args.d)))
    if args.n is None and not math.isclose(n / args.d, args.rate, rel_tol=1e-9):
        print(f"note: n = round(rate * d) = {n}, so r = n/d = {n / args.d:.6g}", file=sys.stderr)
    spectrum = load_spectrum(args.spectrum) if args.spectrum else None
    if spectrum is not None and spectrum.size != args.d:
        raise ValueError(f"--spectrum has {spectrum.size} eigenvalues but --d is {args.d}; they must match")
    result = simulations.train(
        args.d,
        n,
        activation=args.activation,
        method=args.method,
        spectrum=spectrum,
        steps=args.steps,
        optimizer=args.optimizer,
        lr=args.lr,
        schedule=args.schedule,
        batch_size=args.batch_size,
        tol=args.tol,
        parametrization=args.parametrization,
        init=args.init,
        seed=args.seed,
        dtype=args.dtype,
        progress=not args.json,
    )
    keys = [
        ("final_risk", ".6f"),
        ("predicted_risk", ".6f"),
        ("relative_gap", ".3%"),
        ("frame_spectrum_error", ".4f"),
        ("polar_alignment", ".4f"),
        ("decoder_distance", ".3g"),
        ("steps", "d"),
        ("seconds", ".2f"),
    ]
    return _print_record(args, result.as_record(), keys, "exact population risk")


def _print_record(args, record: dict, keys, what: str) -> int:
    if args.json:
        print(json.dumps(record, indent=2, default=float))
        return 0
    source = record.get("dataset", "gaussian")
    print(
        f"{record['activation']} autoencoder on {source}, d = {record['d']}, n = {record['n']} "
        f"(r = {record['rate']:.4g}), method = {record['method']}; risk = {what}"
    )
    for key, spec in keys:
        if record.get(key) is not None:
            print(f"  {key:<24} {format(record[key], spec)}")
    return 0


# ----------------------------------------------------------------------------- sweeps and figures
def _cmd_sweep(args) -> int:
    from .sweep import sweep_main

    return sweep_main(args.spec, args.out, workers=args.workers, executor=args.executor,
                      scheduler=args.scheduler, progress=True, retry_failed=not args.skip_failed)


def _cmd_results(args) -> int:
    from .sweep import results_main

    return results_main(args.db, csv=args.csv, where=args.where)


def _figure_names():
    from .figures import FIGURES

    return list(FIGURES)


def _run_figures(names, out: Path, quick: bool, workers) -> list:
    from .figures import FIGURES

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
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("theory", help="proportional-limit risks, Shannon's limit and PCA at given rates")
    p.add_argument("--activation", type=_activation_arg, default="sign", help="sign (default), relu, erf, tanh, linear")
    p.add_argument("--rate", type=_positive_float, nargs="+", default=[0.25, 0.5, 1.0, 2.0], help="rates r = n/d")
    p.add_argument("--spectrum", metavar="FILE.npy", help="eigenvalues (1-D) or covariance (2-D) of the source")
    p.add_argument("--data", metavar="SPEC", help="predict from a data set's training covariance (digits, patches:16, ...)")
    _data_arguments(p)
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the data split / patch sampler")
    p.add_argument("--json", action="store_true", help="print a JSON list of records")
    p.set_defaults(func=_cmd_theory)

    p = sub.add_parser("train", help="gradient descent at one size, compared with the theory")
    p.add_argument("--d", type=_positive_int, default=None,
                   help="input dimension (default 256 for gaussian; a data set's own dimension otherwise)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--rate", type=_positive_float, help="rate r = n/d")
    size.add_argument("--n", type=_positive_int, help="code size n (instead of --rate)")
    p.add_argument("--activation", type=_activation_arg, default="sign")
    p.add_argument("--data", default="gaussian", metavar="SPEC",
                   help="gaussian (default), digits, patches:P, lfw, mnist:PATH, npy:PATH, ... (see README)")
    p.add_argument("--method", choices=["population", "samples"], default=None,
                   help="default: population for gaussian, samples for a data set")
    p.add_argument("--parametrization", choices=["optimal-decoder", "untied", "tied"], default=None,
                   help="default: optimal-decoder for population, untied for samples")
    p.add_argument("--optimizer", choices=["adam", "sgd", "momentum"], default=None,
                   help="default: sgd (plain gradient descent) for population, adam for samples")
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: per method and optimizer)")
    p.add_argument("--schedule", choices=["constant", "cosine", "exponential"], default=None,
                   help="default: constant for population, cosine for samples")
    p.add_argument("--steps", type=_positive_int, default=2000)
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--tol", type=_positive_float, default=None, help="stop when the relative improvement falls below")
    p.add_argument("--init", choices=["gaussian", "orthogonal"], default="gaussian")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.add_argument("--spectrum", metavar="FILE.npy", help="eigenvalues (1-D) or covariance (2-D) of the source")
    _data_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON record, no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="run a grid of train runs from a TOML spec into an SQLite store (resumable)")
    p.add_argument("spec", metavar="SPEC.toml")
    p.add_argument("--out", required=True, metavar="RESULTS.sqlite")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --executor dask)")
    p.add_argument("--skip-failed", action="store_true", help="do not retry runs recorded as failed")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("results", help="print or export the rows of a results store")
    p.add_argument("db", metavar="RESULTS.sqlite")
    p.add_argument("--csv", metavar="FILE", help="write every row and metric to FILE ('-' for stdout)")
    p.add_argument("--where", action="append", metavar="COL=VAL", help="filter (repeatable, ANDed; also <, >, !=)")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("figure", help="build one reproduce-figure (PNG, PDF and the CSV of its numbers)")
    p.add_argument("name", metavar="NAME", help="risk-vs-rate, finite-size, features, anisotropic, universality")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--quick", action="store_true", help="small sizes (seconds to a minute)")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.set_defaults(func=_cmd_figure)

    p = sub.add_parser("reproduce", help="the main job: every figure and a table of theory against simulation")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--quick", action="store_true", help="at most ~3 minutes on two cores, embedded data only")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``twolayer`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        print("twolayer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
