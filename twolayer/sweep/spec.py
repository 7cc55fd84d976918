r"""Sweep specs: a TOML file -> a validated, expanded list of runs.

A spec has up to three tables::

    [sweep]                    # optional
    name = "sign-rates"
    description = "risk against the rate, isotropic Gaussian"

    [grid]                     # required, non-empty: key = [values...]
    rate = [0.25, 0.5, 1.0]
    seed = [0, 1, 2]

    [defaults]                 # optional: key = value, shared by every run
    d = 64
    activation = "sign"
    method = "population"

The runs are the Cartesian product of the grid (keys in the order written, the last key
varying fastest), each merged over the defaults. Every key must be a ``train`` parameter
listed in :data:`KEYS` (one table: key -> validator, SQL column type and help text; add a
key there and the store gets a column for it). Values are normalised by their validator
(``rate = 1`` becomes ``1.0``, ``activation = "Sign"`` becomes ``"sign"``) before runs are
hashed, so equal runs always get equal keys.

Everything is checked before any run starts; the first problem raises :class:`SpecError`
(a ``ValueError``) whose one-line message names the file, the table and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SpecError(ValueError):
    """A sweep spec is invalid: the message names the offending key and what is accepted."""


# ----------------------------------------------------------------------------- validators
# Each validator takes a TOML value and returns the normalised value, or raises ValueError
# with a message that says what is accepted (the caller prefixes the key).


def _integer(minimum: int) -> Callable[[Any], int]:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer >= {minimum}, got {value!r}")
        if value < minimum:
            raise ValueError(f"expected an integer >= {minimum}, got {value}")
        return int(value)

    check.accepts = f"an integer >= {minimum}"
    return check


def _number(value, accepts: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected {accepts}, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"expected {accepts}, got {value!r}")
    return x


def _positive() -> Callable[[Any], float]:
    def check(value):
        x = _number(value, "a finite number > 0")
        if x <= 0:
            raise ValueError(f"expected a finite number > 0, got {value!r}")
        return x

    check.accepts = "a number > 0"
    return check


def _open_unit() -> Callable[[Any], float]:
    def check(value):
        x = _number(value, "a number strictly between 0 and 1")
        if not 0.0 < x < 1.0:
            raise ValueError(f"expected a number strictly between 0 and 1, got {value!r}")
        return x

    check.accepts = "a number in (0, 1)"
    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value):
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}; got {value!r}")
        return value.strip().lower()

    check.accepts = " | ".join(choices)
    return check


def _boolean() -> Callable[[Any], bool]:
    def check(value):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    check.accepts = "true | false"
    return check


def _data_spec() -> Callable[[Any], str]:
    def check(value):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a non-empty data spec string ({check.accepts}); got {value!r}")
        try:  # syntax only (kind, patch sizes); files are opened by the run
            from ..data import parse_spec as parse_data_spec
        except ImportError:  # pragma: no cover - the data package is part of twolayer
            return value.strip()
        parse_data_spec(value)  # DatasetError is a ValueError naming the accepted forms
        return value.strip()

    check.accepts = 'gaussian, digits, lfw, patches:P[:N], mnist:PATH, ...'
    return check


#: named spectra: name -> accepted form (see :func:`parse_spectrum`).
NAMED_SPECTRA = {
    "isotropic": "isotropic (the identity covariance)",
    "powerlaw": "powerlaw:ALPHA (eigenvalues k^-ALPHA, k = 1..d, ALPHA >= 0)",
}


def parse_spectrum(text: str) -> tuple[str, float | None]:
    """Split a spectrum string into ``("isotropic", None)``, ``("powerlaw", alpha)`` or ``("file", None)``.

    Raises ``ValueError`` naming the accepted forms. A ``.npy`` path is accepted by its suffix;
    whether it exists is checked by :func:`_spectrum_spec` (at load time) and by the run.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected {_SPECTRUM_ACCEPTS}; got {text!r}")
    s = text.strip()
    if s.lower().endswith(".npy"):
        return "file", None
    kind, sep, arg = s.partition(":")
    kind = kind.strip().lower()
    if kind == "isotropic" and not sep:
        return "isotropic", None
    if kind == "powerlaw" and sep:
        try:
            alpha = float(arg)
        except ValueError:
            alpha = float("nan")
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"powerlaw:ALPHA needs a finite ALPHA >= 0, got {arg!r} in {text!r}")
        return "powerlaw", alpha
    raise ValueError(f"expected {_SPECTRUM_ACCEPTS}; got {text!r}")


_SPECTRUM_ACCEPTS = "a .npy file of eigenvalues (or a covariance), or " + " or ".join(NAMED_SPECTRA.values())


