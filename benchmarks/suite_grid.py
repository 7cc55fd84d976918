"""The suite's grid for the data benchmarks: the --data / --rates / --remove-item-mean options and their cells.

Shared by ``exploitable.py``, ``model_optimal_codes.py``, ``training_gap.py`` and ``warm_start.py``
(each run as ``python benchmarks/NAME.py``, which puts this folder on the import path).
"""

from __future__ import annotations

import itertools
import json

#: the suite's rates (``twolayer universality``'s default).
RATES = (0.1, 0.25, 0.5, 1.0)
#: --remove-item-mean choice -> the preprocessings it names.
MEANS = {"no": (False,), "yes": (True,), "both": (False, True)}


def add_grid_arguments(parser, *, data, remove_item_mean="both"):
    """Add --data (default ``data``), --rates (the suite's) and --remove-item-mean to ``parser``."""
    parser.add_argument("--data", nargs="+", default=list(data))
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES))
    parser.add_argument("--remove-item-mean", choices=list(MEANS), default=remove_item_mean)


def cells(args):
    """(data, remove_item_mean, rate) for every cell the parsed options name, data first, then preprocessing."""
    return itertools.product(args.data, MEANS[args.remove_item_mean], args.rates)


def save(path, rows, command):
    """Write ``{"rows": rows, "command": command}`` to ``path`` (after every cell: a long run keeps what it measured)."""
    with open(path, "w") as fh:
        json.dump({"rows": rows, "command": command}, fh, indent=1)
