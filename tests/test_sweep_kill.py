"""Acceptance: a sweep killed with SIGKILL at random moments and resumed loses and
duplicates nothing, and killing the parent alone leaves no worker behind.

The sweep runs in a subprocess (``python -m twolayer sweep``, 2 spawn workers) with
``twolayer.sweep.fakes:slowish_fake``: 0.05 - 0.2 s per run, metrics fixed by the parameters
(so an uninterrupted sweep gives the same numbers).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from twolayer.sweep import ResultStore, fakes, load_spec, run_sweep

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGKILL are POSIX")

SPEC = """
[sweep]
name = "killme"

[grid]
rate = [0.25, 0.5, 1.0, 2.0]
seed = [0, 1, 2, 3, 4, 5]

[defaults]
d = 64
activation = "sign"
method = "population"
"""
GRID_SIZE = 24


def launch(spec, db):
    cmd = [sys.executable, "-m", "twolayer", "sweep", str(spec), "--out", str(db), "--workers", "2",
           "--run-fn", "twolayer.sweep.fakes:slowish_fake", "--no-progress"]
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def count_rows(db) -> int:
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def wait_for_rows(proc, db, at_least, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if count_rows(db) >= at_least:
            return
        time.sleep(0.02)


def rows_of(db):
    with ResultStore(db, create=False) as store:
        rows = store.rows()
    return [(r["run_key"], r["params"], r["status"], r["metrics"]) for r in rows]


def children_of(pid):
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def test_sigkilled_three_times_then_resumed_equals_an_uninterrupted_sweep(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    db = tmp_path / "killed.sqlite"
    rng = random.Random(20240611)

    counts = []
    for attempt in range(3):
        before = count_rows(db)
        proc = launch(spec, db)
        if attempt == 0:  # at a random moment of start-up or of the first runs
            time.sleep(rng.uniform(0.2, 2.5))
        else:  # at a random moment after this launch has written a row
            wait_for_rows(proc, db, before + 1)
            time.sleep(rng.uniform(0.0, 0.15))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
        counts.append(count_rows(db))
    assert counts[-1] < GRID_SIZE and counts == sorted(counts)

    proc = launch(spec, db)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert f"{GRID_SIZE - counts[-1]} of {GRID_SIZE} runs to go" in out.decode()

    # an uninterrupted sweep of the same spec (same metrics function, without the sleep)
    reference = tmp_path / "reference.sqlite"
    run_sweep(load_spec(spec), reference, run_fn=fakes.fake_run, workers=1)

    killed, expected = rows_of(db), rows_of(reference)
    assert len(killed) == GRID_SIZE == len({key for key, *_ in killed})
    assert sorted(killed, key=lambda r: r[0]) == sorted(expected, key=lambda r: r[0])
    assert all(status == "done" for _, _, status, _ in killed)

    again = launch(spec, db)  # a complete sweep: nothing to do
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and f"all {GRID_SIZE} of {GRID_SIZE} runs" in out.decode()
    assert count_rows(db) == GRID_SIZE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_parent_leaves_no_worker_behind(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    db = tmp_path / "out.sqlite"
    proc = launch(spec, db)
    try:
        wait_for_rows(proc, db, 1)
        workers = children_of(proc.pid)
        assert proc.poll() is None and len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, not its group
        proc.communicate(timeout=30)
        end = time.monotonic() + 5
        while time.monotonic() < end and any(alive(pid) for pid in workers):
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "orphan worker processes survived the parent"
        rows = count_rows(db)
        time.sleep(0.3)
        assert count_rows(db) == rows  # nobody writes any more
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_two_sweeps_writing_one_store_at_once_lose_and_duplicate_nothing(tmp_path):
    """Issue 11 acceptance ("two writers"): two sweep processes on the same spec and store at the same time, then
    a resume: every run exactly once, 'done', with the metrics of an uninterrupted sweep."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    db = tmp_path / "shared.sqlite"
    first, second = launch(spec, db), launch(spec, db)
    outs = [proc.communicate(timeout=120) for proc in (first, second)]
    for proc, (_, err) in zip((first, second), outs):
        # a writer that met the other's lock may stop with its one-line message; it must not corrupt the store
        assert proc.returncode == 0 or b"Traceback" not in err, err.decode()
    resume = launch(spec, db)
    out, err = resume.communicate(timeout=120)
    assert resume.returncode == 0, err.decode()
    reference = tmp_path / "reference.sqlite"
    run_sweep(load_spec(spec), reference, run_fn=fakes.fake_run, workers=1)
    shared, expected = rows_of(db), rows_of(reference)
    assert len(shared) == GRID_SIZE == len({key for key, *_ in shared})
    assert all(status == "done" for _, _, status, _ in shared)
    assert sorted(shared, key=lambda r: r[0]) == sorted(expected, key=lambda r: r[0])
