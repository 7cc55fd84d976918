"""The run configuration: one option table read by the CLI, the sweep specs, the store and the API;
one run function; no global state changed by importing the package."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from twolayer import RunConfig, run
from twolayer.cli import build_parser, main
from twolayer.config import OPTIONS, code_size
from twolayer.experiment import load_params
from twolayer.sweep import KEYS, ResultStore, loads_spec
from twolayer.theory import min_risk, population_risk


def _subparser(name):
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def test_train_flags_spec_keys_and_store_columns_are_the_option_table(tmp_path):
    """Every option is a `train` flag (same name, dashes), a spec key and a store column; nothing else is."""
    flags = {a.dest: a for a in _subparser("train")._actions if a.dest not in ("help", "json")}
    assert set(flags) == set(OPTIONS) == set(KEYS)
    for name, option in OPTIONS.items():
        assert option.flag in flags[name].option_strings
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert set(OPTIONS) <= set(store.columns)


def test_train_help_lists_the_default_of_every_option():
    text = _subparser("train").format_help()
    for name, option in OPTIONS.items():
        assert f"(default: {option.describe_default()})" in " ".join(text.split()), name
    assert "(default: 2000)" in " ".join(text.split())  # --steps


def test_version_is_one_source(capsys):
    from importlib.metadata import version

    import twolayer

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"twolayer {twolayer.__version__}"
    assert version("twolayer") == twolayer.__version__  # the installed metadata reads the same file


def test_resolved_defaults_follow_the_source_and_method():
    g = RunConfig(rate=0.5)
    assert (g.d, g.n, g.method, g.parametrization, g.optimizer, g.schedule, g.batch_size) == (
        256, None, "population", "optimal-decoder", "sgd", "constant", None)
    assert g.code_size() == 128 and g.whiten is None and g.test_fraction is None  # data-set options: not applicable
    s = RunConfig(rate=0.5, method="samples")
    assert (s.parametrization, s.optimizer, s.schedule, s.batch_size) == ("untied", "adam", "cosine", 256)
    d = RunConfig(data="digits", rate=0.25)
    assert (d.d, d.method, d.whiten, d.test_fraction, d.controls, d.spectrum) == (None, "samples", "none", 0.2, True, None)
    assert d.replace(data="gaussian").method == "population"  # replace re-resolves from what was given
    assert RunConfig.from_dict(g.to_dict()) == g  # a stored run reads back as the same run


@pytest.mark.parametrize(
    "values, match",
    [
        ({"rate": 0.5, "n": 3}, "exactly one of rate"),
        ({}, "exactly one of rate"),
        ({"rate": 0.5, "whiten": "zca"}, "whiten applies only to data sets"),
        ({"rate": 0.5, "controls": False}, "controls applies only to data sets"),
        ({"data": "digits", "rate": 0.5, "spectrum": "powerlaw:1"}, "spectrum applies only to the Gaussian"),
        ({"data": "digits", "rate": 0.5, "tol": 1e-3}, "tol applies only"),
        ({"rate": 0.5, "batch_size": 32}, "batch_size applies only to method samples"),
        ({"data": "digits", "rate": 0.5, "method": "population"}, "method must be samples"),
        ({"rate": 0.5, "method": "samples", "parametrization": "optimal-decoder"}, "exact Gaussian population risk"),
        ({"d": 4, "rate": 0.1}, "n = round"),
        ({"d": 1, "rate": 1.0}, "integer >= 2"),
        ({"rate": "0.5"}, "finite number"),
        ({"rate": 0.5, "steps": 2.5}, "integer >= 1"),
        ({"rate": 0.5, "save_params": "x.txt"}, ".npz"),
        ({"rate": 0.5, "save_params": "x-{nope}.npz"}, "not an option"),
        ({"rate": 0.5, "data": "nosuchkind"}, "unknown data spec kind"),
        ({"data": "digits", "rate": 0.5, "controls": False, "gmm_optimum": True}, "gmm_optimum needs the controls"),
        ({"data": "digits", "rate": 0.5, "controls": False, "model_training": True}, "model_training needs the controls"),
        ({"rate": 0.5, "model_training": True}, "model_training applies only to data sets"),
    ],
)
def test_bad_configurations_say_what_is_accepted(values, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**values)


def test_unknown_option_names_the_accepted_ones():
    with pytest.raises(ValueError, match="unknown option 'learning_rate'; accepted: d, rate, n"):
        RunConfig.from_dict({"rate": 0.5, "learning_rate": 0.1})
    with pytest.raises(TypeError):
        RunConfig(rate=0.5, learning_rate=0.1)


@pytest.mark.parametrize("rate, d", [(0.5, 64), (0.3, 17), (1 / 3, 3), (2.5, 10)])
def test_one_rule_for_the_code_size(rate, d):
    """n = round(r d) in the config, the sweep and the CLI alike (Python's round)."""
    assert code_size(rate, d) == round(rate * d)
    assert RunConfig(d=d, rate=rate).code_size() == round(rate * d)
    spec = loads_spec(f"[grid]\nrate = [{rate!r}]\n[defaults]\nd = {d}\nsteps = 1")
    assert RunConfig.from_dict(spec.runs[0]).code_size() == round(rate * d)


def test_cli_and_sweep_refuse_the_same_sizes(capsys):
    """d = 1 and a rate with n = 0 are refused by the command line and by a spec alike."""
    for argv, text in ((["--d", "1", "--rate", "1"], "[defaults]\nd = 1"),
                       (["--d", "8", "--rate", "0.01"], "[defaults]\nd = 8")):
        assert main(["train", *argv, "--steps", "1"]) == 2
        assert "\n" not in capsys.readouterr().err.strip()
        with pytest.raises(ValueError):
            loads_spec(f"[grid]\nrate = [{argv[-1]}]\n{text}")


def test_run_equals_train_and_saves_parameters_that_reproduce_the_risk(tmp_path):
    """run(config) is train() with the same options; the saved A, B give the record's risk again."""
    from twolayer.simulations import train

    path = tmp_path / "params-{rate}-{seed}.npz"
    record = run(RunConfig(d=16, rate=0.5, steps=60, seed=3, dtype="float64", save_params=str(path)))
    direct = train(16, 8, steps=60, seed=3, dtype="float64").as_record()
    assert record["final_risk"] == direct["final_risk"]
    saved = load_params(tmp_path / "params-0.5-3.npz")
    assert record["saved_params"] == str(tmp_path / "params-0.5-3.npz")
    assert saved["A"].shape == (16, 8) and saved["B"].shape == (8, 16) and saved["B0"].shape == (8, 16)
    assert population_risk(saved["B"], saved["A"]) == pytest.approx(record["final_risk"], rel=1e-12)
    assert saved["record"]["final_risk"] == record["final_risk"]
    assert not np.allclose(saved["B"], saved["B0"])  # trained


def test_save_params_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "p.npz"
    assert main(["train", "--d", "12", "--rate", "0.5", "--steps", "30", "--dtype", "float64",
                 "--save-params", str(path), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    saved = load_params(path)
    assert population_risk(saved["B"], saved["A"]) == pytest.approx(rec["final_risk"], rel=1e-12)
    assert main(["train", "--rate", "0.5", "--save-params", str(tmp_path / "no" / "p.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_record_lists_the_spectrum_only_on_request():
    cfg = RunConfig(d=8, rate=0.5, steps=5, spectrum="powerlaw:1", dtype="float64")
    assert "spectrum" not in run(cfg)
    rec = run(cfg.replace(record_spectrum=True))
    np.testing.assert_allclose(rec["spectrum"], 1.0 / np.arange(1, 9))
    assert rec["predicted_risk"] == pytest.approx(min_risk(0.5, spectrum=rec["spectrum"]), rel=1e-12)


def test_a_spec_grids_over_data_sets_of_different_dimensions(tmp_path, capsys):
    """The acceptance case: data = ["digits", "patches:8"], no d; `results --columns` shows them."""
    from twolayer.sweep import run_sweep

    spec = loads_spec('[grid]\ndata = ["digits", "patches:8:600"]\n[defaults]\nrate = 0.25\nsteps = 20\n'
                      "theory_steps = 20\nremove_item_mean = true")
    report = run_sweep(spec, tmp_path / "u.sqlite", workers=1)
    assert (report.done, report.failed) == (2, 0)
    assert main(["results", str(tmp_path / "u.sqlite"), "--columns",
                 "data,d,rate,final_risk,predicted_risk_mixture,theory_encoder_risk"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["data", "d", "rate", "final_risk", "predicted_risk_mixture", "theory_encoder_risk"]
    rows = [line.split() for line in lines[3:]]
    assert [r[:3] for r in rows] == [["digits", "64", "0.25"], ["patches:8:600", "64", "0.25"]]
    for r in rows:
        assert 0 < float(r[3]) < 1.5 and 0 < float(r[4]) < 1 and 0 < float(r[5]) < 1.5


def test_import_changes_no_global_state():
    """`import twolayer` (and its figures) leaves JAX's precision and matplotlib's backend alone."""
    code = (
        "import matplotlib; matplotlib.use('svg'); import twolayer, twolayer.figures, twolayer.cli, twolayer.sweep; "
        "import jax, jax.numpy as jnp; "
        "print(jnp.ones(1).dtype, matplotlib.get_backend(), jax.config.jax_enable_x64)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float32", "svg", "False"]


def test_training_without_global_x64_gives_float64_numbers():
    """A fresh process (x64 off): a float64 run is traced in float64 and equals this process's numbers."""
    code = (
        "import json, twolayer; "
        "r = twolayer.run(twolayer.RunConfig(d=16, rate=0.5, steps=40, seed=1, dtype='float64')); "
        "print(json.dumps(r['final_risk']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = run(RunConfig(d=16, rate=0.5, steps=40, seed=1, dtype="float64"))["final_risk"]
    assert json.loads(out.stdout) == pytest.approx(here, rel=1e-12)
