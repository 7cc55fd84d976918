"""The one place that checks where twolayer writes for the user: files (CSV exports, saved parameters),
results databases (sweeps, suites, figures) and output folders (figures).

It refuses, before anything is written, a path that is a folder, whose folder is missing or
read-only, that is a SQLite database (a results store is never overwritten by an export), or
that exists while ``overwrite`` is False; a database path that is a folder, in a missing or
read-only folder, or an existing file that is not a SQLite database; an output folder that is a
file or cannot be created or written. Each with a one-line message saying what to do.
"""

from __future__ import annotations

import os

_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_output_path(path, *, overwrite: bool = False, what: str = "output file") -> str:
    """``path`` as a string if it may be written, else ValueError (see the module docstring).

    Nothing is created or written; an existing file is opened only to read its first bytes.

    Parameters
    ----------
    path : str or path-like
        The file to be written.
    overwrite : bool
        Whether an existing file (other than a SQLite database) may be replaced (default False).
    what : str
        How the messages name the file (default "output file").

    Returns
    -------
    str
        ``os.fspath(path)``.

    Raises
    ------
    ValueError
        If ``path`` is a folder, its folder is missing or not writable, it is a SQLite database
        (even with ``overwrite``), or it exists and ``overwrite`` is False.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{what} {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise ValueError(f"{what} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{what} {path!r}: folder {folder!r} is not writable")
    if os.path.exists(path):
        if _is_sqlite(path):
            raise ValueError(f"{what} {path!r} is a SQLite database (a results store?); it is never overwritten")
        if not overwrite:
            raise ValueError(f"{what} {path!r} exists; remove it, choose another name, or pass --overwrite")
    return path


def _is_sqlite(path: str) -> bool:
    from .data.formats import starts_with

    return starts_with(path, _SQLITE_MAGIC)


def check_database_path(path, what: str = "results database") -> str:
    """``path`` as a string if a results database may be created or extended there, else ValueError.

    Nothing is created; an existing file is opened only to read its first bytes.

    Parameters
    ----------
    path : str or path-like
        The SQLite file, existing or not.
    what : str
        How the messages name the file (default "results database").

    Returns
    -------
    str
        ``os.fspath(path)``.

    Raises
    ------
    ValueError
        If ``path`` is a folder, its folder is missing or not writable (SQLite writes its journal
        beside the database), or it is an existing non-empty file that is not a SQLite database.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{what} {path!r} is a folder; give a file name, such as {os.path.join(path, 'results.sqlite')!r}")
    if not os.path.isdir(folder):
        raise ValueError(f"{what} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path!r}: folder {folder!r} is not writable (SQLite writes its journal there); "
                         "give a path in a writable folder")
    if os.path.isfile(path) and os.path.getsize(path) > 0 and not _is_sqlite(path):
        raise ValueError(f"{what} {path!r} exists and is not a SQLite database; it is left as it is: give a new "
                         "file name or an existing results database")
    return path


def check_output_folder(path, what: str = "output folder") -> str:
    """``path`` as a string if files may be written into it (it is created later if missing), else ValueError.

    Nothing is created.

    Parameters
    ----------
    path : str or path-like
        The folder, existing or not.
    what : str
        How the messages name it (default "output folder").

    Returns
    -------
    str
        ``os.fspath(path)``.

    Raises
    ------
    ValueError
        If ``path`` or the nearest existing folder above it is a file, or that folder is not writable.
    """
    path = os.fspath(path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):  # the folder that mkdir -p would create the rest in
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{what} {path!r}: {existing!r} is a file, not a folder; give a folder (created if missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path!r}: folder {existing!r} is not writable; give a writable folder")
    return path
