r"""The results store: one SQLite file, one row per run, written by one process at a time.

Table ``runs`` (one row per distinct run, ``run_key`` UNIQUE):

* bookkeeping -- ``run_key`` (sha256 of the run's canonical parameters), ``spec_hash``
  (sha256 of the expanded runs list of the spec that wrote the row), ``spec_name``,
  ``status`` ('done' or 'failed'), ``error`` ('Type: message' for a failed run) and its
  ``traceback``, ``started`` / ``finished`` (ISO 8601, UTC), ``seconds`` (wall time of the
  run function), ``version`` (``twolayer.__version__``), ``host`` (the machine that ran it);
* ``params`` and ``metrics`` -- the full dicts as JSON;
* one column per key of :data:`twolayer.sweep.spec.KEYS` (NULL where the run does not set
  it) and a REAL column per :data:`METRIC_COLUMNS` (NULL where the run function does not
  return it), so the common questions need no JSON.

Table ``specs`` records each spec written into the file (hash, name, description, number of
runs, first use). Columns for keys added to ``KEYS`` later are added to old files on open.

Durability: WAL journal mode, ``synchronous=FULL``, and every result is written in its own
``BEGIN IMMEDIATE ... COMMIT`` transaction, so a process killed at any moment leaves every
row either fully written or absent. Only the sweep's parent process writes. A run already
'done' is never overwritten; a 'failed' row is replaced when the run is tried again.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC, datetime

from .spec import KEYS, canonical_json, run_key

#: metrics copied into REAL columns (the rest stay in the ``metrics`` JSON).
METRIC_COLUMNS = ("final_risk", "predicted_risk", "relative_gap", "frame_spectrum_error", "polar_alignment")
#: bookkeeping columns, in table order (after the id).
BOOK_COLUMNS = (
    ("run_key", "TEXT NOT NULL UNIQUE"),
    ("spec_hash", "TEXT NOT NULL"),
    ("spec_name", "TEXT"),
    ("status", "TEXT NOT NULL CHECK (status IN ('done', 'failed'))"),
    ("error", "TEXT"),
    ("traceback", "TEXT"),
    ("started", "TEXT"),
    ("finished", "TEXT"),
    ("seconds", "REAL"),
    ("version", "TEXT"),
    ("host", "TEXT"),
    ("params", "TEXT NOT NULL"),
    ("metrics", "TEXT"),
)
SCHEMA_VERSION = 1
#: comparison operators accepted by :func:`parse_filter` -> SQL (a fixed whitelist).
OPERATORS = {"=": "=", "!=": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}
_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$", re.S)


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds.

    Returns
    -------
    str
        E.g. ``"2024-05-01T12:34:56.789+00:00"``.
    """
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _quote(name: str) -> str:
    """Quote a column name that comes from the schema (never from user input)."""
    return '"' + name.replace('"', '""') + '"'


def _unreadable(path: str, why) -> str:
    return (f"{path!r} is not a readable twolayer results database ({why}); it is left as it is: restore it "
            "from a copy, or give another file")


class StoreError(ValueError):
    """The file is not a results database, or a query is invalid.

    A subclass of ``ValueError``; its message names the file, the filter or the column.
    """


