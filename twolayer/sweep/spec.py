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
varying fastest), each merged over the defaults. Every key must be a run option of
:data:`twolayer.config.OPTIONS` (the one table the command line and the API read too; add an
option there and the spec accepts it and the store gets a column for it). Values are
normalised (``rate = 1`` becomes ``1.0``, ``activation = "Sign"`` becomes ``"sign"``) and
every run is resolved by :class:`~twolayer.config.RunConfig` (defaults filled in, options
that do not apply refused) before runs are hashed, so equal runs always get equal keys and
the store holds the value of every option as run. A data-set run takes ``d`` from its data,
so one spec can grid over ``data = ["digits", "patches:16"]``.

``save_params`` (an output file) may name the keys that vary, as in
``save_params = "params-{data}-{rate}.npz"``; it is not part of a run's identity.

Everything is checked before any run starts; the first problem raises :class:`SpecError`
(a ``ValueError``) whose one-line message names the file, the table and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field

from ..config import OPTIONS, RunConfig


class SpecError(ValueError):
    """A sweep spec is invalid: the message names the offending key and what is accepted.

    A subclass of ``ValueError``.
    """


#: THE table of accepted keys: the run options of :data:`twolayer.config.OPTIONS` (each has
#: ``check``, ``sql_type`` and ``help``; the store gets one column per key).
KEYS = OPTIONS
#: tables a spec may contain, and the keys of [sweep].
TABLES = ("sweep", "grid", "defaults")
SWEEP_KEYS = ("name", "description")


def accepted_keys() -> str:
    """Every accepted key, for error messages.

    Returns
    -------
    str
        The keys of :data:`KEYS`, comma-separated.
    """
    return ", ".join(KEYS)


def _check_value(key: str, value, where: str, item: str = ""):
    if key not in KEYS:
        raise SpecError(f"{where}: unknown key {key!r}; accepted keys: {accepted_keys()}")
    try:
        return KEYS[key].check(value)
    except ValueError as exc:
        raise SpecError(f"{where}: key {key!r}{item}: {str(exc).removeprefix(key + ': ')}") from None


def resolve_run(params: dict, where: str = "spec") -> dict:
    """One merged run -> its resolved options (:class:`~twolayer.config.RunConfig`); raises SpecError.

    Parameters
    ----------
    params : dict
        The run's options (a grid point merged over the defaults).
    where : str, optional
        Prefix of error messages (the spec's source; default ``"spec"``).

    Returns
    -------
    dict
        Every run option, defaults filled in.

    Raises
    ------
    SpecError
        If the options are invalid or do not apply together.
    """
    try:
        return RunConfig.from_dict(params, where).to_dict()
    except ValueError as exc:
        message = str(exc)
        raise SpecError(message if message.startswith(where) else f"{where}: {message}") from None


