r"""Read a results store: a table on the terminal, or every row and value as CSV.

Filters (``where``) are ``COLUMN=VALUE`` strings (also ``!=, <, <=, >, >=``), ANDed; the
column must be one of the table's columns (every spec key, the metric columns, status,
spec_hash, ...) and the value is passed to SQLite as a parameter, never spliced into SQL.

CSV columns: the bookkeeping columns, one per parameter (the union over the rows), then one
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
from .store import BOOK_COLUMNS, METRIC_COLUMNS, ResultStore

#: bookkeeping columns exported to CSV (params / metrics are expanded instead).
CSV_BOOK = [name for name, _ in BOOK_COLUMNS if name not in ("params", "metrics")]


def _filters(where) -> list[str]:
    if where is None:
        return []
    if isinstance(where, str):
        return [where]
    return list(where)


def flatten(metrics: dict | None, prefix: str = "") -> dict:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": "[1, 2]"}``."""
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


def _ordered_union(dicts, first=()) -> list[str]:
    seen = {k: None for k in first if any(k in d for d in dicts)}
    for d in dicts:
        for k in d:
            seen.setdefault(k, None)
    return list(seen)


def csv_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """(header, records) of the CSV export (see the module docstring)."""
    params = [r["params"] for r in rows]
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


def write_csv(rows: list[dict], path: str) -> tuple[int, int]:
    """Write every row to ``path`` ("-" = stdout); returns (rows, columns)."""
    header, records = csv_table(rows)
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


def format_rows(rows: list[dict], max_error: int = 60) -> str:
    """An aligned text table: the parameters that vary (sorted by them), the main metrics,
    status (and the error of failed runs); a first line lists the parameters common to all."""
    params = [r["params"] for r in rows]
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


def results_main(db_path, csv=None, where=None) -> int:
    """``twolayer results DB [--csv FILE] [--where COL=VAL ...]``: print or export the rows.

    Returns 0 (also when no row matches). Raises ValueError (one line) for a missing file,
    a file that is not a results database, an unknown column or a malformed filter.
    """
    filters = _filters(where)
    with ResultStore(db_path, create=False) as store:
        rows = store.rows(filters)
        total = store.count()
    if csv is not None:
        n, m = write_csv(rows, csv)
        if csv != "-":
            print(f"wrote {n} rows x {m} columns to {csv}")
        return 0
    done = sum(r["status"] == "done" for r in rows)
    matched = f"{len(rows)} of {total} runs match {' and '.join(filters)}" if filters else f"{total} runs"
    print(f"{db_path}: {matched} ({done} done, {len(rows) - done} failed)")
    if rows:
        print(format_rows(rows))
    return 0


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m twolayer.sweep results", description="Show or export sweep results.")
    parser.add_argument("db", help="SQLite results database")
    parser.add_argument("--csv", default=None, help="write every row to this CSV file ('-' = stdout)")
    parser.add_argument("--where", action="append", default=None, metavar="COL=VAL", help="filter (repeatable, ANDed)")
    args = parser.parse_args(argv)
    try:
        return results_main(args.db, csv=args.csv, where=args.where)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
