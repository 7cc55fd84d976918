"""Sweeps and the results store: spec validation, resumption, failures, CSV, executors.

The run functions are the deterministic fakes of :mod:`twolayer.sweep.fakes` (importable by
worker processes and Dask workers); one test runs the real default on a tiny grid. The
kill-and-resume acceptance tests are in test_sweep_kill.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import textwrap

import numpy as np
import pytest

from twolayer.cli import main as cli_main
from twolayer.config import RunConfig
from twolayer.sweep import (
    KEYS,
    LocalPoolExecutor,
    ResultStore,
    SerialExecutor,
    SpecError,
    fakes,
    load_spec,
    loads_spec,
    run_key,
    run_sweep,
)
from twolayer.sweep.executors import Outcome, execute, make_executor

SPEC = """
[sweep]
name = "tiny"
description = "a test grid"

[grid]
rate = [0.25, 0.5, 1]
seed = [0, 1]

[defaults]
d = 16
activation = "sign"
method = "population"
steps = 20
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


class Counter:
    """A run function (in-process only) that counts its calls."""

    def __init__(self, fn=fakes.fake_run):
        self.fn, self.calls = fn, []

    def __call__(self, params):
        self.calls.append(params)
        return self.fn(params)


def resolved(params: dict) -> dict:
    """A run's options as the sweep stores them (defaults resolved by RunConfig)."""
    return RunConfig.from_dict(params).to_dict()


def cli(*argv) -> int:
    """`twolayer ARGV...` in this process (exit status)."""
    return cli_main([str(a) for a in argv])


def row_set(db):
    """{run_key: (params, status, metrics)} of a database, checking run keys are unique."""
    with ResultStore(db, create=False) as store:
        rows = store.rows()
    keys = [r["run_key"] for r in rows]
    assert len(keys) == len(set(keys))
    return {r["run_key"]: (r["params"], r["status"], r["metrics"]) for r in rows}


# ----------------------------------------------------------------------------- spec
def test_spec_expands_the_product_over_the_defaults():
    spec = loads_spec(SPEC)
    assert spec.name == "tiny" and len(spec) == 6
    assert spec.runs[0] == resolved({"d": 16, "activation": "sign", "method": "population", "steps": 20,
                                     "rate": 0.25, "seed": 0})
    assert spec.runs[0]["optimizer"] == "sgd" and spec.runs[0]["whiten"] is None  # resolved; None: not applicable
    assert [(r["rate"], r["seed"]) for r in spec.runs] == [
        (0.25, 0), (0.25, 1), (0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1)
    ]
    assert isinstance(spec.runs[-1]["rate"], float)  # normalised: rate = 1 -> 1.0
    # equal runs, equal keys; the spec hash follows the runs
    assert run_key({"seed": 0, "d": 16}) == run_key({"d": 16, "seed": 0})
    assert loads_spec(SPEC).hash == spec.hash
    assert loads_spec(SPEC.replace("seed = [0, 1]", "seed = [0, 2]")).hash != spec.hash
    assert loads_spec(SPEC.replace('"sign"', '"Sign"')).hash == spec.hash


def test_every_key_has_a_working_validator():
    good = {"d": 8, "rate": 0.5, "n": 4, "activation": "relu", "data": "patches:16", "method": "samples",
            "parametrization": "tied", "optimizer": "sgd", "lr": 0.1, "schedule": "cosine", "steps": 5,
            "batch_size": 8, "tol": 1e-6, "init": "orthogonal", "dtype": "float64", "seed": 0,
            "spectrum": "powerlaw:1", "whiten": "zca", "remove_item_mean": True, "test_fraction": 0.2,
            "contrast_normalize": True, "max_items": 100, "controls": False, "theory_steps": 50,
            "record_spectrum": True, "save_params": "params-{rate}.npz", "decoder": "amp:2",
            "eval_samples": 500, "decoder_steps": 10, "decoder_basis": "dct", "init_scale": 0.1, "start": "tied",
            "time": 3.0, "noise": 0.25, "weight_decay": 0.01, "theory_curve": True, "l1": 0.1, "contractive": 0.2,
            "gmm_optimum": True, "orbits": 8, "validation": 0.1, "model_training": True}
    assert set(good) == set(KEYS)
    for key, value in good.items():
        assert KEYS[key].check(value) == value


