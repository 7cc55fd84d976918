r"""Read a results store: a table on the terminal, or every row and value as CSV.

Filters (``where``) are ``COLUMN=VALUE`` strings (also ``!=, <, <=, >, >=``), ANDed; the
column must be one of the table's columns (every spec key, the metric columns, status,
spec_hash, ...) and the value is passed to SQLite as a parameter, never spliced into SQL.

CSV columns: the bookkeeping columns, one per parameter (the union over the rows; the value
the run used, :func:`options`), then one
per metric key (flattened: a nested dict gives ``key.sub``; lists are written as JSON). A
metric whose name is also a parameter or bookkeeping column (``train`` echoes its
configuration, e.g. ``rate``, ``seconds``) -- or any spec key, so that names do not depend
on the spec -- is written as ``metric.NAME``.
"""

from __future__ import annotations

import csv as csv_module
import json
import sys

from .spec import KEYS
from .store import BOOK_COLUMNS, METRIC_COLUMNS, StoreError

#: bookkeeping columns exported to CSV (params / metrics are expanded instead).
CSV_BOOK = [name for name, _ in BOOK_COLUMNS if name not in ("params", "metrics")]


def _filters(where) -> list[str]:
    if where is None:
        return []
    if isinstance(where, str):
        return [where]
    return list(where)


