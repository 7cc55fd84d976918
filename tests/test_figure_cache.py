"""A figure's cached runs (OUT/NAME.sqlite): reuse is said on stderr, and another package version reruns them."""

from __future__ import annotations

import twolayer
from twolayer import _version
from twolayer.figures.common import run_spec
from twolayer.sweep import ResultStore

SPEC = '[grid]\nrate = [0.5, 1.0]\n[defaults]\nd = 8\nsteps = 5\ndtype = "float64"\n'


def test_reuse_is_said_and_a_new_version_reruns(tmp_path, monkeypatch, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(SPEC)
    monkeypatch.setenv("TWOLAYER_SPECS", str(specs))
    db = tmp_path / "tiny.sqlite"

    first = run_spec("tiny", tmp_path, quick=False, workers=1, progress=False)
    assert capsys.readouterr().err == ""  # nothing cached: nothing to say
    again = run_spec("tiny", tmp_path, quick=False, workers=1, progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"reused 2 of 2 runs of tiny.toml cached in {db} (same options, twolayer {twolayer.__version__}); "
                   "delete that file to run them again"]
    assert again == first

    old = twolayer.__version__
    monkeypatch.setattr(twolayer, "__version__", "99.0.0")  # what the store records
    monkeypatch.setattr(_version, "__version__", "99.0.0")  # what the runs are keyed by
    newer = run_spec("tiny", tmp_path, quick=False, workers=1, progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ran 2 runs of tiny.toml again: the 2 cached in {db} with the same "
                                               f"options come from another version of twolayer ({old};")
    assert [r["rate"] for r in newer] == [0.5, 1.0]
    with ResultStore(db, create=False) as store:
        versions = sorted(row["version"] for row in store.rows())
    assert versions == sorted([old, old, "99.0.0", "99.0.0"])  # the older rows are kept, not used