# ----------------------------------------------------------------------------- hashing
def canonical_json(obj) -> str:
    """Key-sorted, whitespace-free JSON: equal objects give equal strings (and hashes).

    Parameters
    ----------
    obj : object
        A JSON-serialisable object.

    Returns
    -------
    str
        ASCII JSON text.

    Raises
    ------
    ValueError
        If ``obj`` holds NaN or an infinite float.
    TypeError
        If ``obj`` holds a value JSON cannot encode.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [0.5, "x"]})
    '{"a":[0.5,"x"],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def run_key(params: dict, *, version: str | None = None) -> str:
    """sha256 (hex) of the canonical JSON of one run's parameters: its identity in the store.

    Output-only options (``save_params``: where the same run is written) are left out, and so are
    options whose value is None (an option that does not apply to the run): adding a new option to
    the table then leaves the keys of the runs it does not apply to, and so their stores, unchanged.
    With ``version`` (a package version) the key also depends on it, so that a store keyed so (the
    figures' caches) reruns its runs under another version of the code.

    Parameters
    ----------
    params : dict
        The run's parameters (JSON-serialisable, finite floats).
    version : str or None, optional
        A version to key the run by as well (default None: the parameters alone).

    Returns
    -------
    str
        64 hex digits.

    Raises
    ------
    ValueError, TypeError
        As :func:`canonical_json`.

    Examples
    --------
    >>> run_key({"d": 64, "save_params": "a.npz"}) == run_key({"d": 64}) == run_key({"d": 64, "new": None})
    True
    >>> run_key({"d": 64}, version="0.2.0") == run_key({"d": 64}, version="0.3.0")
    False
    """
    identity = {k: v for k, v in params.items() if v is not None and (k not in OPTIONS or OPTIONS[k].identity)}
    if version is not None:
        identity["@version"] = str(version)  # no option name starts with @
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


def runs_hash(runs: list) -> str:
    """sha256 of the canonical JSON of an expanded runs list (order included): a spec's identity.

    Parameters
    ----------
    runs : list of dict
        The expanded runs.

    Returns
    -------
    str
        64 hex digits.
    """
    return hashlib.sha256(canonical_json(runs).encode()).hexdigest()


# ----------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``grid`` (key -> list), ``defaults``, the expanded ``runs`` (a list
    of dicts, the product of the grid merged over the defaults) and their ``hash`` (sha256 of
    the canonical JSON of ``runs``). Build one with :func:`load_spec` or :func:`spec_from_dict`,
    which validate; this class only expands.

    Parameters
    ----------
    grid : dict
        Key -> list of values; runs are their Cartesian product (last key fastest).
    defaults : dict
        Key -> value shared by every run.
    name : str, optional
        The sweep's name (default ``"sweep"``).
    description : str, optional
        A one-line description.
    source : str, optional
        Where the spec came from (a file path, or ``"<dict>"``).

    Attributes
    ----------
    runs : list of dict
        The expanded runs (resolved options when built by :func:`spec_from_dict`).
    hash : str
        :func:`runs_hash` of ``runs``.
    """

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
        object.__setattr__(self, "hash", runs_hash(runs))

    def __len__(self) -> int:
        return len(self.runs)


def spec_from_dict(doc: dict, source: str = "<dict>") -> SweepSpec:
    """Validate a parsed spec (the dict TOML gives) and expand it; raises :class:`SpecError`.

    Parameters
    ----------
    doc : dict
        Tables ``grid`` (required), ``defaults`` and ``sweep`` (optional).
    source : str, optional
        Where the spec came from, for messages; a file path also gives the default name.

    Returns
    -------
    SweepSpec
        The spec, its ``runs`` resolved (:func:`resolve_run`) and hashed.

    Raises
    ------
    SpecError
        On the first problem: an unknown table or key, an invalid value, an empty or
        duplicated grid value, a key in both [grid] and [defaults], a run whose options do not
        apply together, or several runs writing the same ``save_params`` file.
    """
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
    runs = [resolve_run(params, source) for params in spec.runs]
    saves = [p["save_params"] for p in runs if p["save_params"] is not None]
    if len(saves) > 1 and len({p.format_map(r) for p, r in zip(saves, runs)}) < len(saves):
        raise SpecError(f"{source}: key 'save_params': several runs would write the same file {saves[0]!r}; "
                        "name the file after the keys that vary, e.g. \"params-{rate}-{seed}.npz\"")
    object.__setattr__(spec, "runs", runs)
    object.__setattr__(spec, "hash", runs_hash(runs))
    return spec


def loads_spec(text: str, source: str = "<string>") -> SweepSpec:
    r"""Parse and validate TOML text; raises :class:`SpecError`.

    Parameters
    ----------
    text : str
        The TOML spec.
    source : str, optional
        Name used in messages (default ``"<string>"``).

    Returns
    -------
    SweepSpec
        As :func:`spec_from_dict`.

    Raises
    ------
    SpecError
        If ``text`` is not valid TOML or not a valid spec.

    Examples
    --------
    >>> spec = loads_spec("[grid]\nseed = [0, 1]\n[defaults]\nd = 8\nrate = 0.5")
    >>> len(spec), [run["seed"] for run in spec.runs]
    (2, [0, 1])
    """
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
    """Read, validate and expand a TOML sweep spec file; raises :class:`SpecError`.

    Parameters
    ----------
    path : str or os.PathLike
        The spec file (UTF-8 TOML); its base name is the default sweep name.

    Returns
    -------
    SweepSpec
        As :func:`spec_from_dict`.

    Raises
    ------
    SpecError
        If the file is missing, unreadable, not UTF-8, or not a valid spec.
    """
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
