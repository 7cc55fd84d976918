r"""The results store: one SQLite file, one row per run, written by one process at a time.

Table ``runs`` (one row per distinct run, ``run_key`` UNIQUE):

* bookkeeping -- ``run_key`` (sha256 of the run's canonical parameters), ``spec_hash``
  (sha256 of the expanded runs list of the spec that wrote the row), ``spec_name``,
  ``status`` ('done' or 'failed'), ``error`` ('Type: message' for a failed run) and its
  ``traceback``, ``started`` / ``finished`` (ISO 8601, UTC), ``seconds`` (wall time of the
  run function), ``version`` (``twolayer.__version__``), ``host`` (the machine that ran it);
* ``params`` and ``metrics`` -- the full dicts as JSON;
* one column per key of :data:`twolayer.sweep.spec.KEYS`, holding the value the run used
  (:func:`resolved_columns`: defaults resolved by :class:`~twolayer.config.RunConfig`, and those
  resolved only as the run executes -- :data:`RUN_RESOLVED`: a data set's ``d``, ``n`` from the
  rate, the default ``lr`` -- taken from its record; NULL where the option does not apply) and a
  REAL column per :data:`METRIC_COLUMNS` (NULL where the run function does not return it), so the
  common questions need no JSON: ``--where activation=sign`` finds the runs that left it at its
  default.

Table ``specs`` records each spec written into the file (hash, name, description, number of
runs, first use). Columns for keys added to ``KEYS`` later are added to old files on open, and
the option columns that an older version left NULL are filled with the resolved values (the
``params`` JSON and the run keys are left as written); a store opened only to be read is
resolved the same way in a temporary copy, so the file is not changed.

Durability: WAL journal mode, ``synchronous=FULL``, and every result is written in its own
``BEGIN IMMEDIATE ... COMMIT`` transaction, so a process killed at any moment leaves every
row either fully written or absent. A full disk (SQLite's "database or disk is full") rolls the
one transaction back and raises :class:`StoreFullError`, whose message counts the rows kept:
the sweep stops, and the same command, once there is space, resumes it. Only the sweep's
parent process writes. A run already
'done' is never overwritten; a 'failed' row is replaced when the run is tried again.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC, datetime

from .spec import KEYS, canonical_json, run_key

#: options resolved only when the run executes (a data set's d, n from the rate, the rate from n, the
#: default learning rate, the theory encoder's steps): a column left None by the parameters takes the
#: value of the run's record.
RUN_RESOLVED = ("d", "n", "rate", "lr", "theory_steps")
#: record fields named like an option that mean something else: the steps run (the option is the budget),
#: the eigenvalues (the option names the spectrum), the file written.
RECORD_MEANS_OTHER = ("steps", "spectrum", "save_params")
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


def resolved_columns(params: dict, metrics: dict | None = None) -> dict:
    """The value of every option column of a run: what the run used, None where an option does not apply.

    The runs of a spec are stored resolved by :class:`~twolayer.config.RunConfig`; what is still None is
    taken, in this order, from the run's record (``metrics``: the options it reports, such as the
    :data:`RUN_RESOLVED` ones -- a data set's ``d``, ``n`` from the rate, the default ``lr`` -- except
    :data:`RECORD_MEANS_OTHER`), then, for the options missing from ``params`` altogether (rows written
    before an option existed, or by a version that stored only the options given), from the defaults
    that :class:`~twolayer.config.RunConfig` resolves for the row. Parameters that are not a valid
    configuration (a custom run function's) keep only what they give and what the record says.

    Parameters
    ----------
    params : dict
        The run's parameters.
    metrics : dict or None, optional
        The run's record (None: a failed run).

    Returns
    -------
    dict
        Option name -> value, for every key of :data:`~twolayer.sweep.spec.KEYS`.

    Examples
    --------
    >>> cols = resolved_columns({"data": "digits", "rate": 0.25}, {"d": 64, "n": 16, "lr": 0.01})
    >>> cols["activation"], cols["d"], cols["n"], cols["lr"], cols["batch_size"], cols["spectrum"]
    ('sign', 64, 16, 0.01, 256, None)
    """
    from ..config import RunConfig

    values = {k: params.get(k) for k in KEYS}
    for k, v in (metrics or {}).items():
        if k in KEYS and values[k] is None and v is not None and k not in RECORD_MEANS_OTHER:
            try:
                values[k] = KEYS[k].check(v)
            except (ValueError, TypeError):
                pass
    missing = [k for k in KEYS if k not in params and values[k] is None]
    if missing:
        try:
            resolved = RunConfig.from_dict({k: v for k, v in params.items() if k in KEYS}).to_dict()
        except (ValueError, TypeError):
            resolved = {}
        for k in missing:
            values[k] = resolved.get(k)
    return values


class StoreFullError(RuntimeError):
    """A write failed because the disk (or the database's size limit) is full.

    The transaction of that write was rolled back: every row written before is intact, and a sweep
    run again once there is space resumes where it stopped. The message names the file, counts the
    rows kept and says so. A ``RuntimeError`` (the command line exits with status 1, as for a failed run).
    """


def _is_full(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's SQLITE_FULL ("database or disk is full")."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc))


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
        except StoreFullError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            if self.conn is not None:
                self.conn.close()
            if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise StoreError(_unreadable(self.path, exc)) from None
            raise StoreError(f"{self.path!r} is not a usable SQLite results database: {exc}") from None
        self._columns = None
        self._writable = create
        self._read_table = None

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
            if not self._columns_resolved():
                _resolve_null_columns(self.conn, "runs")
                self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('resolved_keys', ?)",
                                  (_resolved_mark(),))

    def _columns_resolved(self) -> bool:
        """Whether the option columns were resolved by a version with the options of today's KEYS."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'resolved_keys'").fetchone()
        except sqlite3.OperationalError:  # no meta table: a file of another program or version
            return False
        return row is not None and row[0] == _resolved_mark()

    def _table(self) -> str:
        """The table reads go to: ``runs``, or for a store opened to read whose option columns an older
        version left NULL, a temporary resolved copy (the file itself is not changed)."""
        if self._read_table is None:
            self._read_table = "runs"
            if not self._writable and not self._columns_resolved():
                self.conn.execute("DROP TABLE IF EXISTS temp.runs_resolved")
                self.conn.execute("CREATE TEMP TABLE runs_resolved AS SELECT * FROM main.runs")
                have = {r["name"] for r in self.conn.execute("PRAGMA temp.table_info(runs_resolved)")}
                for k, key in KEYS.items():
                    if k not in have:
                        self.conn.execute(f"ALTER TABLE temp.runs_resolved ADD COLUMN {_quote(k)} {key.sql_type}")
                _resolve_null_columns(self.conn, "temp.runs_resolved")
                self._read_table = "temp.runs_resolved"
        return self._read_table

    def _transaction(self):
        """``with self._transaction():`` one BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error);
        a full disk becomes :class:`StoreFullError`."""
        conn, store = self.conn, self

        class _Tx:
            def __enter__(self):
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if _is_full(exc):
                        raise store._full(exc) from None
                    raise

            def __exit__(self, exc_type, exc, tb):
                if exc_type is None:
                    try:
                        conn.execute("COMMIT")
                        return False
                    except sqlite3.OperationalError as failed:
                        exc = failed
                if conn.in_transaction:  # SQLite may already have rolled back on a full disk
                    conn.execute("ROLLBACK")
                if _is_full(exc):
                    raise store._full(exc) from None
                if exc_type is None:
                    raise exc
                return False

        return _Tx()

    def _full(self, exc) -> StoreFullError:
        try:
            kept = f"the {self.count()} rows already written are intact"
        except sqlite3.Error:
            kept = "the rows already written are intact"
        return StoreFullError(
            f"results database {self.path!r}: the disk is full ({exc}); the result being written was not saved, "
            f"and {kept}: free some space, then run the same command again to resume (runs already done are not redone)"
        )

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
            self._columns = [r["name"] for r in self.conn.execute(f"PRAGMA {self._info()}")]
        return self._columns

    def _info(self) -> str:
        table = self._table()
        return "temp.table_info(runs_resolved)" if table.startswith("temp.") else "table_info(runs)"

    def _column_types(self) -> dict:
        return {r["name"]: (r["type"] or "").split()[0].upper() for r in self.conn.execute(f"PRAGMA {self._info()}")}

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
               version: str | None = None, key: str | None = None) -> bool:
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
        key : str or None, optional
            The run's key (default: :func:`~twolayer.sweep.spec.run_key` of ``params``).

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
            "run_key": key or run_key(params),
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
        row.update(resolved_columns(params, outcome.metrics))
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
        sql = f"SELECT * FROM {self._table()}" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        out = []
        for r in self.conn.execute(sql, args):
            row = dict(r)
            row["params"] = json.loads(row["params"])
            row["metrics"] = json.loads(row["metrics"]) if row["metrics"] is not None else None
            out.append(row)
        return out


def _resolved_mark() -> str:
    """What the meta key ``resolved_keys`` records: the options whose columns have been resolved."""
    return ",".join(KEYS)


def _resolve_null_columns(conn, table: str) -> int:
    """Fill the NULL option columns of ``table`` with :func:`resolved_columns`; returns the rows changed."""
    changed = 0
    rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    for row in rows:
        try:
            params = json.loads(row["params"])
            metrics = json.loads(row["metrics"]) if row["metrics"] is not None else None
        except (TypeError, ValueError):
            continue
        if not isinstance(params, dict):
            continue
        values = resolved_columns(params, metrics if isinstance(metrics, dict) else None)
        fill = {k: v for k, v in values.items() if v is not None and row[k] is None}
        if fill:
            sets = ", ".join(f"{_quote(k)} = ?" for k in fill)
            conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*fill.values(), row["id"]])
            changed += 1
    return changed


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
