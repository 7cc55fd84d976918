"""Issue 11, results that must not mislead: divergence of the network as trained, which risk is which,
too few training items, and a word before a run that stays silent for long."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer import cli
from twolayer.simulations import TrainingDivergedError, train
from twolayer.simulations import training as training_module


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def risk_lines(out: str) -> dict:
    """``{key: (value, rest)}`` of the ``  key  value  (note)`` lines of ``twolayer train``."""
    lines = {}
    for line in out.splitlines():
        parts = line.split(maxsplit=2)
        if line.startswith("  ") and len(parts) >= 2:
            lines[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return lines


# ----------------------------------------------------------------------------- divergence
def test_the_network_as_trained_is_checked_after_the_last_step(monkeypatch):
    """A samples run whose trained decoder blew up (exact risk 9e40) while its minibatch loss came back to 1 (the code
    collapsed to 0): with the per-step check switched off, the check of the trained network itself still fails it."""
    monkeypatch.setattr(training_module, "_blown_up", lambda values: np.zeros(values.shape, dtype=bool))
    with pytest.raises(TrainingDivergedError, match=r"network as trained has risk [0-9.]+e\+\d\d \(exact\).*above 1000 "
                                                    r".*zero decoder scores 1.*smaller learning rate"):
        train(32, 16, method="samples", optimizer="sgd", lr=1e3, steps=200)


def test_a_loss_that_blows_up_names_its_step():
    """The per-step check: a finite loss 1000 times above max(1, the chunk's first) is a divergence at that step."""
    spec = training_module._Spec("sign", "samples", "untied", "sgd", 5.0, "constant", 10, 10, 8, 4, "float32")
    training_module._check_finite(np.array([2.0, 3.0, 1999.0]), 100, spec)  # below 1000 x 2: fine
    with pytest.raises(TrainingDivergedError, match=r"at step 103: the loss .* rose to 2\.5e\+03, more than 1000 times "
                                                    r"max\(1, its value 2 at step 100\).*lr=0\.5"):
        training_module._check_finite(np.array([2.0, 3.0, 1999.0, 2500.0]), 100, spec)
    with pytest.raises(TrainingDivergedError, match="at step 7: the loss became nan"):
        training_module._check_finite(np.array([1.0, np.nan]), 6, spec)


def test_a_large_rate_or_start_is_not_taken_for_a_divergence():
    """An untied network at r = 600 starts near 1 + r/2 = 300: not a divergence (the bound is 1000 max(1, r))."""
    result = train(2, 1200, method="samples", steps=30, dtype="float64")
    assert 1.0 < result.metrics["trained_network_risk"] < 1000.0 * 600


# ----------------------------------------------------------------------------- which risk is which
def test_samples_record_names_the_trained_and_the_refitted_risk(capsys):
    """Gaussian samples run: final_risk is the refitted decoder's; the record and the text also give the network as
    trained (trained_network_risk = the older final_risk_trained_decoder) and the refitted one by name."""
    code, out, _ = run_cli(capsys, "train", "--d", "16", "--rate", "0.5", "--method", "samples", "--steps", "60",
                           "--json")
    rec = json.loads(out)
    assert code == 0
    assert rec["trained_network_risk"] == rec["final_risk_trained_decoder"]
    assert rec["refitted_decoder_risk"] == pytest.approx(rec["final_risk"], rel=1e-12)
    assert rec["refitted_decoder_risk"] <= rec["trained_network_risk"] + 1e-12  # A*(B) is the best decoder of B
    code, out, _ = run_cli(capsys, "train", "--d", "16", "--rate", "0.5", "--method", "samples", "--steps", "60")
    lines = risk_lines(out)
    assert float(lines["trained_network_risk"][0]) == pytest.approx(rec["trained_network_risk"], abs=1e-6)
    assert "network as trained" in lines["trained_network_risk"][1]
    assert float(lines["refitted_decoder_risk"][0]) == pytest.approx(rec["refitted_decoder_risk"], abs=1e-6)
    assert "refitted decoder" in lines["refitted_decoder_risk"][1]


def test_every_train_run_prints_the_trained_networks_risk(capsys):
    """Population (the optimal decoder is the network's), structured (the trained decoder under the law) and data
    (the trained decoder on the training rows): each text output has its line, equal to the record's field."""
    runs = {
        "population": (["--d", "16", "--rate", "0.5", "--steps", "30"], "trained_network_risk", "final_risk"),
        "structured": (["--data", "bernoulli-gaussian:0.2", "--d", "16", "--rate", "0.5", "--steps", "30",
                        "--eval-samples", "400"], "trained_network_risk", "risk_linear"),
        "data": (["--data", "digits", "--max-items", "400", "--rate", "0.25", "--steps", "30", "--no-controls"],
                 "trained_network_train_risk", None),
    }
    for name, (argv, key, same_as) in runs.items():
        code, out, _ = run_cli(capsys, "train", *argv, "--json")
        rec = json.loads(out)
        assert code == 0 and rec[key] is not None, name
        if same_as:
            assert rec[key] == rec[same_as], name
        code, out, _ = run_cli(capsys, "train", *argv)
        assert float(risk_lines(out)[key][0]) == pytest.approx(rec[key], abs=1e-6), name
        assert "network as trained" in risk_lines(out)[key][1], name


# ----------------------------------------------------------------------------- too few training items
def test_theory_on_too_few_training_items_warns_in_text_and_flags_the_records(capsys):
    """lfw: 160 training items, d = 625; at r = 0.25 n = 156 is above half of them."""
    code, out, _ = run_cli(capsys, "theory", "--data", "lfw", "--rate", "0.1", "0.25")
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning")]
    assert len(warnings) == 2
    assert "only 160 training items for d = 625" in warnings[0] and "singular" in warnings[0]
    assert warnings[1].startswith("warning (r = 0.25): the code size n = 156 is at least half the 160 training items")
    code, out, _ = run_cli(capsys, "theory", "--data", "lfw", "--rate", "0.1", "0.25", "--json")
    records = json.loads(out)
    assert [rec["few_samples"] for rec in records] == [["n_train<d"], ["n_train<d", "n>=n_train/2"]]
    assert all("160 training items" in rec["few_samples_warning"] for rec in records)
    code, out, _ = run_cli(capsys, "theory", "--data", "digits", "--rate", "0.25", "--json")
    assert json.loads(out)[0]["few_samples"] == [] and json.loads(out)[0]["few_samples_warning"] is None
    assert "warning" not in run_cli(capsys, "theory", "--data", "digits", "--rate", "0.25")[1]


def test_a_data_run_on_too_few_items_warns_and_flags_its_record(capsys):
    """digits cut to 60 items: 48 training items for d = 64 (and n = 32 >= 24): a warning line and the record's flag,
    the same rule as the universality suite's flags."""
    from twolayer.suite import cell_flags

    argv = ["train", "--data", "digits", "--max-items", "60", "--rate", "0.5", "--steps", "20", "--no-controls"]
    code, out, _ = run_cli(capsys, *argv, "--json")
    rec = json.loads(out)
    assert code == 0 and rec["few_samples"] == ["n_train<d", "n>=n_train/2"] == cell_flags(rec)[:2]
    assert "only 48 training items for d = 64" in rec["few_samples_warning"]
    code, out, _ = run_cli(capsys, *argv)
    assert out.splitlines()[-1] == f"warning: {rec['few_samples_warning']}"


# ----------------------------------------------------------------------------- a word before a long silence
def test_a_large_run_is_announced_before_it_starts(capsys, monkeypatch):
    """The note goes to stderr before the run begins (here: a tiny run counted as large); a small run prints nothing
    there; a size that cannot fit is refused in one line, without the note."""
    from twolayer import _resources, experiment

    seen = {}

    def fake_run(config, progress=False):
        seen["stderr before the run"] = capsys.readouterr().err
        return {"d": config.d}

    monkeypatch.setattr(experiment, "run", fake_run)
    monkeypatch.setattr(_resources, "LARGE_BYTES", 1000)
    assert cli.main(["train", "--d", "8", "--rate", "0.5", "--json"]) == 0
    note = seen["stderr before the run"]
    assert note.startswith("twolayer: a large run: d = 8, n = 4, method population: about 3.5 KiB of memory")
    assert "floating-point operations per step" in note and "progress after the first 100 steps" in note
    monkeypatch.setattr(_resources, "LARGE_BYTES", 2**29)
    assert cli.main(["train", "--d", "8", "--rate", "0.5", "--json"]) == 0
    assert seen["stderr before the run"] == ""
    monkeypatch.setattr(_resources, "available_bytes", lambda: 2**20)
    assert cli.main(["train", "--d", "1000", "--rate", "0.5", "--json"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is available" in err and "large run" not in err


def test_the_size_of_the_issues_silent_run_is_large(monkeypatch):
    """train --d 40000 --rate 0.5 ran 90 s without a word: on a machine where it fits, it is announced."""
    from twolayer import _resources

    monkeypatch.setattr(_resources, "available_bytes", lambda: 2**40)
    note = _resources.large_run_note(40000, 20000, "population", 2000)
    assert "d = 40000, n = 20000" in note and "83.4 GiB" in note and "1.1e+14 floating-point operations" in note
    assert _resources.large_run_note(256, 128, "population", 2000) is None
    assert _resources.large_run_note(1024, 512, "samples", 2000, 256) is None