def _spectrum_spec() -> Callable[[Any], str]:
    def check(value):
        kind, alpha = parse_spectrum(value)
        s = value.strip()
        if kind == "file" and not os.path.isfile(os.path.expanduser(s)):
            raise ValueError(
                f"spectrum file {s!r} not found (paths are relative to the current directory); "
                f"expected {_SPECTRUM_ACCEPTS}"
            )
        if kind == "powerlaw":  # one spelling per exponent: powerlaw:1.0 and powerlaw:1 are one run
            return f"powerlaw:{int(alpha) if alpha.is_integer() else alpha!r}"
        return s if kind == "file" else kind

    check.accepts = _SPECTRUM_ACCEPTS
    return check


@dataclass(frozen=True)
class Key:
    """One spec key: its validator (value -> normalised value), SQL column type, and help."""

    check: Callable[[Any], Any]
    sql_type: str
    help: str


#: THE table of accepted keys (spec validation, store columns, README all derive from it).
KEYS: dict[str, Key] = {
    "d": Key(_integer(2), "INTEGER", "input dimension"),
    "rate": Key(_positive(), "REAL", "code rate r = n/d; the run uses n = round(rate * d) (not with n)"),
    "n": Key(_integer(1), "INTEGER", "code size (not with rate)"),
    "activation": Key(_choice("sign", "relu", "erf", "tanh", "linear"), "TEXT", "activation sigma"),
    "data": Key(_data_spec(), "TEXT", "source: gaussian (default) or a data set spec"),
    "method": Key(_choice("population", "samples"), "TEXT", "exact risk or minibatches"),
    "parametrization": Key(_choice("optimal-decoder", "untied", "tied"), "TEXT", "decoder parametrisation"),
    "optimizer": Key(_choice("adam", "sgd", "momentum"), "TEXT", "optimiser"),
    "lr": Key(_positive(), "REAL", "base learning rate"),
    "schedule": Key(_choice("constant", "cosine", "exponential"), "TEXT", "learning-rate schedule"),
    "steps": Key(_integer(1), "INTEGER", "step budget"),
    "batch_size": Key(_integer(1), "INTEGER", "minibatch size (method samples)"),
    "tol": Key(_positive(), "REAL", "early-stopping tolerance"),
    "init": Key(_choice("gaussian", "orthogonal"), "TEXT", "initialisation of B"),
    "dtype": Key(_choice("float32", "float64"), "TEXT", "training precision"),
    "seed": Key(_integer(0), "INTEGER", "seed of the initialisation, samples and data split"),
    "spectrum": Key(_spectrum_spec(), "TEXT", "Gaussian source spectrum: powerlaw:ALPHA, isotropic, or FILE.npy"),
    "whiten": Key(_choice("none", "pca", "zca"), "TEXT", "data whitening (data sets only)"),
    "remove_item_mean": Key(_boolean(), "INTEGER", "subtract each item's mean (data sets only)"),
    "test_fraction": Key(_open_unit(), "REAL", "held-out fraction of a data set"),
}

#: keys every run must have (after merging grid and defaults).
REQUIRED = ("d",)
#: tables a spec may contain, and the keys of [sweep].
TABLES = ("sweep", "grid", "defaults")
SWEEP_KEYS = ("name", "description")


def accepted_keys() -> str:
    """``key (accepted values)`` for every key, for error messages."""
    return ", ".join(KEYS)


def _check_value(key: str, value, where: str, item: str = ""):
    if key not in KEYS:
        raise SpecError(f"{where}: unknown key {key!r}; accepted keys: {accepted_keys()}")
    try:
        return KEYS[key].check(value)
    except ValueError as exc:
        raise SpecError(f"{where}: key {key!r}{item}: {exc}") from None


def check_run(params: dict, where: str = "spec") -> None:
    """Checks across keys of one merged run (rate/n, required keys, n >= 1); raises SpecError."""
    missing = [k for k in REQUIRED if k not in params]
    if missing:
        raise SpecError(f"{where}: key {missing[0]!r} is required (in [grid] or [defaults])")
    if "rate" in params and "n" in params:
        raise SpecError(f"{where}: keys 'rate' and 'n' are both given; give one of them (n = round(rate * d))")
    if "rate" not in params and "n" not in params:
        raise SpecError(f"{where}: key 'rate' or 'n' is required (in [grid] or [defaults])")
    if "rate" in params and round(params["rate"] * params["d"]) < 1:
        raise SpecError(
            f"{where}: key 'rate': rate = {params['rate']:g} with d = {params['d']} gives "
            f"n = round(rate * d) = 0; need rate > {0.5 / params['d']:g}"
        )


# ----------------------------------------------------------------------------- hashing
def canonical_json(obj) -> str:
    """Key-sorted, whitespace-free JSON: equal objects give equal strings (and hashes)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def run_key(params: dict) -> str:
    """sha256 (hex) of the canonical JSON of one run's parameters: its identity in the store."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()


