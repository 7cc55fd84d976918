r"""The default run function: one sweep run -> :func:`twolayer.simulations.train` -> its record.

Translation of the spec keys (:data:`twolayer.sweep.spec.KEYS`) into ``train`` arguments:

* ``rate`` -> ``n = round(rate * d)`` (``n`` is passed as it is);
* ``spectrum`` -> ``spectrum=`` eigenvalues: ``powerlaw:ALPHA`` gives lambda_k = k^-ALPHA
  (k = 1..d), ``isotropic`` gives the identity; a ``.npy`` file holds eigenvalues (1-D, passed
  as ``spectrum=``) or a covariance (2-D, passed as ``cov=``);
* ``data`` -> ``gaussian`` (or absent): the Gaussian source. Any other spec string makes
  the run a data experiment: :func:`default_run` calls
  :func:`twolayer.universality.data_experiment` (train on the training rows, held-out risk on
  the test rows, Gaussian and scale-mixture predictions, the Gaussian-twin and theory-encoder
  controls) with the arguments of :func:`data_arguments`; the data's dimension must equal
  ``d``. (:func:`train_arguments` still maps such a run to plain ``train`` on the training
  rows, for callers that want only that.) ``whiten``, ``remove_item_mean`` and
  ``test_fraction`` are ignored for the Gaussian source;
* every other key is passed to ``train`` under its own name; keys a spec leaves out get
  ``train``'s defaults.

Every problem raises ``ValueError`` (or ``train``'s own errors); the sweep records the run as
failed with that message and goes on.
"""

from __future__ import annotations

import functools
import os

import numpy as np

#: spec keys that configure the data set, not ``train``.
DATA_KEYS = ("whiten", "remove_item_mean", "test_fraction")


def spectrum_array(text: str, d: int) -> tuple[str, np.ndarray | None]:
    """Resolve a spectrum string for dimension ``d`` -> ``("spectrum" | "cov", array or None)``."""
    from .spec import parse_spectrum

    kind, alpha = parse_spectrum(text)
    if kind == "isotropic":
        return "spectrum", None
    if kind == "powerlaw":
        return "spectrum", np.arange(1, d + 1, dtype=np.float64) ** (-alpha)
    path = os.path.expanduser(text.strip())
    if not os.path.isfile(path):
        raise ValueError(f"spectrum file {text!r} not found (expected a .npy file of eigenvalues or a covariance)")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a bad file
        raise ValueError(f"could not read spectrum file {text!r} as a .npy array ({exc})") from None
    if arr.ndim == 1:
        if arr.size != d:
            raise ValueError(f"spectrum file {text!r} has {arr.size} eigenvalues but d = {d}; they must match")
        return "spectrum", arr.astype(np.float64)
    if arr.ndim == 2 and arr.shape == (d, d):
        return "cov", arr.astype(np.float64)
    raise ValueError(
        f"spectrum file {text!r} holds an array of shape {arr.shape}; expected {d} eigenvalues "
        f"or a {d} x {d} covariance"
    )


@functools.lru_cache(maxsize=1)
def _training_rows(spec: str, seed: int, whiten, remove_item_mean: bool, test_fraction) -> np.ndarray:
    """The preprocessed training rows of a data set (cached: a sweep often reuses one)."""
    from ..data import prepare

    options = {"remove_item_mean": remove_item_mean, "whiten": whiten}
    if test_fraction is not None:
        options["test_fraction"] = test_fraction
    _, split = prepare(spec, seed=seed, **options)
    split.train.setflags(write=False)
    return split.train


def _pop_size(p: dict) -> tuple[int, float | None, int | None]:
    """Remove and return ``(d, rate, n)`` from a run's parameters (exactly one of rate, n)."""
    if "d" not in p:
        raise ValueError("the run has no 'd' (input dimension)")
    if "rate" in p and "n" in p:
        raise ValueError("give 'rate' or 'n', not both")
    if "rate" not in p and "n" not in p:
        raise ValueError("the run has neither 'rate' nor 'n'")
    return p.pop("d"), p.pop("rate", None), p.pop("n", None)