def flatten(metrics: dict | None, prefix: str = "") -> dict:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": "[1, 2]"}``.

    Parameters
    ----------
    metrics : dict or None
        A run's metrics (None: no metrics).
    prefix : str, optional
        Prepended to every name (used for the nested dicts).

    Returns
    -------
    dict
        Flat name -> value; nested dicts give dotted names, lists their JSON text.

    Examples
    --------
    >>> flatten({"a": {"b": 1}, "c": [1, 2]})
    {'a.b': 1, 'c': '[1, 2]'}
    """
    out = {}
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def options(row: dict) -> dict:
    """A row's options as run: its ``params``, with the option columns' resolved values where they say None.

    Parameters
    ----------
    row : dict
        A row as :meth:`ResultStore.rows <twolayer.sweep.store.ResultStore.rows>` returns it.

    Returns
    -------
    dict
        Option name -> value (the keys of ``params``, and every option column that holds a value).

    Examples
    --------
    >>> options({"params": {"d": None, "rate": 0.5}, "d": 64, "rate": 0.5, "lr": None})
    {'d': 64, 'rate': 0.5}
    """
    params = row["params"]
    resolved = {k: row[k] for k in KEYS if row.get(k) is not None and params.get(k) is None}
    return {**params, **resolved}


def _ordered_union(dicts, first=()) -> list[str]:
    seen = {k: None for k in first if any(k in d for d in dicts)}
    for d in dicts:
        for k in d:
            seen.setdefault(k, None)
    return list(seen)


def csv_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """(header, records) of the CSV export (see the module docstring).

    Parameters
    ----------
    rows : list of dict
        Rows as :meth:`ResultStore.rows <twolayer.sweep.store.ResultStore.rows>` returns them.

    Returns
    -------
    header : list of str
        Bookkeeping columns, parameters, then metrics.
    records : list of list
        One list per row, aligned with ``header`` (None where a row lacks the value).
    """
    params = [options(r) for r in rows]
    metrics = [flatten(r["metrics"]) for r in rows]
    param_cols = _ordered_union(params, KEYS)
    metric_cols = _ordered_union(metrics, METRIC_COLUMNS)
    taken = set(CSV_BOOK) | set(KEYS) | set(param_cols)  # the same names whatever the spec
    metric_names = [f"metric.{m}" if m in taken else m for m in metric_cols]
    header = CSV_BOOK + param_cols + metric_names
    records = []
    for row, p, m in zip(rows, params, metrics):
        records.append([row[c] for c in CSV_BOOK] + [p.get(c) for c in param_cols] + [m.get(c) for c in metric_cols])
    return header, records


def select(rows: list[dict], columns: list[str]) -> tuple[list[str], list[list]]:
    """(header, records) of the chosen ``columns``: each value from the run's record (metrics), else its
    options (params), else the bookkeeping columns; StoreError naming the columns that exist.

    Parameters
    ----------
    rows : list of dict
        Rows as :meth:`ResultStore.rows <twolayer.sweep.store.ResultStore.rows>` returns them.
    columns : list of str
        Column names: metric names (flattened, as :func:`flatten`), run options or
        bookkeeping columns.

    Returns
    -------
    header : list of str
        ``columns``.
    records : list of list
        One list per row (None where a row lacks the value).

    Raises
    ------
    StoreError
        If a column is in none of the rows, the spec keys or the bookkeeping columns.
    """
    flat = [{**row, **options(row),
             **{k: v for k, v in flatten(row["metrics"]).items() if v is not None}} for row in rows]
    known = set(KEYS) | set(CSV_BOOK) | {k for f in flat for k in f if k not in ("params", "metrics")}
    unknown = [c for c in columns if c not in known]
    if unknown:
        available = sorted(k for k in known)
        raise StoreError(f"unknown column {unknown[0]!r}; available: {', '.join(available)}")
    return list(columns), [[f.get(c) for c in columns] for f in flat]


def write_csv(rows: list[dict], path: str, columns: list[str] | None = None, *, overwrite: bool = False
              ) -> tuple[int, int]:
    """Write every row (all columns, or the chosen ``columns``) to ``path`` ("-" = stdout); (rows, columns).

    Parameters
    ----------
    rows : list of dict
        Rows as :meth:`ResultStore.rows <twolayer.sweep.store.ResultStore.rows>` returns them.
    path : str
        The CSV file, or ``"-"`` for standard output. An existing file is replaced only with
        ``overwrite``, and a SQLite database never (:func:`twolayer._files.check_output_path`).
    columns : list of str or None, optional
        The columns to write (:func:`select`); None (default): every column (:func:`csv_table`).
    overwrite : bool, optional
        Replace an existing CSV file (default False).

    Returns
    -------
    tuple of int
        ``(number of rows written, number of columns)``.

    Raises
    ------
    StoreError
        If a chosen column is unknown.
    ValueError
        If the file cannot be written.
    """
    header, records = csv_table(rows) if columns is None else select(rows, columns)
    if path != "-":
        from .._files import check_output_path

        path = check_output_path(path, overwrite=overwrite, what="CSV file")
    if path == "-":
        writer = csv_module.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(records)
    else:
        try:
            with open(path, "w", newline="", encoding="utf-8") as fh:
                writer = csv_module.writer(fh)
                writer.writerow(header)
                writer.writerows(records)
        except OSError as exc:
            raise ValueError(f"cannot write CSV file {path!r}: {exc.strerror}") from None
    return len(records), len(header)


def _aligned(cells: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def _sort_key(value):
    """Order None < numbers < text (values of one key may mix types across specs)."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def format_rows(rows: list[dict], max_error: int = 60, columns: list[str] | None = None) -> str:
    """An aligned text table: the parameters that vary (sorted by them), the main metrics,
    status (and the error of failed runs); a first line lists the parameters common to all.
    With ``columns``, exactly those columns (see :func:`select`), in the order of the rows.

    Parameters
    ----------
    rows : list of dict
        Rows as :meth:`ResultStore.rows <twolayer.sweep.store.ResultStore.rows>` returns them.
    max_error : int, optional
        Longest error message shown; longer ones are cut and end in "..." (default 60).
    columns : list of str or None, optional
        Show exactly these columns (None, the default: the layout above).

    Returns
    -------
    str
        The table, lines joined by newlines (missing values shown as "-").

    Raises
    ------
    StoreError
        If a chosen column is unknown.
    """
    if columns is not None:
        header, records = select(rows, columns)
        return _aligned([header] + [[_cell(v) for v in rec] for rec in records])
    params = [options(r) for r in rows]
    keys = _ordered_union(params, KEYS)
    varying = [k for k in keys if len({json.dumps(p.get(k)) for p in params}) > 1] if len(rows) > 1 else keys
    fixed = [k for k in keys if k not in varying]
    metrics = [m for m in METRIC_COLUMNS if any(r[m] is not None for r in rows)]
    order = sorted(range(len(rows)), key=lambda i: [_sort_key(params[i].get(k)) for k in varying])
    rows, params = [rows[i] for i in order], [params[i] for i in order]
    show_error = any(r["status"] == "failed" for r in rows)
    header = varying + metrics + ["status"] + (["error"] if show_error else [])
    cells = [header]
    for r, p in zip(rows, params):
        error = (r["error"] or "") if r["status"] == "failed" else ""
        if len(error) > max_error:
            error = error[: max_error - 3] + "..."
        cells.append([_cell(p.get(k)) for k in varying] + [_cell(r[m]) for m in metrics] + [r["status"]]
                     + ([error or "-"] if show_error else []))
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i < len(header) - 1 or not show_error else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if fixed:
        common = ", ".join(f"{k}={params[0].get(k)}" for k in fixed)
        lines.insert(0, f"fixed: {common}")
    return "\n".join(lines)