# ----------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``grid`` (key -> list), ``defaults``, the expanded ``runs`` (a list
    of dicts, the product of the grid merged over the defaults) and their ``hash`` (sha256 of
    the canonical JSON of ``runs``). Build one with :func:`load_spec` or :func:`spec_from_dict`,
    which validate; this class only expands."""

    grid: dict
    defaults: dict
    name: str = "sweep"
    description: str = ""
    source: str = "<dict>"
    runs: list = field(init=False, repr=False, compare=False)
    hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        runs = []
        keys = list(self.grid)
        for values in itertools.product(*(self.grid[k] for k in keys)):
            params = dict(self.defaults)
            params.update(zip(keys, values))
            runs.append(params)
        object.__setattr__(self, "runs", runs)
        # sha256 of the canonical JSON of the expanded runs list (order included)
        object.__setattr__(self, "hash", hashlib.sha256(canonical_json(runs).encode()).hexdigest())

    def __len__(self) -> int:
        return len(self.runs)


def spec_from_dict(doc: dict, source: str = "<dict>") -> SweepSpec:
    """Validate a parsed spec (the dict TOML gives) and expand it; raises :class:`SpecError`."""
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: a spec must be a table with [grid] (and optionally [defaults], [sweep])")
    for table in doc:
        if table not in TABLES:
            hint = " (keys go inside [grid] or [defaults])" if table in KEYS else ""
            raise SpecError(f"{source}: unknown table or key {table!r}{hint}; accepted tables: {', '.join(TABLES)}")
        if not isinstance(doc[table], dict):
            raise SpecError(f"{source}: {table!r} must be a table, written [{table}]")
    meta = doc.get("sweep", {})
    for key, value in meta.items():
        if key not in SWEEP_KEYS:
            raise SpecError(f"{source}: [sweep]: unknown key {key!r}; accepted: {', '.join(SWEEP_KEYS)}")
        if not isinstance(value, str):
            raise SpecError(f"{source}: [sweep]: key {key!r} must be a string, got {value!r}")

    raw_grid = doc.get("grid", {})
    if not raw_grid:
        raise SpecError(f"{source}: the [grid] table is missing or empty; give at least one key = [values]")
    grid = {}
    for key, values in raw_grid.items():
        where = f"{source}: [grid]"
        if key not in KEYS:
            _check_value(key, None, where)  # raises "unknown key"
        if not isinstance(values, list):
            raise SpecError(
                f"{where}: key {key!r} must be a list of values, e.g. {key} = [{values!r}]; "
                "put fixed values in [defaults]"
            )
        if not values:
            raise SpecError(f"{where}: key {key!r} has an empty list; give at least one value")
        normalised = [
            _check_value(key, v, where, f" (value {i + 1} of {len(values)})") for i, v in enumerate(values)
        ]
        for i, v in enumerate(normalised):
            if v in normalised[:i]:
                raise SpecError(f"{where}: key {key!r} lists the value {v!r} twice (it would run twice)")
        grid[key] = normalised

    defaults = {}
    for key, value in doc.get("defaults", {}).items():
        where = f"{source}: [defaults]"
        if key in grid:
            raise SpecError(f"{source}: key {key!r} is in both [grid] and [defaults]; keep it in one of them")
        if isinstance(value, list):
            raise SpecError(f"{where}: key {key!r} is a list; lists of values to sweep belong in [grid]")
        defaults[key] = _check_value(key, value, where)

    spec = SweepSpec(
        grid=grid,
        defaults=defaults,
        name=meta.get("name") or (os.path.splitext(os.path.basename(source))[0] if not source.startswith("<") else "sweep"),
        description=meta.get("description", ""),
        source=source,
    )
    for params in spec.runs:
        check_run(params, source)
    return spec


def loads_spec(text: str, source: str = "<string>") -> SweepSpec:
    """Parse and validate TOML text; raises :class:`SpecError`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}{_quote_line(text, str(exc))}") from None
    return spec_from_dict(doc, source)


def _quote_line(text: str, message: str) -> str:
    """`` -- 'LINE'`` for the line a TOML error points at (names the key of a duplicate)."""
    import re

    m = re.search(r"at line (\d+)", message)
    lines = text.splitlines()
    if not m or not 1 <= int(m.group(1)) <= len(lines):
        return ""
    line = lines[int(m.group(1)) - 1].strip()
    key = re.match(r"([A-Za-z0-9_-]+)\s*=", line)
    hint = f" (key {key.group(1)!r} given twice?)" if key and "overwrite" in message else ""
    return f" -- {line!r}{hint}"


def load_spec(path) -> SweepSpec:
    """Read, validate and expand a TOML sweep spec file; raises :class:`SpecError`."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise SpecError(f"sweep spec {path!r} not found") from None
    except OSError as exc:
        raise SpecError(f"cannot read sweep spec {path!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a UTF-8 text file (expected a TOML sweep spec)") from None
    return loads_spec(text, path)
