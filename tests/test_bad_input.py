"""Bad input, faults and sizes that cannot fit: one line on stderr, a non-zero exit, no traceback, no file touched.

Each case names what was wrong and what is accepted. Most cases call the command line in this
process (``twolayer.cli.main``, the function the console script runs); a representative few, and
the signals, run ``python -m twolayer`` as a subprocess. Before and after every case the test
folder is snapshotted (names, bytes, modification times) and must be unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

import twolayer
from twolayer import cli
from twolayer.sweep import ResultStore, fakes, run_sweep
from twolayer.sweep.executors import LocalPoolExecutor

SPEC = """
[sweep]
name = "small"

[grid]
rate = [0.25, 0.5, 1.0, 2.0]
seed = [0, 1, 2, 3, 4, 5]

[defaults]
d = 64
"""
RUNS = 24


# ----------------------------------------------------------------------------- helpers
def snapshot(folder) -> dict:
    """Every file under ``folder``: relative path -> (size, mtime_ns, sha256)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = (stat.st_size, stat.st_mtime_ns, hashlib.sha256(fh.read()).hexdigest())
    return out


def assert_one_line(err: str, *needles: str) -> str:
    """stderr is one line holding every needle, and no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def in_process(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def subprocess_cli(*argv, cwd, **kwargs):
    done = subprocess.run([sys.executable, "-m", "twolayer", *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, **kwargs)
    return done.returncode, done.stdout, done.stderr


def cifar_archive(path, batches=5, items=4):
    """A CIFAR-10 python tar.gz in miniature (``items`` random images per batch)."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for i in range(1, batches + 1):
            raw = pickle.dumps({b"data": rng.integers(0, 256, (items, 3072), dtype=np.uint8)}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{i}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """The bad inputs, written into the test folder (also the working folder)."""
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "huge.npy", np.array([1e308, 1e308, 1.0]))
    np.save(tmp_path / "text.npy", np.array(["a", "b", "c"]))
    np.save(tmp_path / "complex.npy", np.array([2.0, 1.0, 0.5]) + 0j)  # imaginary parts 0: still refused
    np.save(tmp_path / "complex_cov.npy", np.diag([2.0, 1.0, 0.5]) + 1j * np.eye(3))
    (tmp_path / "random.npy").write_bytes(np.random.default_rng(1).bytes(600))
    whole = cifar_archive(tmp_path / "whole.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[:20])
    damaged = bytearray(whole)
    damaged[-8:-4] = bytes(4 * [0xFF])  # the gzip CRC
    (tmp_path / "crc.tar.gz").write_bytes(bytes(damaged))
    (tmp_path / "whole.tar.gz").unlink()
    (tmp_path / "spec.toml").write_text(SPEC)
    run_sweep(tmp_path / "spec.toml", tmp_path / "good.sqlite", run_fn=fakes.fake_run, workers=1)
    raw = bytearray((tmp_path / "good.sqlite").read_bytes())
    raw[4096:] = np.random.default_rng(2).bytes(len(raw) - 4096)  # every page after the first
    (tmp_path / "corrupt.sqlite").write_bytes(bytes(raw))
    (tmp_path / "good.sqlite").unlink()
    (tmp_path / "notes.txt").write_text("not a folder, not a database\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.txt").write_text("keep\n")
    rates = ", ".join(f"{0.01 * k:.2f}" for k in range(1, 102))
    seeds = ", ".join(str(s) for s in range(100))
    (tmp_path / "many.toml").write_text(f'[sweep]\nname = "many"\n[grid]\nrate = [{rates}]\nseed = [{seeds}]\n'
                                        "[defaults]\nd = 1000\n")
    return tmp_path


@pytest.fixture
def readonly(tmp_path):
    """A folder that this process cannot write into (as root: made immutable with chattr, else skipped)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.access(folder, os.W_OK):  # root writes into 0o555 folders
        immutable = shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                              capture_output=True).returncode == 0
        if not immutable or os.access(folder, os.W_OK):
            folder.chmod(0o755)
            pytest.skip("no read-only folder for this user (root without chattr)")
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


# ----------------------------------------------------------------------------- refusals, in process
REFUSED = [
    # numbers that leave float64
    (["theory", "--spectrum", "huge.npy", "--rate", "0.5"], ["huge.npy", "overflows float64", "rescale"]),
    (["theory", "--rate", "0.5", "1e308"], ["--rate", "at most 1e+300", "1e+308"]),
    (["train", "--rate", "1e308"], ["n = rate * d = inf", "smaller rate"]),
    # files that are not what they claim
    (["theory", "--spectrum", "random.npy", "--rate", "0.5"], ["random.npy", "not a .npy file", "numpy.save"]),
    (["theory", "--spectrum", "text.npy", "--rate", "0.5"], ["text.npy", "holds text", "eigenvalues"]),
    # complex numbers (NumPy would drop the imaginary parts with only a warning)
    (["theory", "--spectrum", "complex.npy", "--rate", "0.5"], ["complex.npy", "complex numbers", "real part"]),
    (["theory", "--spectrum", "complex_cov.npy", "--rate", "0.5"], ["complex_cov.npy", "complex numbers", "a real matrix"]),
    (["train", "--d", "3", "--rate", "1", "--spectrum", "complex.npy"], ["complex.npy", "complex numbers", "real part"]),
    (["train", "--data", "npy:random.npy", "--rate", "0.5"], ["random.npy", "not a .npy file"]),
    (["train", "--data", "cifar10:cut.tar.gz", "--rate", "0.1"], ["cut.tar.gz", "cut short", "cifar-10-python.tar.gz"]),
    (["train", "--data", "cifar10:crc.tar.gz", "--rate", "0.1"], ["crc.tar.gz", "CRC", "cifar-10-python.tar.gz"]),
    (["results", "corrupt.sqlite"], ["corrupt.sqlite", "not a readable twolayer results database", "malformed"]),
    (["sweep", "spec.toml", "--out", "corrupt.sqlite", "--workers", "1", "--run-fn", "twolayer.sweep.fakes:fake_run"],
     ["corrupt.sqlite", "not a readable twolayer results database"]),
    # where the output goes
    (["sweep", "spec.toml", "--out", "folder", "--run-fn", "twolayer.sweep.fakes:fake_run"],
     ["'folder' is a folder", "give a file name"]),
    (["sweep", "spec.toml", "--out", "notes.txt", "--run-fn", "twolayer.sweep.fakes:fake_run"],
     ["notes.txt", "not a SQLite database", "new file name"]),
    (["figure", "risk-vs-rate", "--quick", "--out", "notes.txt"], ["notes.txt", "is a file, not a folder"]),
    (["figure", "risk-vs-rate", "--quick", "--out", "notes.txt/figs"], ["is a file, not a folder"]),
    # a flag given twice
    (["train", "--rate", "0.5", "--rate", "1"], ["--rate", "given twice", "first 0.5, then 1", "give it once"]),
    (["theory", "--rate", "0.5", "1", "--rate", "2"], ["--rate", "given twice", "list all values after one flag"]),
    (["train", "--rate", "0.5", "--record-spectrum", "--no-record-spectrum"],
     ["--record-spectrum", "given twice", "first true, then false"]),
    # sizes that cannot fit
    (["train", "--d", "200000", "--rate", "1"], ["d = 200000", "n = 200000", "TiB", "is available", "smaller d"]),
    (["train", "--d", "16", "--rate", "100000"], ["n = 1600000", "TiB", "is available"]),
    (["sweep", "many.toml", "--out", "many.sqlite"], ["10,100 runs", "more than 10,000", "--yes"]),
]


@pytest.mark.parametrize("argv, needles", REFUSED, ids=[" ".join(argv)[:60] for argv, _ in REFUSED])
def test_refused_with_one_line_and_nothing_written(inputs, capsys, argv, needles):
    """Exit 2, one line naming the input and what is accepted, and the folder as it was."""
    before = snapshot(inputs)
    code, out, err = in_process(capsys, *argv)
    assert code == 2, (out, err)
    assert_one_line(err, *needles)
    assert snapshot(inputs) == before


@pytest.mark.parametrize("argv", [["sweep", "spec.toml", "--out", "readonly/results.sqlite", "--run-fn",
                                   "twolayer.sweep.fakes:fake_run"],
                                  ["figure", "risk-vs-rate", "--quick", "--out", "readonly"],
                                  ["figure", "risk-vs-rate", "--quick", "--out", "readonly/new/figs"]])
def test_a_read_only_folder_is_refused_before_any_run(inputs, readonly, capsys, argv):
    """A sweep database or figures into a folder that cannot be written: refused before the first run."""
    before = snapshot(inputs)
    code, _, err = in_process(capsys, *argv)
    assert code == 2
    assert_one_line(err, "readonly", "is not writable")
    assert snapshot(inputs) == before


# ----------------------------------------------------------------------------- legal input: results
def test_rate_600_gives_the_gap_from_log_d_with_a_note(capsys):
    """Shannon's D(600) = 2^-1200 underflows float64: the table is printed, the gap is exact, a note says so."""
    code, out, err = in_process(capsys, "theory", "--rate", "0.5", "600", "--json")
    assert code == 0
    records = json.loads(out)
    best = records[1]["min_risk"]
    assert best == pytest.approx((math.pi / 2 - 1) / (600 + math.pi / 2 - 1), rel=1e-14)
    assert records[1]["rate_distortion"] == 0.0
    assert records[1]["gap_db"] == pytest.approx(10 * math.log10(best) + 12000 * math.log10(2), rel=1e-14)
    assert records[0]["gap_db"] == pytest.approx(10 * math.log10(records[0]["min_risk"] / 2 ** -1.0), rel=1e-14)
    assert_one_line(err, "r = 600", "float64", "shown as 0", "log D")


def test_python_api_refuses_with_clear_value_errors():
    """The same checks from Python: ValueErrors that say what overflowed or did not fit."""
    with pytest.raises(ValueError, match=r"rate must be at most 1e\+300"):
        twolayer.shannon_gap(1e308)
    B = np.random.default_rng(0).standard_normal((4, 8))
    with pytest.raises(ValueError, match="scale overflows float64.*rescale"):
        twolayer.population_risk(B * 1e300)
    with pytest.raises(ValueError, match="B Sigma B\\^T overflows float64"):
        twolayer.population_risk(B * 1e150, cov=np.eye(8) * 1e150)
    with pytest.raises(ValueError, match="needs about .* of memory .* is available"):
        twolayer.run(twolayer.RunConfig(d=200000, rate=1.0))
    with pytest.warns(RuntimeWarning, match="below float64's normal range"):
        gap = twolayer.shannon_gap(600)
    assert math.isfinite(gap.gap_db) and gap.ratio == math.inf


def test_complex_arrays_are_refused_not_cast(recwarn):
    """B, A, a covariance, a spectrum, rates or data with complex entries: a ValueError naming them, no ComplexWarning."""
    from twolayer.simulations import train

    B = np.random.default_rng(0).standard_normal((4, 8))
    cases = [
        (lambda: twolayer.population_risk(B + 0j), "B"),
        (lambda: twolayer.population_risk(B, B.T + 1j), "A"),
        (lambda: twolayer.population_risk(B, cov=np.eye(8) + 0j), "cov"),
        (lambda: twolayer.min_risk(0.5, spectrum=np.ones(8) + 0j), "spectrum"),
        (lambda: twolayer.min_risk(0.5, spectrum=[1.0, 2j]), "spectrum"),
        (lambda: twolayer.min_risk(np.array([0.5 + 0j])), "rate"),
        (lambda: train(8, 4, method="samples", data=np.ones((20, 8)) + 0j, steps=2), "data"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=f"^{name}.* holds complex numbers .*real"):
            call()
    assert not [w for w in recwarn if issubclass(w.category, np.exceptions.ComplexWarning)]


def test_a_big_grid_runs_with_yes(inputs, capsys, monkeypatch):
    """Above the threshold a sweep needs --yes; with it, it runs (and prints its run count first)."""
    monkeypatch.setattr(cli, "MAX_RUNS_WITHOUT_YES", RUNS - 1)
    argv = ["sweep", "spec.toml", "--out", "big.sqlite", "--workers", "1", "--run-fn", "twolayer.sweep.fakes:fake_run",
            "--no-progress"]
    code, _, err = in_process(capsys, *argv)
    assert code == 2 and not (inputs / "big.sqlite").exists()
    assert_one_line(err, f"{RUNS} runs", "--yes")
    code, out, _ = in_process(capsys, *argv, "--yes")
    assert code == 0 and f"{RUNS} of {RUNS} runs to go" in out.splitlines()[0]


# ----------------------------------------------------------------------------- through the real command line
@pytest.mark.parametrize("argv, code, needles", [
    (["theory", "--rate", "600"], 0, ["r = 600", "log D"]),
    (["train", "--rate", "1e308"], 2, ["inf", "smaller rate"]),
    (["train", "--d", "200000", "--rate", "1"], 2, ["TiB", "is available"]),
    (["results", "corrupt.sqlite"], 2, ["not a readable twolayer results database"]),
    (["train", "--rate", "0.5", "--rate", "1"], 2, ["given twice"]),
    (["theory", "--spectrum", "complex.npy", "--rate", "0.5"], 2, ["complex.npy", "complex numbers"]),
])
def test_the_console_command(inputs, argv, code, needles):
    """A representative few through ``python -m twolayer`` itself."""
    before = snapshot(inputs)
    got, _, err = subprocess_cli(*argv, cwd=inputs)
    assert got == code
    assert_one_line(err, *needles)
    assert snapshot(inputs) == before


def test_a_diverged_samples_run_fails_naming_the_step(inputs):
    """sgd at lr = 1e3 on the smoothed sign: before, exit 0 and final_risk 0.80 (the refitted decoder's) while
    the network as trained had risk 8e40; now exit 1, one line naming the step and a smaller lr."""
    before = snapshot(inputs)
    code, out, err = subprocess_cli("train", "--d", "32", "--rate", "0.5", "--method", "samples", "--optimizer", "sgd",
                                    "--lr", "1e3", cwd=inputs)
    assert code == 1 and not out
    assert_one_line(err, "training diverged at step 1", "more than 1000 times", "lr=1000", "smaller learning rate",
                    "lr=100")
    assert snapshot(inputs) == before


def test_a_full_disk_during_a_sweep_keeps_the_rows_and_a_rerun_resumes(inputs, capsys, monkeypatch):
    """SQLite's "database or disk is full" at a write (its page limit, max_page_count, on the store's connection):
    exit 1, one line saying the rows already written are intact and that a rerun resumes; the rows are kept, and
    the same command then completes the sweep with no run lost or duplicated."""
    db = inputs / "full.sqlite"
    with ResultStore(db) as store:  # the empty store: its pages are the limit's base
        base = store.conn.execute("PRAGMA page_count").fetchone()[0]
    connect = sqlite3.connect

    def small_disk(path, *args, **kwargs):
        conn = connect(path, *args, **kwargs)
        if os.fspath(path) == str(db) or os.fspath(path) == "full.sqlite":
            conn.execute(f"PRAGMA max_page_count = {base + 2}")
        return conn

    argv = ["sweep", "spec.toml", "--out", "full.sqlite", "--workers", "1", "--run-fn", "twolayer.sweep.fakes:fake_run",
            "--no-progress"]
    monkeypatch.setattr(sqlite3, "connect", small_disk)
    assert count_rows(db) == 0
    code, _, err = in_process(capsys, *argv)
    monkeypatch.setattr(sqlite3, "connect", connect)  # the space is back
    kept = count_rows(db)
    assert code == 1
    line = assert_one_line(err, "full.sqlite", "database or disk is full", f"the {kept} rows already written are "
                           "intact", "run the same command again to resume")
    assert "Traceback" not in line and 0 < kept < RUNS
    with ResultStore(db, create=False) as store:
        first = {row["run_key"]: row for row in store.rows()}
    code, out, _ = in_process(capsys, *argv)
    assert code == 0 and f"{RUNS - kept} of {RUNS} runs to go ({kept} done)" in out
    with ResultStore(db, create=False) as store:
        rows = store.rows()
    assert count_rows(db) == len(rows) == len({row["run_key"] for row in rows}) == RUNS
    assert all(row["status"] == "done" for row in rows)
    assert all(row == first[row["run_key"]] for row in rows if row["run_key"] in first)  # the kept rows untouched


# ----------------------------------------------------------------------------- signals
def count_rows(db) -> int:
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # no table yet
        return 0


def launch_sweep(folder, db, workers=2):
    argv = [sys.executable, "-m", "twolayer", "sweep", "spec.toml", "--out", str(db), "--workers", str(workers),
            "--run-fn", "twolayer.sweep.fakes:slowish_fake", "--no-progress"]
    return subprocess.Popen(argv, cwd=folder, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_sigterm_stops_a_sweep_with_one_line_and_a_rerun_resumes(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC)
    db = tmp_path / "results.sqlite"
    proc = launch_sweep(tmp_path, db)
    try:
        end = time.monotonic() + 60
        while count_rows(db) < 2 and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM
    assert_one_line(err, "stopped by SIGTERM", "finished runs are kept", "run the same command again")
    assert "leaked" not in err
    with ResultStore(db, create=False) as store:
        kept = {r["run_key"]: r for r in store.rows()}
    assert 2 <= len(kept) < RUNS
    run_sweep(tmp_path / "spec.toml", db, run_fn=fakes.fake_run, workers=1)  # the same runs, resumed
    with ResultStore(db, create=False) as store:
        rows = {r["run_key"]: r for r in store.rows()}
    assert len(rows) == RUNS and all(r["status"] == "done" for r in rows.values())
    assert all(rows[key] == row for key, row in kept.items())


def starting_workers(pid) -> bool:
    """Whether a multiprocessing worker of ``pid`` has been spawned (Linux /proc)."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                spawned = b"spawn_main" in fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and spawned:
            return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_as_workers_start_is_one_line(tmp_path):
    """Ctrl-C (SIGINT to the whole process group) while the workers start up: one line, no traceback, no leak.

    Timing-dependent: the deterministic check of the same fix is test_workers_start_with_sigint_held_back.
    """
    (tmp_path / "spec.toml").write_text(SPEC)
    proc = launch_sweep(tmp_path, tmp_path / "results.sqlite")
    try:
        end = time.monotonic() + 60
        while not starting_workers(proc.pid) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGINT
    assert_one_line(err, "interrupted", "run the same command again")
    assert "leaked" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_workers_start_with_sigint_held_back():
    """A worker process inherits SIGINT blocked, so a Ctrl-C during its start-up cannot reach it."""

    def blocked(pid) -> set:
        with open(f"/proc/{pid}/status") as fh:
            mask = int(next(line for line in fh if line.startswith("SigBlk:")).split()[1], 16)
        return {s for s in range(1, 64) if mask >> (s - 1) & 1}

    runs = [{"d": 8, "rate": 0.5, "seed": s} for s in range(2)]
    with LocalPoolExecutor(1) as pool:
        results = pool.run(fakes.slowish_fake, runs)
        next(results)
        masks = [blocked(pid) for pid in pool._pool._processes]
        list(results)
    assert masks and all(signal.SIGINT in mask for mask in masks)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the parent's mask is restored
