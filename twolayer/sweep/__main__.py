"""``python -m twolayer.sweep run SPEC --out DB ...`` and ``python -m twolayer.sweep results DB ...``.

The same as ``twolayer sweep`` / ``twolayer results``, plus ``--run-fn MODULE:FUNCTION`` and
``--skip-failed`` (see :mod:`twolayer.sweep.runner`).
"""

import sys

from . import results, runner

USAGE = "usage: python -m twolayer.sweep {run SPEC --out DB [...] | results DB [...]} (-h for help)"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "run":
        return runner.main(argv[1:])
    if argv and argv[0] == "results":
        return results.main(argv[1:])
    print(USAGE, file=sys.stderr)
    return 0 if argv and argv[0] in ("-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