def train_arguments(params: dict) -> tuple[int, int, dict]:
    """``(d, n, keyword arguments)`` of ``train`` for one run's parameters (see the module docstring)."""
    p = dict(params)
    d, rate, n = _pop_size(p)
    if rate is not None:
        n = int(round(rate * d))
        if n < 1:
            raise ValueError(f"rate = {rate:g} with d = {d} gives n = round(rate * d) = 0")
    data = p.pop("data", "gaussian")
    whiten = p.pop("whiten", "none")
    remove_item_mean = p.pop("remove_item_mean", False)
    test_fraction = p.pop("test_fraction", None)
    spectrum = p.pop("spectrum", None)
    kwargs = p  # activation, method, parametrization, optimizer, lr, schedule, steps, ...

    if spectrum is not None:
        if data.strip().lower() != "gaussian":
            raise ValueError(f"'spectrum' sets the Gaussian source; it cannot be combined with data = {data!r}")
        name, arr = spectrum_array(spectrum, d)
        if arr is not None:
            kwargs[name] = arr
    if data.strip().lower() != "gaussian":
        rows = _training_rows(
            data, int(kwargs.get("seed", 0)), None if whiten == "none" else whiten, bool(remove_item_mean), test_fraction
        )
        if rows.shape[1] != d:
            raise ValueError(f"data {data!r} has dimension {rows.shape[1]} but the run says d = {d}; set d = {rows.shape[1]}")
        kwargs["data"] = rows
    return d, n, kwargs


#: spec keys a data experiment passes on to :func:`twolayer.universality.data_experiment`.
DATA_RUN_KEYS = ("activation", "steps", "seed", "batch_size", "lr", "optimizer", "schedule", "init", "dtype")


def is_data_run(params: dict) -> bool:
    """True when the run's ``data`` is a data set (anything but ``gaussian``)."""
    return str(params.get("data", "gaussian")).strip().lower() != "gaussian"


def data_arguments(params: dict) -> tuple[str, float | None, dict]:
    """``(data, rate, keyword arguments)`` of ``data_experiment`` for a run with a data set.

    ``rate`` is the run's rate, or None with ``n`` in the keyword arguments when the run gives
    ``n``; ``whiten = "none"`` becomes
    None. Keys that only make sense for the Gaussian source or for plain ``train``
    (``spectrum``, ``tol``, ``parametrization``, ``method = "population"``) raise ``ValueError``:
    a data experiment trains by minibatches ("samples", untied, decoder refitted by least squares).
    """
    p = dict(params)
    data = p.pop("data")
    d, rate, n = _pop_size(p)
    method = p.pop("method", "samples")
    if method != "samples":
        raise ValueError(f"data = {data!r} is trained on its samples: method must be 'samples', got {method!r}")
    for key in ("spectrum", "tol", "parametrization"):
        if key in p:
            raise ValueError(f"key {key!r} is not used by a run on a data set (data = {data!r}); remove it")
    kwargs = {"d": d}
    if rate is None:
        kwargs["n"] = n
    whiten = p.pop("whiten", "none")
    kwargs["whiten"] = None if whiten == "none" else whiten
    kwargs["remove_item_mean"] = bool(p.pop("remove_item_mean", False))
    if "test_fraction" in p:
        kwargs["test_fraction"] = p.pop("test_fraction")
    for key in DATA_RUN_KEYS:
        if key in p:
            kwargs[key] = p.pop(key)
    if p:
        raise ValueError(f"key(s) {', '.join(sorted(p))} not used by a run on a data set (data = {data!r})")
    return data, rate, kwargs


def default_run(params: dict) -> dict:
    """One sweep run -> its record.

    Gaussian source: :func:`twolayer.simulations.train` with :func:`train_arguments`, its
    ``as_record()``. A data set: :func:`twolayer.universality.data_experiment` with
    :func:`data_arguments` (the data's dimension must be the run's ``d``).
    """
    if is_data_run(params):
        from ..universality import data_experiment

        data, rate, kwargs = data_arguments(params)
        return data_experiment(data, rate, **kwargs)
    from ..simulations import train

    d, n, kwargs = train_arguments(params)
    return train(d, n, **kwargs).as_record()
