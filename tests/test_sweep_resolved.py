"""The results store holds the value of every option a run used (issue 11), in new files and, when read, in old ones."""

from __future__ import annotations

import hashlib
import sqlite3

from twolayer.cli import main as cli_main
from twolayer.sweep import ResultStore, run_sweep

SPEC = """
[grid]
seed = [0, 1]

[defaults]
d = 8
rate = 0.5
steps = 5
"""
DATA_SPEC = """
[grid]
seed = [0]

[defaults]
data = "digits"
rate = 0.25
steps = 5
max_items = 200
controls = false
"""


def results(capsys, db, *where) -> list[str]:
    """The table lines of `twolayer results DB --where ...` (exit status 0 checked)."""
    argv = ["results", str(db)] + [a for w in where for a in ("--where", w)]
    assert cli_main(argv) == 0
    return capsys.readouterr().out.splitlines()


def matched(capsys, db, *where) -> str:
    return results(capsys, db, *where)[0].split(": ", 1)[1]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_defaults_and_values_resolved_at_run_time_are_stored(tmp_path, capsys):
    """A spec that leaves activation, lr, n (and a data set's d) to their defaults: every one can be filtered on."""
    (tmp_path / "gauss.toml").write_text(SPEC)
    (tmp_path / "data.toml").write_text(DATA_SPEC)
    db = tmp_path / "r.sqlite"
    run_sweep(tmp_path / "gauss.toml", db, workers=1)
    run_sweep(tmp_path / "data.toml", db, workers=1)
    assert matched(capsys, db, "activation=sign") == "3 of 3 runs match activation=sign (3 done, 0 failed)"
    assert matched(capsys, db, "n=4") == "2 of 3 runs match n=4 (2 done, 0 failed)"
    assert matched(capsys, db, "lr=0.3") == "2 of 3 runs match lr=0.3 (2 done, 0 failed)"  # population sgd default
    assert matched(capsys, db, "d=64", "n=16") == "1 of 3 runs match d=64 and n=16 (1 done, 0 failed)"  # digits
    with ResultStore(db, create=False) as store:
        data_row = store.rows(["data=digits"])[0]
    assert data_row["params"]["d"] is None and data_row["params"]["lr"] is None  # the identity is as given
    assert data_row["lr"] == data_row["metrics"]["lr"] and data_row["batch_size"] == 256
    assert data_row["spectrum"] is None and data_row["steps"] == 5  # not the record's fields of the same names


def test_an_old_store_is_read_resolved_without_being_changed(tmp_path, capsys):
    """A file written before (option columns NULL, no mark): `results` filters on the resolved values and leaves the
    file's bytes as they were; the first sweep that opens it to write fills its columns."""
    (tmp_path / "gauss.toml").write_text(SPEC)
    db = tmp_path / "old.sqlite"
    run_sweep(tmp_path / "gauss.toml", db, workers=1)
    with sqlite3.connect(db) as conn:  # as an older version left it
        conn.execute("UPDATE runs SET activation = NULL, n = NULL, lr = NULL, init = NULL")
        conn.execute("DELETE FROM meta WHERE key = 'resolved_keys'")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(db)
    assert matched(capsys, db, "activation=sign", "init=gaussian") == (
        "2 of 2 runs match activation=sign and init=gaussian (2 done, 0 failed)")
    assert matched(capsys, db, "lr=0.3", "n=4") == "2 of 2 runs match lr=0.3 and n=4 (2 done, 0 failed)"
    assert digest(db) == before
    with ResultStore(db):  # opened to write: resolved in the file
        pass
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT activation, n, lr, init FROM runs").fetchall() == [("sign", 4, 0.3, "gaussian")] * 2