class ResultStore:
    """A results database (see the module docstring). Use as a context manager.

    ``create=False`` opens an existing file only (for reading results): a missing file or one
    without a ``runs`` table raises :class:`StoreError`.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file.
    create : bool, optional
        True (default): create the file and its tables if missing (and add the columns of
        newer keys to an old file); False: open an existing results database only.

    Attributes
    ----------
    path : str
        The file, as given.
    conn : sqlite3.Connection
        The open connection (autocommit; rows as :class:`sqlite3.Row`).

    Raises
    ------
    StoreError
        If ``create=False`` and the file is missing or has no ``runs`` table, if ``create=True``
        and the path is refused by :func:`twolayer._files.check_database_path` (a folder, a missing
        or read-only folder, a file that is not SQLite), or if the file is damaged (SQLite's quick
        check) or not a usable SQLite database.
    """

    def __init__(self, path, *, create: bool = True):
        from .._files import check_database_path

        self.path = os.fspath(path)
        if not create and not os.path.isfile(self.path):
            raise StoreError(f"results database {self.path!r} not found")
        if create:
            try:
                check_database_path(self.path)
            except ValueError as exc:
                raise StoreError(str(exc)) from None
        self.conn = None
        try:
            self.conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self._check_intact()
            if create:
                self._create()
            elif not self._has_runs_table():
                self.conn.close()
                raise StoreError(f"{self.path!r} is not a twolayer results database (no 'runs' table)")
        except sqlite3.DatabaseError as exc:
            if self.conn is not None:
                self.conn.close()
            if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise StoreError(_unreadable(self.path, exc)) from None
            raise StoreError(f"{self.path!r} is not a usable SQLite results database: {exc}") from None
        self._columns = None

    # -- setup
    def _check_intact(self) -> None:
        """StoreError unless SQLite's quick check finds every page of the file sound (before any write)."""
        problems = [row[0] for row in self.conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            self.conn.close()
            raise StoreError(_unreadable(self.path, problems[0]))

    def _has_runs_table(self) -> bool:
        row = self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='runs'").fetchone()
        return row is not None

    def _create(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        columns = ["id INTEGER PRIMARY KEY"]
        columns += [f"{name} {decl}" for name, decl in BOOK_COLUMNS]
        columns += [f"{_quote(k)} {key.sql_type}" for k, key in KEYS.items()]
        columns += [f"{_quote(m)} REAL" for m in METRIC_COLUMNS]
        with self._transaction():
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS runs ({', '.join(columns)})")
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS specs (spec_hash TEXT PRIMARY KEY, name TEXT, "
                "description TEXT, runs INTEGER, source TEXT, grid TEXT, defaults TEXT, created TEXT)"
            )
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self.conn.execute("CREATE INDEX IF NOT EXISTS runs_spec ON runs (spec_hash)")
            have = {r["name"] for r in self.conn.execute("PRAGMA table_info(runs)")}
            for k, key in KEYS.items():  # keys added to the table after the file was made
                if k not in have:
                    self.conn.execute(f"ALTER TABLE runs ADD COLUMN {_quote(k)} {key.sql_type}")
            for m in METRIC_COLUMNS:
                if m not in have:
                    self.conn.execute(f"ALTER TABLE runs ADD COLUMN {_quote(m)} REAL")

    def _transaction(self):
        conn = self.conn

        class _Tx:
            def __enter__(self):
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, exc, tb):
                conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
                return False

        return _Tx()

    def close(self) -> None:
        """Close the connection (also done on leaving the ``with`` block).

        Returns
        -------
        None
        """
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- schema
    @property
    def columns(self) -> list[str]:
        """Column names of ``runs`` in table order (the whitelist for filters).

        Returns
        -------
        list of str
            The names, read once and cached.
        """
        if self._columns is None:
            self._columns = [r["name"] for r in self.conn.execute("PRAGMA table_info(runs)")]
        return self._columns

    def _column_types(self) -> dict:
        return {r["name"]: (r["type"] or "").split()[0].upper() for r in self.conn.execute("PRAGMA table_info(runs)")}

    # -- writing
    def add_spec(self, spec) -> None:
        """Record a spec (hash, name, description, size) the first time it writes here.

        A spec already recorded (same hash) is left as it is.

        Parameters
        ----------
        spec : SweepSpec
            The spec (its ``hash``, ``name``, ``description``, ``runs``, ``source``, ``grid``
            and ``defaults`` are stored).

        Returns
        -------
        None
        """
        with self._transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO specs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (spec.hash, spec.name, spec.description, len(spec.runs), spec.source,
                 canonical_json(spec.grid), canonical_json(spec.defaults), utc_now()),
            )

    def record(self, params: dict, outcome, *, spec_hash: str, spec_name: str | None = None,
               version: str | None = None) -> bool:
        """Write one run's outcome in its own transaction. Returns False when the run was
        already 'done' (the row is kept as it is), True otherwise.

        A 'failed' row of the same run is replaced.

        Parameters
        ----------
        params : dict
            The run's parameters (its identity, :func:`~twolayer.sweep.spec.run_key`).
        outcome : Outcome
            What the run produced (:class:`~twolayer.sweep.executors.Outcome`).
        spec_hash : str
            Hash of the spec that ran it.
        spec_name : str or None, optional
            Name of that spec.
        version : str or None, optional
            Package version that ran it.

        Returns
        -------
        bool
            True if the row was written, False if the run was already 'done'.

        Raises
        ------
        ValueError
            If ``params`` or the metrics hold NaN or infinite floats (JSON without NaN).
        TypeError
            If ``params`` or the metrics hold values JSON cannot encode.
        sqlite3.IntegrityError
            If ``outcome.status`` is neither 'done' nor 'failed'.
        """
        metrics = outcome.metrics or {}
        row = {
            "run_key": run_key(params),
            "spec_hash": spec_hash,
            "spec_name": spec_name,
            "status": outcome.status,
            "error": outcome.error,
            "traceback": getattr(outcome, "traceback", None),
            "started": outcome.started,
            "finished": outcome.finished,
            "seconds": outcome.seconds,
            "version": version,
            "host": outcome.host,
            "params": canonical_json(params),
            "metrics": json.dumps(metrics, sort_keys=True, allow_nan=False) if outcome.metrics is not None else None,
        }
        for k in KEYS:
            row[k] = params.get(k)
        for m in METRIC_COLUMNS:
            v = metrics.get(m)
            row[m] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        names = list(row)
        sql = (
            f"INSERT INTO runs ({', '.join(map(_quote, names))}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT(run_key) DO UPDATE SET "
            + ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in names if c != "run_key")
            + " WHERE runs.status != 'done'"
        )
        with self._transaction():
            cur = self.conn.execute(sql, [row[c] for c in names])
        return cur.rowcount > 0

    # -- reading
    def statuses(self) -> dict:
        """run_key -> status for every row.

        Returns
        -------
        dict
            ``{run_key: "done" or "failed"}``.
        """
        return {r["run_key"]: r["status"] for r in self.conn.execute("SELECT run_key, status FROM runs")}

    def count(self) -> int:
        """The number of rows (runs recorded, done or failed).

        Returns
        -------
        int
        """
        return self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def rows(self, filters=()) -> list[dict]:
        """Rows (dicts, ``params``/``metrics`` decoded) matching every filter, in insertion order.

        ``filters``: strings ``COLUMN OP VALUE`` (OP one of =, !=, <, <=, >, >=), ANDed; see
        :func:`parse_filter`.

        Parameters
        ----------
        filters : iterable of str, optional
            Filters, all of which a row must match (default: none, every row).

        Returns
        -------
        list of dict
            One dict per row, every column of ``runs``; ``params`` a dict, ``metrics`` a dict
            or None.

        Raises
        ------
        StoreError
            If a filter cannot be parsed or names an unknown column (:func:`parse_filter`).
        """
        clauses, args = [], []
        types = self._column_types()
        for text in filters:
            column, op, value = parse_filter(text, types)
            if value is None:
                clauses.append(f"{_quote(column)} IS {'NOT ' if op == '!=' else ''}NULL")
            else:
                clauses.append(f"{_quote(column)} {OPERATORS[op]} ?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        out = []
        for r in self.conn.execute(sql, args):
            row = dict(r)
            row["params"] = json.loads(row["params"])
            row["metrics"] = json.loads(row["metrics"]) if row["metrics"] is not None else None
            out.append(row)
        return out


def parse_filter(text: str, column_types: dict) -> tuple[str, str, object]:
    """Parse ``COLUMN OP VALUE`` against a whitelist of columns -> (column, op, typed value).

    The column must be one of the table's columns; the value is converted to the column's
    type (INTEGER: an integer or true/false; REAL: a number; TEXT: the text, normalised by the
    spec validator for parameter columns, e.g. ``activation=Sign`` -> 'sign'). ``null``
    matches missing values (with = and != only). Raises :class:`StoreError`.

    Parameters
    ----------
    text : str
        The filter, e.g. ``"rate>=0.5"`` (spaces around the operator are allowed).
    column_types : dict
        Column name -> SQL type (``"INTEGER"``, ``"REAL"``, ``"TEXT"``, ...): the whitelist.

    Returns
    -------
    tuple
        ``(column, op, value)``; ``value`` is None for ``null``.

    Raises
    ------
    StoreError
        If ``text`` is not a string or cannot be parsed, the column is unknown, ``null`` is
        compared with an order operator, or the value does not fit an INTEGER or REAL column.

    Examples
    --------
    >>> parse_filter("final_risk < 0.25", {"final_risk": "REAL"})
    ('final_risk', '<', 0.25)
    >>> parse_filter("error=null", {"error": "TEXT"})
    ('error', '=', None)
    """
    if not isinstance(text, str):
        raise StoreError(f"a filter must be a string COLUMN=VALUE, got {text!r}")
    m = _FILTER.match(text)
    if not m:
        raise StoreError(
            f"cannot parse filter {text!r}; write COLUMN=VALUE (or !=, <, <=, >, >=), e.g. activation=sign"
        )
    column, op, raw = m.groups()
    if column not in column_types:
        raise StoreError(f"filter {text!r}: unknown column {column!r}; columns: {', '.join(column_types)}")
    if raw.lower() == "null":
        if op not in ("=", "!="):
            raise StoreError(f"filter {text!r}: null can only be compared with = or !=")
        return column, op, None
    kind = column_types[column]
    if kind == "INTEGER":
        if raw.lower() in ("true", "false"):
            return column, op, int(raw.lower() == "true")
        try:
            return column, op, int(raw)
        except ValueError:
            raise StoreError(f"filter {text!r}: column {column!r} holds integers, got {raw!r}") from None
    if kind == "REAL":
        try:
            return column, op, float(raw)
        except ValueError:
            raise StoreError(f"filter {text!r}: column {column!r} holds numbers, got {raw!r}") from None
    if column in KEYS:
        try:
            return column, op, KEYS[column].check(raw)
        except ValueError:
            pass
    return column, op, raw
