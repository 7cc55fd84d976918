"""The one place where twolayer opens a file it writes for the user (CSV exports, saved parameters).

It refuses, before anything is written, a path that is a folder, whose folder is missing or
read-only, that is a SQLite database (a results store is never overwritten by an export), or
that exists while ``overwrite`` is False; each with a one-line message saying what to do.
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
        with open(path, "rb") as fh:
            if fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                raise ValueError(f"{what} {path!r} is a SQLite database (a results store?); it is never overwritten")
        if not overwrite:
            raise ValueError(f"{what} {path!r} exists; remove it, choose another name, or pass --overwrite")
    return path
