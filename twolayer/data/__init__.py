"""Standard data sets for the theory checks: loading (no network) and preprocessing.

>>> from twolayer.data import load_dataset, preprocess
>>> data = load_dataset("digits")                    # Dataset: X 1797 x 64, raw values
>>> split = preprocess(data.X, remove_item_mean=True, whiten="zca")
>>> split.train.shape[1], round(float(split.cov.trace()), 6)
(64, 64.0)

Spec strings: ``digits``, ``lfw``, ``patches:P[:N]``, ``mnist:PATH``,
``fashion-mnist:PATH``, ``cifar10:PATH``, ``cifar10-rgb:PATH``, ``npy:PATH``,
``npz:PATH[:KEY]``; ``gaussian`` is parsed by :func:`parse_spec` but is the simulations'
synthetic source, not a data set.
"""

from .errors import WHERE_TO_GET, DatasetError
from .loaders import Dataset, load_dataset
from .preprocessing import Split, prepare, preprocess
from .specs import SPEC_KINDS, accepted_specs, parse_spec

__all__ = [
    "Dataset",
    "DatasetError",
    "SPEC_KINDS",
    "Split",
    "WHERE_TO_GET",
    "accepted_specs",
    "load_dataset",
    "parse_spec",
    "prepare",
    "preprocess",
]