@pytest.mark.parametrize(
    "text, key",
    [
        ('[grid]\nrate = [0.5]\nfoo = [1]\n[defaults]\nd = 8', "foo"),                 # unknown key in grid
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nlearning_rate = 0.1', "learning_rate"),  # in defaults
        ('[grid]\nrate = [0.5, -1]\n[defaults]\nd = 8', "rate"),                        # bad value
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 1', "'d'"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8.0', "'d'"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nactivation = "step"', "activation"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nseed = -1', "seed"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\norbits = -1', "orbits"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nsteps = true', "steps"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\ntest_fraction = 1.0', "test_fraction"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nvalidation = 1.0', "validation"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nremove_item_mean = "yes"', "remove_item_mean"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nspectrum = "powerlaw:x"', "spectrum"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nspectrum = "missing.npy"', "spectrum"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\ndata = "nonsense"', "data"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nlr = inf', "lr"),
        ('[grid]\nrate = [0.5]\nd = [8]\n[defaults]\nd = 8', "'d' is in both"),          # duplicated key
        ('[grid]\nrate = [0.5]\nrate = [1.0]\n[defaults]\nd = 8', "rate"),             # TOML duplicate
        ('[grid]\nseed = [0, 0]\n[defaults]\nd = 8\nrate = 0.5', "seed"),               # repeated value
        ('[grid]\n[defaults]\nd = 8\nrate = 0.5', "[grid]"),                            # empty grid
        ('[defaults]\nd = 8\nrate = 0.5', "[grid]"),                                    # no grid
        ('[grid]\nrate = []\n[defaults]\nd = 8', "rate"),                               # empty list
        ('[grid]\nrate = 0.5\n[defaults]\nd = 8', "rate"),                              # not a list
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nn = 4', "exactly one of rate"),        # rate and n
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nwhiten = "pca"', "whiten applies only to data sets"),
        ('[grid]\nrate = [0.5]\n[defaults]\ndata = "digits"\nspectrum = "powerlaw:1"', "spectrum applies only"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nbatch_size = 8', "batch_size applies only to method samples"),
        ('[grid]\nrate = [0.5]\n[defaults]\ndata = "digits"\nmethod = "population"', "method must be samples"),
        ('[grid]\nrate = [0.5, 1]\n[defaults]\nd = 8\nsave_params = "p.npz"', "same file"),
        ('[grid]\nrate = [0.5]\n[defaults]\nd = 8\nsave_params = "p-{lr2}.npz"', "not an option"),
        ('[grid]\nseed = [0]\n[defaults]\nd = 8', "exactly one of rate"),
        ('[grid]\nrate = [0.01]\n[defaults]\nd = 8', "rate"),                           # n = 0
        ('[grids]\nrate = [0.5]', "grids"),                                             # unknown table
        ('[sweep]\ntitle = "x"\n[grid]\nrate = [0.5]\n[defaults]\nd = 8', "title"),
    ],
)
def test_bad_specs_are_rejected_before_any_run(tmp_path, text, key):
    spec = write(tmp_path, text)
    db = tmp_path / "out.sqlite"
    counter = Counter()
    with pytest.raises(SpecError) as info:
        run_sweep(spec, db, run_fn=counter, workers=1)
    message = str(info.value)
    assert key in message and "\n" not in message and str(spec) in message
    assert counter.calls == [] and not db.exists()
    assert cli("sweep", spec, "--out", db, "--workers", 1, "--no-progress") == 2  # the command line: exit 2
    assert not db.exists()


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")


# ----------------------------------------------------------------------------- sweeps
def test_sweep_records_every_run_and_a_rerun_does_nothing(tmp_path, capsys):
    spec, db = write(tmp_path, SPEC), tmp_path / "out.sqlite"
    counter = Counter()
    assert run_sweep(spec, db, workers=1, run_fn=counter).complete
    assert len(counter.calls) == 6
    rows = row_set(db)
    assert len(rows) == 6 and all(status == "done" for _, status, _ in rows.values())
    for params, _, metrics in rows.values():
        assert metrics == json.loads(json.dumps(fakes.fake_metrics(params)))
    capsys.readouterr()

    assert cli("sweep", spec, "--out", db, "--workers", 1, "--no-progress", "--run-fn", "twolayer.sweep.fakes:fake_run") == 0
    assert "all 6 of 6 runs" in capsys.readouterr().out  # nothing ran
    assert row_set(db) == rows

    with sqlite3.connect(db) as conn:  # the stored columns
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        r = conn.execute("SELECT d, rate, seed, activation, status, version, spec_hash, seconds, "
                         "final_risk, started, finished FROM runs WHERE rate = 0.5 AND seed = 1").fetchone()
    import twolayer

    assert r[:6] == (16, 0.5, 1, "sign", "done", twolayer.__version__)
    assert r[6] == load_spec(spec).hash and r[7] >= 0
    assert r[8] == pytest.approx(fakes.fake_metrics(load_spec(spec).runs[3])["final_risk"])
    assert r[9] <= r[10]


def test_a_partial_sweep_is_completed_and_other_specs_share_the_file(tmp_path):
    db = tmp_path / "out.sqlite"
    small = write(tmp_path, SPEC.replace("rate = [0.25, 0.5, 1]", "rate = [0.5]"), "small.toml")
    run_sweep(small, db, run_fn=fakes.fake_run, workers=1)
    counter = Counter()
    report = run_sweep(write(tmp_path, SPEC), db, run_fn=counter, workers=1)
    assert (report.total, report.already_done, report.submitted, report.done) == (6, 2, 4, 4)
    assert report.complete
    assert sorted((p["rate"], p["seed"]) for p in counter.calls) == [(0.25, 0), (0.25, 1), (1.0, 0), (1.0, 1)]
    with ResultStore(db) as store:
        hashes = {r["spec_hash"] for r in store.rows()}
        assert hashes == {load_spec(small).hash, load_spec(tmp_path / "spec.toml").hash}
        assert store.conn.execute("SELECT COUNT(*) FROM specs").fetchone()[0] == 2


def test_a_failing_run_is_recorded_and_the_others_complete(tmp_path, capsys):
    spec, db = write(tmp_path, SPEC), tmp_path / "out.sqlite"
    assert cli("sweep", spec, "--out", db, "--workers", 1, "--no-progress",
               "--run-fn", "twolayer.sweep.fakes:failing_fake") == 1
    out = capsys.readouterr().out
    assert "3 failed" in out and "ValueError: fake failure for seed 1" in out
    rows = row_set(db)
    failed = {k: v for k, v in rows.items() if v[1] == "failed"}
    assert len(rows) == 6 and len(failed) == 3
    with ResultStore(db) as store:
        for r in store.rows(["status=failed"]):
            assert r["params"]["seed"] == 1 and r["metrics"] is None and r["final_risk"] is None
            assert r["error"] == f"ValueError: fake failure for seed 1 (rate = {r['params']['rate']})"
            assert "failing_fake" in r["traceback"]

    # failed runs are left alone on request, and retried by default
    counter = Counter()
    report = run_sweep(spec, db, run_fn=counter, workers=1, retry_failed=False)
    assert counter.calls == [] and report.skipped_failed == 3 and not report.complete
    report = run_sweep(spec, db, run_fn=counter, workers=1)
    assert len(counter.calls) == 3 and report.complete
    rows = row_set(db)
    assert len(rows) == 6 and all(v[1] == "done" for v in rows.values())


def test_a_done_row_is_never_overwritten(tmp_path):
    params = {"d": 8, "rate": 0.5}
    ok = execute(fakes.fake_run, params)
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert store.record(params, ok, spec_hash="h")
        assert not store.record(params, Outcome("failed", None, "X: y", None, None, None), spec_hash="h")
        assert store.count() == 1 and store.rows()[0]["status"] == "done"


def test_run_function_results_are_checked(tmp_path):
    out = execute(lambda p: 3, {"d": 8})
    assert out.status == "failed" and out.error.startswith("TypeError: the run function returned int")
    out = execute(lambda p: {"a": np.float32(1.5), "b": np.arange(2), "c": float("nan")}, {"d": 8})
    assert out.status == "done" and out.metrics == {"a": 1.5, "b": [0, 1], "c": None}
    out = execute(lambda p: {"a": object()}, {"d": 8})
    assert out.status == "failed" and "cannot be stored as JSON" in out.error


def test_progress_bar_goes_to_stderr_only_when_asked(tmp_path, capsys):
    spec = write(tmp_path, SPEC)
    run_sweep(spec, tmp_path / "a.sqlite", run_fn=fakes.fake_run, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "tiny" in err
    run_sweep(spec, tmp_path / "b.sqlite", run_fn=fakes.fake_run, workers=1, progress=False)
    assert capsys.readouterr() == ("", "")


def test_bad_executor_arguments(tmp_path, monkeypatch, capsys):
    spec = write(tmp_path, SPEC)
    fake = ("--run-fn", "twolayer.sweep.fakes:fake_run", "--no-progress")
    for argv, match in [
        (["--executor", "slurm"], "slurm"),
        (["--workers", "0"], "--workers"),
        (["--scheduler", "tcp://x:1"], "scheduler"),
        (["--run-fn", "twolayer.sweep.fakes:nope"], "no attribute"),
    ]:
        given = fake[2:] if "--run-fn" in argv else fake  # a flag is given once
        assert cli("sweep", spec, "--out", tmp_path / "x.sqlite", *given, *argv) == 2
        err = capsys.readouterr().err.strip()
        assert match in err and "\n" not in err
    assert not (tmp_path / "x.sqlite").exists()
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        run_sweep(spec, tmp_path / "y.sqlite", run_fn=lambda p: {}, workers=2)
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    monkeypatch.setitem(__import__("sys").modules, "dask.distributed", None)
    assert cli("sweep", spec, "--out", tmp_path / "x.sqlite", *fake, "--executor", "dask") == 2
    assert "pip install 'twolayer[dask]'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"pip install 'twolayer\[dask\]'"):
        make_executor("dask")


# ----------------------------------------------------------------------------- results
def test_results_csv_has_every_row_and_column_and_where_filters(tmp_path, capsys):
    spec, db = write(tmp_path, SPEC), tmp_path / "out.sqlite"
    run_sweep(spec, db, workers=1, run_fn="twolayer.sweep.fakes:failing_fake")
    capsys.readouterr()

    out = tmp_path / "all.csv"
    assert cli("results", db, "--csv", out) == 0
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 6
    for column in ["run_key", "spec_hash", "status", "error", "started", "finished", "seconds", "version",
                   "d", "rate", "seed", "activation", "method", "steps",
                   "final_risk", "predicted_risk", "relative_gap", "frame_spectrum_error",
                   "polar_alignment", "stopped", "history.risk"]:
        assert column in table[0], column
    done = [r for r in table if r["status"] == "done"]
    assert len(done) == 3
    for r in done:
        params = resolved({"d": 16, "activation": "sign", "method": "population", "steps": 20,
                           "rate": float(r["rate"]), "seed": int(r["seed"])})
        assert float(r["final_risk"]) == fakes.fake_metrics(params)["final_risk"]
        assert json.loads(r["history.risk"]) == fakes.fake_metrics(params)["history"]["risk"]

    def count(*where):
        path = tmp_path / "f.csv"
        assert cli("results", db, "--csv", path, "--overwrite", *[arg for w in where for arg in ("--where", w)]) == 0
        with open(path, newline="") as fh:
            return len(list(csv.DictReader(fh)))

    assert count("rate=0.5") == 2
    assert count("rate=0.5", "seed=0") == 1
    assert count("activation=Sign") == 6           # values are normalised like the spec
    assert count("status=failed") == 3
    assert count("rate>=0.5", "status!=failed") == 2
    assert count("activation=relu") == 0
    assert count("tol=null") == 6
    assert count("optimizer=sgd") == 6             # defaults are stored resolved
    capsys.readouterr()
    for bad, match in [("foo=1", "unknown column 'foo'"), ("rate=abc", "holds numbers"),
                       ("rate", "cannot parse"), ("rate=0.5; DROP TABLE runs", "holds numbers"),
                       ("seed=1 OR 1=1", "holds integers"), ("'rate'=1", "cannot parse")]:
        assert cli("results", db, "--where", bad) == 2
        assert match in capsys.readouterr().err
    assert count() == 6  # the table survived

    assert cli("results", db, "--where", "rate=0.5") == 0
    text = capsys.readouterr().out
    assert "2 of 6 runs match rate=0.5" in text and "fixed: d=16" in text
    assert "final_risk" in text and "fake failure" in text
    # chosen columns: options, record fields and bookkeeping, in that order
    assert cli("results", db, "--where", "status=done", "--columns", "rate,seed,final_risk,status,optimizer") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["rate", "seed", "final_risk", "status", "optimizer"] and len(lines) == 1 + 2 + 3
    first = lines[3].split()
    expected = fakes.fake_metrics(resolved({"d": 16, "activation": "sign", "method": "population", "steps": 20,
                                            "rate": float(first[0]), "seed": int(first[1])}))
    assert float(first[2]) == pytest.approx(expected["final_risk"], rel=1e-5) and first[3:] == ["done", "sgd"]
    assert cli("results", db, "--columns", "rate,nonsense") == 2
    assert "unknown column 'nonsense'" in capsys.readouterr().err
    assert cli("results", tmp_path / "nope.sqlite") == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    assert cli("results", tmp_path / "junk.sqlite") == 2
    assert "not a" in capsys.readouterr().err


# ----------------------------------------------------------------------------- executors
def test_local_pool_and_dask_give_the_rows_of_the_serial_executor(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    spec = load_spec(write(tmp_path, SPEC))
    run_sweep(spec, tmp_path / "serial.sqlite", run_fn=fakes.failing_fake, executor=SerialExecutor())
    expected = row_set(tmp_path / "serial.sqlite")

    run_sweep(spec, tmp_path / "pool.sqlite", run_fn=fakes.failing_fake, executor=LocalPoolExecutor(2))
    assert row_set(tmp_path / "pool.sqlite") == expected

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        report = run_sweep(spec, tmp_path / "dask.sqlite", run_fn="twolayer.sweep.fakes:failing_fake",
                           executor="dask", scheduler=cluster.scheduler_address)
    assert (report.done, report.failed) == (3, 3)
    assert row_set(tmp_path / "dask.sqlite") == expected


# ----------------------------------------------------------------------------- default run
def test_default_run_on_a_tiny_grid(tmp_path):
    spec = write(tmp_path, """
        [grid]
        rate = [0.5]
        data = ["gaussian", "mnist:/nonexistent/mnist"]
        [defaults]
        steps = 20
        seed = 0
        """)
    db = tmp_path / "real.sqlite"
    report = run_sweep(spec, db, workers=1)
    assert (report.done, report.failed) == (1, 1)
    with ResultStore(db) as store:
        done, = store.rows(["status=done"])
        failed, = store.rows(["status=failed"])
    assert done["metrics"]["n"] == 128 and done["metrics"]["steps"] == 20 and done["d"] == 256  # default d
    assert 0 < done["final_risk"] < 1 and done["predicted_risk"] > 0
    assert abs(done["relative_gap"]) < 1
    assert failed["error"].split(":")[0] in ("DatasetError", "ValueError", "FileNotFoundError")


def test_readme_and_example_spec_agree_with_the_code():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "simulations" / "README.md").read_text()
    from twolayer.config import markdown_table

    assert markdown_table() in readme  # the key table is the option table, verbatim
    for key in KEYS:
        assert f"| `{key}` |" in readme, key
    example = load_spec(root / "simulations" / "example.toml")
    assert len(example) == 12 and {r["d"] for r in example.runs} == {64}
    assert example.runs[0]["activation"] == "sign" and example.runs[0]["method"] == "population"


def test_an_export_never_overwrites_the_database_or_an_existing_file(tmp_path, capsys):
    """`results DB --csv DB` used to replace the database with CSV text: now refused, rows intact."""
    spec, db = write(tmp_path, SPEC), tmp_path / "out.sqlite"
    run_sweep(spec, db, workers=1, run_fn=fakes.fake_run)
    before = db.read_bytes()
    assert cli("results", db, "--csv", db) == 2
    assert cli("results", db, "--csv", db, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "SQLite database" in err and "Traceback" not in err
    assert db.read_bytes() == before and len(row_set(db)) == 6
    out = tmp_path / "rows.csv"
    out.write_text("keep me")
    assert cli("results", db, "--csv", out) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "keep me"
    assert cli("results", db, "--csv", out, "--overwrite") == 0
    assert out.read_text().startswith("run_key,")
    assert cli("results", db, "--csv", tmp_path / "no-such-folder" / "x.csv") == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`twolayer results DB --csv - | head -1`: no BrokenPipeError traceback."""
    import subprocess
    import sys

    spec = write(tmp_path, SPEC.replace("seed = [0, 1]", "seed = " + str(list(range(150)))))
    db = tmp_path / "big.sqlite"
    run_sweep(spec, db, workers=1, run_fn=fakes.fake_run)
    proc = subprocess.Popen([sys.executable, "-m", "twolayer", "results", str(db), "--csv", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader leaves after one line (450 rows do not fit in the pipe)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) != 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_a_new_option_that_does_not_apply_leaves_run_keys_unchanged():
    """A store made before an option existed resumes after it is added: a run's key leaves out the options
    that do not apply to it (None), so a Gaussian run's key is the hash of its applicable options alone."""
    from twolayer.config import RunConfig
    from twolayer.sweep.spec import canonical_json, run_key

    params = RunConfig(d=16, rate=0.5).to_dict()
    assert params["decoder_steps"] is None and params["whiten"] is None  # structured-only, data-only
    applicable = {k: v for k, v in params.items() if v is not None and k != "save_params"}
    assert run_key(params) == hashlib.sha256(canonical_json(applicable).encode()).hexdigest()
    assert run_key({**params, "a_future_option": None}) == run_key(params)
    assert run_key({**params, "a_future_option": 1}) != run_key(params)


def test_pool_workers_share_the_cores_blas_threads(monkeypatch):
    """Each of K pool workers runs its BLAS on cores // K threads (threadpoolctl's count inside the worker)."""
    from twolayer.sweep.executors import BLAS_THREAD_VARIABLES, worker_blas_threads

    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    expected = max(1, (__import__("os").cpu_count() or 1) // 2)
    assert worker_blas_threads(2) == expected
    runs = [{"d": 8, "rate": 0.5, "seed": s} for s in range(2)]
    with LocalPoolExecutor(2) as pool:
        outcomes = [outcome.metrics for _, outcome in pool.run(fakes.blas_threads_fake, runs)]
    for metrics in outcomes:
        assert metrics["blas_threads"] and set(metrics["blas_threads"]) == {expected}
        assert set(metrics["environment"].values()) == {str(expected)}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # the user's own setting is kept
    with LocalPoolExecutor(2) as pool:
        (_, outcome), = list(pool.run(fakes.blas_threads_fake, runs[:1]))
    assert outcome.metrics["environment"]["OPENBLAS_NUM_THREADS"] == "3"
    assert outcome.metrics["environment"]["OMP_NUM_THREADS"] is None
