r"""The run configuration: ONE table of options, read by the CLI, the sweep specs, the figures and the API.

A run of ``twolayer train`` (one autoencoder trained at one size and compared with the
theory) is described by a :class:`RunConfig`. Its fields, their types, defaults, accepted
values and help texts come from :data:`OPTIONS`, built from the library's own constants
(activations, methods, optimisers, schedules, data kinds). From that table:

* ``twolayer train`` gets one flag per option (``batch_size`` -> ``--batch-size``,
  booleans as ``--flag`` / ``--no-flag``), with its default and help (:func:`add_arguments`);
* a sweep spec accepts every option as a key of ``[grid]`` or ``[defaults]``, and the results
  store gets one column per option (:mod:`twolayer.sweep`);
* the Python API takes the same names: ``RunConfig(d=64, rate=0.5)``, then
  :func:`twolayer.run` (``run(config) -> record``).

So a new option is added here once. Example:

>>> from twolayer.config import RunConfig
>>> cfg = RunConfig(rate=0.5)
>>> cfg.d, cfg.code_size(), cfg.method, cfg.optimizer, cfg.batch_size
(256, 128, 'population', 'sgd', None)
>>> RunConfig(data="digits", rate=0.25).method
'samples'
>>> RunConfig(rate=0.5, optimizer="lbfgs")
Traceback (most recent call last):
ValueError: optimizer: expected one of sgd, momentum, adam; got 'lbfgs'

Defaults that depend on other options are resolved when the configuration is built (and
stored resolved): ``method`` (population for the Gaussian source, samples for a data set),
``parametrization``, ``optimizer`` and ``schedule`` (per method), ``d`` (256 for the Gaussian
source; a data set's own dimension, so None until the data is read). Options that do not
apply to the run's source (``spectrum`` for a data set, ``whiten`` for the Gaussian source,
``batch_size`` for the population method, ...) are refused when given, and None otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .activations import ACTIVATIONS
from .data_decoders import BASES
from .simulations.model import INITS, PARAMETRIZATIONS, STARTS, THEORY_INIT_PARAMETRIZATIONS
from .simulations.optim import DEFAULT_LR, DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, OPTIMIZERS, SCHEDULES
from .simulations.training import DTYPES, METHODS, check_penalties

#: default input dimension of the Gaussian source and the structured sources.
DEFAULT_D = 256
#: decoders after the code (structured sources; see :mod:`twolayer.theory.priors` and
#: :mod:`twolayer.simulations.amp`); ``amp:L`` takes its number of layers L >= 1.
DECODERS = ("linear", "denoiser", "learned-denoiser", "bayes", "amp:L")
DECODER_BASES = BASES
#: the most layers of an ``amp:L`` decoder.
MAX_AMP_LAYERS = 50


def decoder_layers(spec: str) -> int | None:
    """L of an ``amp:L`` decoder spec, None for the other decoders; ValueError for a bad spec.

    Parameters
    ----------
    spec : str
        A decoder: one of :data:`DECODERS`, with ``amp:L`` written with its L (1 .. 50).

    Returns
    -------
    int or None
        The number of layers of ``amp:L``; None for linear, denoiser, learned-denoiser and bayes.

    Raises
    ------
    ValueError
        An unknown decoder, or an L that is not an integer in 1 .. 50.

    Examples
    --------
    >>> decoder_layers("amp:4"), decoder_layers("bayes")
    (4, None)
    """
    text = str(spec).strip().lower()
    if text in DECODERS[:-1]:
        return None
    if text.startswith("amp:"):
        try:
            layers = int(text[4:])
        except ValueError:
            layers = 0
        if 1 <= layers <= MAX_AMP_LAYERS:
            return layers
        raise ValueError(f"amp:L takes an integer number of layers L in 1 .. {MAX_AMP_LAYERS}, got {spec!r}")
    raise ValueError(f"expected one of {', '.join(DECODERS)}; got {spec!r}")


def _decoder_spec(text: str) -> str:
    decoder_layers(text)
    return text.lower()


# ----------------------------------------------------------------------------- value kinds
# Each kind turns a Python/TOML value (``check``) or a command-line string (``from_text``) into
# the normalised value, or raises ValueError saying what is accepted.
@dataclass(frozen=True)
class Integer:
    """An integer option with a lower bound.

    Parameters
    ----------
    minimum : int
        The smallest accepted value (inclusive).

    Examples
    --------
    >>> Integer(1).check(3), Integer(1).from_text(" 7 ")
    (3, 7)
    """

    minimum: int

    @property
    def accepts(self) -> str:
        """What is accepted, for messages: ``"an integer >= MINIMUM"``."""
        return f"an integer >= {self.minimum}"

    def check(self, value):
        """The value as an ``int``, or ValueError.

        Parameters
        ----------
        value : int
            A Python ``int`` (``bool``, ``float`` and other types, numpy integers included, are refused).

        Returns
        -------
        int
            ``value`` itself.

        Raises
        ------
        ValueError
            If ``value`` is not an ``int`` or is below ``minimum``.
        """
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected {self.accepts}, got {value!r}")
        if value < self.minimum:
            raise ValueError(f"expected {self.accepts}, got {value!r}")
        return int(value)

    def from_text(self, text: str):
        """The value of a command-line string, or ValueError.

        Parameters
        ----------
        text : str
            Read with ``int(text)`` (surrounding spaces allowed; ``"2.0"`` is refused).

        Returns
        -------
        int
            The integer, checked by :meth:`check`.

        Raises
        ------
        ValueError
            If ``text`` is not an integer or the integer is below ``minimum``.
        """
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected {self.accepts}, got {text!r}") from None
        return self.check(value)


@dataclass(frozen=True)
class Number:
    """A real option in the open interval (``low``, ``high``), or [``low``, ``high``) with ``closed``.

    Parameters
    ----------
    low : float
        Lower bound, exclusive unless ``closed`` (default 0).
    high : float
        Exclusive upper bound (default ``math.inf``: any finite number above ``low``).
    closed : bool
        Whether ``low`` itself is accepted (default False).

    Examples
    --------
    >>> Number().check(2), Number(0.0, 1.0).from_text("0.25"), Number(closed=True).check(0)
    (2.0, 0.25, 0.0)
    """

    low: float = 0.0
    high: float = math.inf  # exclusive bounds: (low, high)
    closed: bool = False  # [low, high)

    @property
    def accepts(self) -> str:
        """What is accepted, for messages (``"a finite number > LOW"`` or ``"a number strictly between ..."``)."""
        if math.isinf(self.high):
            return f"a finite number {'>=' if self.closed else '>'} {self.low:g}"
        if self.closed:
            return f"a number >= {self.low:g} and < {self.high:g}"
        return f"a number strictly between {self.low:g} and {self.high:g}"

    def check(self, value):
        """The value as a ``float``, or ValueError.

        Parameters
        ----------
        value : int or float
            A Python ``int`` or ``float`` (or a subclass such as ``numpy.float64``); ``bool`` is refused.

        Returns
        -------
        float
            ``float(value)``.

        Raises
        ------
        ValueError
            If ``value`` is not a number, is not finite, or is not strictly between ``low`` and ``high``.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected {self.accepts}, got {value!r}")
        x = float(value)
        if not (math.isfinite(x) and (self.low < x or (self.closed and x == self.low)) and x < self.high):
            raise ValueError(f"expected {self.accepts}, got {value!r}")
        return x

    def from_text(self, text: str):
        """The value of a command-line string, or ValueError.

        Parameters
        ----------
        text : str
            Read with ``float(text)``.

        Returns
        -------
        float
            The number, checked by :meth:`check`.

        Raises
        ------
        ValueError
            If ``text`` is not a number or the number is not accepted by :meth:`check`.
        """
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected {self.accepts}, got {text!r}") from None
        return self.check(value)


@dataclass(frozen=True)
class Choice:
    """An option with a fixed set of lower-case string values (``from_text`` is :meth:`check`).

    Parameters
    ----------
    choices : tuple of str
        The accepted values, in lower case.

    Examples
    --------
    >>> Choice(("sgd", "adam")).check(" Adam ")
    'adam'
    """

    choices: tuple

    @property
    def accepts(self) -> str:
        """What is accepted, for messages: ``"one of A, B, ..."``."""
        return "one of " + ", ".join(self.choices)

    def check(self, value):
        """The value stripped and lower-cased, or ValueError.

        Parameters
        ----------
        value : str
            One of ``choices``, in any case, surrounding spaces ignored.

        Returns
        -------
        str
            The matching entry of ``choices``.

        Raises
        ------
        ValueError
            If ``value`` is not a string or not one of ``choices``.
        """
        if not isinstance(value, str) or value.strip().lower() not in self.choices:
            raise ValueError(f"expected {self.accepts}; got {value!r}")
        return value.strip().lower()

    from_text = check


@dataclass(frozen=True)
class Boolean:
    """A true/false option (``accepts`` is the text ``"true or false"``).

    Examples
    --------
    >>> Boolean().check(True), Boolean().from_text("No")
    (True, False)
    """

    accepts = "true or false"

    def check(self, value):
        """The value itself when it is a ``bool``, else ValueError.

        Parameters
        ----------
        value : bool
            ``True`` or ``False`` (``0``, ``1`` and strings are refused).

        Returns
        -------
        bool
            ``value``.

        Raises
        ------
        ValueError
            If ``value`` is not a ``bool``.
        """
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    def from_text(self, text: str):
        """The value of a command-line string, or ValueError.

        Parameters
        ----------
        text : str
            ``true``, ``yes``, ``1`` or ``false``, ``no``, ``0`` (any case, surrounding spaces ignored).

        Returns
        -------
        bool
            True or False.

        Raises
        ------
        ValueError
            For any other text.
        """
        low = text.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Text:
    """A string checked by ``normalise`` (str -> str, raising ValueError).

    ``from_text`` is :meth:`check`.

    Parameters
    ----------
    accepts : str
        What is accepted, for messages.
    normalise : callable
        Maps the stripped string to its normalised form, or raises ValueError.

    Examples
    --------
    >>> Text("a word", str.upper).check(" abc ")
    'ABC'
    """

    accepts: str
    normalise: Callable[[str], str]

    def check(self, value):
        """The stripped value passed through ``normalise``, or ValueError.

        Parameters
        ----------
        value : str
            A non-blank string.

        Returns
        -------
        str
            ``normalise(value.strip())``.

        Raises
        ------
        ValueError
            If ``value`` is not a string or is blank, or as raised by ``normalise``.
        """
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected {self.accepts}; got {value!r}")
        return self.normalise(value.strip())

    from_text = check


def _data_spec(text: str) -> str:
    from .data.specs import parse_spec
    from .theory.priors import parse_source

    if parse_source(text) is not None:  # a structured source (checks P)
        return text.lower()
    parse_spec(text)  # syntax only (kind, patch sizes); files are opened by the run
    return text


def _gaussian_given_support(data) -> bool:
    from .theory.priors import parse_source

    return parse_source(str(data))[0].is_gaussian_mixture


def source_kind(data) -> str:
    """"gaussian", "structured" (an i.i.d. law of :mod:`twolayer.theory.priors`) or "data" (a data set).

    Parameters
    ----------
    data : str or None
        A ``data`` option value; None and ``gaussian`` (any case, surrounding spaces ignored) are the Gaussian source.

    Returns
    -------
    str
        "gaussian", "structured" when :func:`~twolayer.theory.priors.parse_source` names a law, else "data".

    Raises
    ------
    ValueError
        A structured-source spec with a bad argument (from :func:`~twolayer.theory.priors.parse_source`).

    Examples
    --------
    >>> source_kind(None), source_kind("bernoulli-gaussian:0.1"), source_kind("digits")
    ('gaussian', 'structured', 'data')
    """
    from .theory.priors import parse_source

    if data is None or str(data).strip().lower() == "gaussian":
        return "gaussian"
    return "structured" if parse_source(str(data)) is not None else "data"


def _spectrum(text: str) -> str:
    from .spectra import normalise_spectrum

    return normalise_spectrum(text)


def _output_path(text: str) -> str:
    import string

    if not text.lower().endswith(".npz"):
        raise ValueError(f"expected a file name ending in .npz, got {text!r}")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    unknown = [f for f in fields if f not in OPTIONS]
    if unknown:
        raise ValueError(f"{text!r} names {{{unknown[0]}}}, which is not an option; placeholders are option names "
                         "such as {rate} or {seed}")
    return text


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Option:
    """One run option: ``name`` (Python, spec key, SQL column; ``--name-with-dashes`` on the command
    line), its value ``kind``, ``default``, ``help``, the ``group`` it is listed under, which runs
    it ``applies`` to ("all", "gaussian", "structured", "data", "samples") and whether it is part of the run's
    ``identity`` (False for output-only options: the same run written to another file).

    Parameters
    ----------
    name : str
        The option's name (a Python identifier).
    kind : Integer, Number, Choice, Boolean or Text
        The value kind that checks and parses values.
    default : object
        The default when the option applies and is not given (None: none, or resolved from other options).
    help : str
        The help text.
    group : str
        A key of :data:`GROUPS`.
    applies : str
        "all" (default), "gaussian", "structured", "data" or "samples" (method samples only).
    identity : bool
        Whether the option identifies the run (default True).
    default_text : str or None
        The default as shown in help texts, for defaults resolved from other options (default None).

    Examples
    --------
    >>> OPTIONS["batch_size"].flag, OPTIONS["batch_size"].sql_type, OPTIONS["batch_size"].describe_default()
    ('--batch-size', 'INTEGER', '256')
    """

    name: str
    kind: Any
    default: Any
    help: str
    group: str
    applies: str = "all"  # or "gaussian", "structured", "data", "samples" (method samples only)
    identity: bool = True
    default_text: str | None = None  # for defaults resolved from other options

    @property
    def flag(self) -> str:
        """The command-line flag: ``--`` and the name with ``_`` replaced by ``-``."""
        return "--" + self.name.replace("_", "-")

    @property
    def sql_type(self) -> str:
        """The results-store column type: INTEGER (Integer, Boolean), REAL (Number) or TEXT (the others)."""
        return {Integer: "INTEGER", Number: "REAL", Boolean: "INTEGER"}.get(type(self.kind), "TEXT")

    @property
    def accepts(self) -> str:
        """What the option accepts, for messages (the ``accepts`` of its ``kind``)."""
        return self.kind.accepts

    def describe_default(self) -> str:
        """The default as shown in help texts and the Markdown table.

        Returns
        -------
        str
            ``default_text`` when set; else "none" for None, "true"/"false" for a bool, ``str(default)`` otherwise.
        """
        if self.default_text is not None:
            return self.default_text
        return "none" if self.default is None else str(self.default).lower() if isinstance(self.default, bool) else str(self.default)

    def check(self, value):
        """The normalised value (None stays None), or ValueError naming the option.

        Parameters
        ----------
        value : object
            A Python/TOML value, or None.

        Returns
        -------
        object
            None for None, else the value normalised by ``kind.check``.

        Raises
        ------
        ValueError
            If ``kind`` refuses the value; the message starts with ``"NAME: "``.
        """
        if value is None:
            return None
        try:
            return self.kind.check(value)
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None


#: option groups, in the order the command line lists them.
GROUPS = {
    "size": "size (give --rate or --n)",
    "source": "source",
    "model": "model",
    "training": "training",
    "data": "data sets and structured sources (with --data SPEC)",
    "output": "output",
}

_OPTIONS = [
    # -- size
    Option("d", Integer(2), None, "input dimension", "size",
           default_text=f"{DEFAULT_D}; a data set's own dimension"),
    Option("rate", Number(), None, "rate r = n/d; the run uses n = round(r d)", "size"),
    Option("n", Integer(1), None, "code size n (instead of rate)", "size"),
    # -- source
    Option("data", Text("gaussian, a structured source or a data set spec", _data_spec), "gaussian",
           "source: gaussian; a structured source with i.i.d. coordinates (bernoulli-gaussian:P, "
           "sparse-rademacher:P, uniform, laplace, each optionally :rotated); or a data set (digits, "
           "patches:P[:N], lfw, mnist:PATH, npz:PATH[:KEY], ...)", "source"),
    Option("spectrum", Text("isotropic, powerlaw:ALPHA or FILE.npy", _spectrum), None,
           "Gaussian source spectrum: isotropic, powerlaw:ALPHA, or a .npy file of eigenvalues or a covariance",
           "source", applies="gaussian", default_text="isotropic"),
    # -- model
    Option("activation", Choice(tuple(ACTIVATIONS)), "sign", "activation sigma of the code", "model"),
    Option("parametrization", Choice(PARAMETRIZATIONS), None, "decoder parametrisation", "model",
           default_text="optimal-decoder for population, untied for samples"),
    Option("init", Choice(INITS), "gaussian", "initialisation of the encoder B (flat: rows of a randomised "
           "Hadamard matrix, entries +-1/sqrt(d); needs d a power of 2 and n <= d; theory: the theory encoder for "
           "the source's covariance, 2000 Adam steps on the exact Gaussian risk, with its optimal decoder: a start "
           "at the Gaussian optimum, parametrization untied or optimal-decoder)", "model"),
    Option("init_scale", Number(), 1.0, "eps multiplying the initial B and A: B(0) = eps G / sqrt(d) for init gaussian",
           "model", applies="gaussian"),
    Option("start", Choice(STARTS), "independent",
           "start of a trained decoder (parametrization untied): independent (its own draw) or tied (A(0) = B(0)^T, "
           "the start of the exact linear learning curves); stored as None for the other parametrisations",
           "model", applies="gaussian"),
    Option("decoder", Text(", ".join(DECODERS), _decoder_spec), "linear",
           "decoder after the code: linear (trained A; least squares on a data set), denoiser (the law's MMSE "
           "denoiser on the best linear reconstruction), learned-denoiser (isotonic regression per coordinate, no "
           "knowledge of the law), bayes (GLM-VAMP run to its fixed point: the Bayes benchmark for the encoder), "
           "amp:L (L unrolled GLM-VAMP passes with trainable precisions; on a data set with a prior learned from "
           "the training rows). denoiser and bayes need a law: not for data sets",
           "model", applies="structured+data"),
    Option("decoder_steps", Integer(0), 200,
           "Adam steps training the amp:L decoder's 4L precisions on fresh samples, or on the training rows of a "
           "data set (0: as initialised); stored as None for the other decoders", "model", applies="structured+data"),
    Option("decoder_basis", Choice(DECODER_BASES), "pca",
           "orthonormal basis of a data set's coordinate-wise decoders and learned prior: pca (training "
           "covariance), dct (2-D DCT of the item image), pixel; stored as None for the linear decoder",
           "model", applies="data"),
    # -- training
    Option("method", Choice(METHODS), None,
           "population: gradient descent on the exact Gaussian risk (for bernoulli-gaussian:P, exact given "
           "fresh supports); samples: minibatches of fresh samples", "training",
           default_text="population for gaussian, samples for the other sources"),
    Option("optimizer", Choice(OPTIMIZERS), None, "optimiser", "training",
           default_text="sgd for population on gaussian, adam otherwise"),
    Option("lr", Number(), None, "base learning rate", "training",
           default_text="per method and optimizer (the record gives it)"),
    Option("schedule", Choice(SCHEDULES), None, "learning-rate schedule", "training",
           default_text="constant for population, cosine for samples"),
    Option("steps", Integer(1), 2000, "step budget", "training"),
    Option("time", Number(), None,
           "run to gradient-flow time t of L = E|x - x_hat|^2 / 2 instead of a step budget: steps = round(t / (2 lr)) "
           "(population, sgd, constant schedule; theory/dynamics.md)", "training", applies="gaussian",
           default_text="none: steps"),
    Option("noise", Number(closed=True), 0.0,
           "denoising: input-noise variance tau^2, relative to the per-coordinate variance (the encoder sees "
           "x + tau eps, the target is x)", "training", applies="gaussian"),
    Option("weight_decay", Number(closed=True), 0.0,
           "gamma: the objective is d R + gamma (|A|_F^2 + |B|_F^2) on the standardised source (not with "
           "parametrization optimal-decoder)", "training", applies="gaussian"),
    Option("l1", Number(closed=True), 0.0,
           "lambda of the L1 code penalty lambda E sum_i |sigma(b_i . x)| added to d R (exact for population; not for "
           "sign: |sign| = 1)", "training", applies="gaussian"),
    Option("contractive", Number(closed=True), 0.0,
           "lambda of the contractive penalty lambda E |d sigma(Bx)/dx|_F^2 = lambda sum_i E[sigma'(b_i . x)^2] |b_i|^2 "
           "added to d R (exact for population; linear, relu, erf, tanh)", "training", applies="gaussian"),
    Option("batch_size", Integer(1), 256, "minibatch size", "training", applies="samples"),
    Option("tol", Number(), None, "stop when the relative improvement over 100 steps falls below this", "training",
           applies="gaussian"),
    Option("dtype", Choice(DTYPES), "float32", "training precision", "training"),
    Option("seed", Integer(0), 0, "seed of the initialisation, the samples and the data split", "training"),
    # -- data sets
    Option("remove_item_mean", Boolean(), False, "subtract each item's own mean (image DC)", "data", applies="data"),
    Option("contrast_normalize", Boolean(), False, "divide each item by its own standard deviation", "data",
           applies="data"),
    Option("whiten", Choice(("none", "pca", "zca")), "none", "whitening (statistics from the training rows)", "data",
           applies="data"),
    Option("test_fraction", Number(0.0, 1.0), 0.2, "held-out fraction of the data set", "data", applies="data"),
    Option("validation", Number(0.0, 1.0, closed=True), 0.0,
           "early stopping: this fraction of the training rows is held out, the encoder is trained on the rest "
           "and the one of the best validation risk (least-squares decoder on the other rows, checked every 100 "
           "steps) is kept; 0: off (the last encoder)", "data", applies="data"),
    Option("max_items", Integer(1), None, "use at most this many items of the data set", "data", applies="data",
           default_text="all"),
    Option("controls", Boolean(), True,
           "run the controls (Gaussian twin, theory encoder) and the model twin (bc-twin, n_train >= 32 d): 70-80% of a "
           "data run's time", "data", applies="data"),
    Option("gmm_optimum", Boolean(), False,
           "with the controls (sign code): also predict with the best sign code for a 4-component Gaussian mixture "
           "with means fitted to the training rows (gmm_optimum_risk), and measure that code on the test rows "
           "(gmm_optimum_heldout_risk; 10 s to minutes per run; on in twolayer universality)", "data", applies="data"),
    Option("model_training", Boolean(), False,
           "with the controls (sign code): also predict where the default training stops on the brightness x "
           "contrast model of the training rows: the same Adam, schedule, smoothing and start on the model's exact "
           "loss (model_training_risk), and measure that code on the test rows (model_training_heldout_risk; "
           "d = n = 64: about 50 s, d = n = 256: about 15 minutes; needs n_train >= 32 d; on in twolayer universality)", "data", applies="data"),
    Option("theory_steps", Integer(1), None,
           "population steps of the theory encoder (control; Adam on the exact Gaussian risk)", "data",
           applies="data", default_text="steps"),
    Option("eval_samples", Integer(100), 8000,
           "fresh samples (or supports, for bernoulli-gaussian) behind the Monte Carlo risks", "data",
           applies="structured"),
    # -- output
    Option("orbits", Integer(0), 0,
           "sign code: also predict with the exact risk of the best sign-flip orbit encoder with at least this many "
           "orbits for the source's covariance (predicted_risk_orbit: an achievable upper bound on the Gaussian "
           "optimum, within 0.8 % of it on measured spiked spectra up to n = 512, at least 1.5 % above it at "
           "n = 1024, where predicted_risk is up to 57 % optimistic; seconds to a minute per run; theory/orbits.md); "
           "0: off", "output", applies="gaussian+data"),
    Option("record_spectrum", Boolean(), False, "list the source's eigenvalues in the record", "output"),
    Option("theory_curve", Boolean(), False,
           "record the learning curve beside its prediction, on the isotropic source with method population, sgd "
           "and a constant schedule: activation linear with parametrization untied (exact for start tied, a "
           "small-init approximation for start independent), or activation sign with the optimal decoder (the "
           "spectral flow, derived); theory/dynamics.md", "output",
           applies="gaussian"),
    Option("save_params", Text("a file name ending in .npz", _output_path), None,
           "save the trained A, B, the start B0 and the record to this .npz file ({rate}, {seed}, ...: "
           "the run's options)", "output", identity=False),
]

#: THE table: option name -> :class:`Option`.
OPTIONS: dict[str, Option] = {o.name: o for o in _OPTIONS}


def code_size(rate: float, d: int) -> int:
    """n = round(rate d), the code size of a run at rate r; ValueError when it is 0.

    Python's ``round``: a tie goes to the even integer (``code_size(0.5, 5)`` is 2).

    Parameters
    ----------
    rate : float
        The rate r = n/d (converted with ``float``; not otherwise checked).
    d : int
        The input dimension (converted with ``int``).

    Returns
    -------
    int
        n = round(rate * d), at least 1.

    Raises
    ------
    ValueError
        If round(rate * d) < 1, or rate * d overflows float64.

    Examples
    --------
    >>> code_size(0.3, 17)    # round(5.1)
    5
    """
    product = float(rate) * int(d)
    if not math.isfinite(product):
        raise ValueError(f"rate = {rate:g} with d = {d} gives n = rate * d = {product:g}, beyond float64: n is the "
                         "number of neurons and must fit in memory; give a smaller rate")
    n = int(round(product))
    if n < 1:
        raise ValueError(f"rate = {rate:g} with d = {d} gives n = round(rate * d) = 0; need rate > {0.5 / d:g}")
    return n


# ----------------------------------------------------------------------------- the configuration
def _applies(option: Option, kind: str, method: str) -> bool:
    scopes = option.applies.split("+")
    return "all" in scopes or kind in scopes or ("samples" in scopes and method == "samples")


_SCOPE = {"gaussian": "the Gaussian source", "data": "data sets", "samples": "method samples",
          "structured": "structured sources (bernoulli-gaussian:P, ...)",
          "structured+data": "structured sources and data sets", "gaussian+data": "the Gaussian source and data sets"}
#: decoders that need the source's law (a data set has none).
LAW_DECODERS = ("denoiser", "bayes")


def _resolve(values: dict) -> dict:
    """Normalised, cross-checked values with their defaults resolved (see the module docstring)."""
    v = {name: OPTIONS[name].check(values.get(name)) for name in OPTIONS}
    given = sorted(name for name, value in values.items() if value is not None)
    kind = source_kind(v["data"])
    gaussian = kind == "gaussian"
    v["data"] = "gaussian" if gaussian else v["data"]
    source = {"gaussian": "the Gaussian source", "data": f"a data set (data = {v['data']!r})",
              "structured": f"a structured source (data = {v['data']!r})"}[kind]
    if (v["rate"] is None) == (v["n"] is None):
        raise ValueError("give exactly one of rate (n = round(rate * d)) and n")
    v["method"] = v["method"] or ("population" if gaussian else "samples")
    if kind == "data" and v["method"] != "samples":
        raise ValueError(f"{source} is trained on its samples: method must be samples, got {v['method']!r}")
    if kind == "structured" and v["method"] == "population" and not _gaussian_given_support(v["data"]):
        raise ValueError(f"method population on {source} needs a law that is Gaussian given its support "
                         "(bernoulli-gaussian:P); use method samples")
    for name in given:
        if not _applies(OPTIONS[name], kind, v["method"]):
            raise ValueError(f"{name} applies only to {_SCOPE[OPTIONS[name].applies]}; "
                             f"it cannot be used with {source}, method {v['method']}")
    for name, option in OPTIONS.items():  # defaults of the options that apply; None for the rest
        if not _applies(option, kind, v["method"]):
            v[name] = None
        elif v[name] is None:
            v[name] = option.default
    v["d"] = DEFAULT_D if kind != "data" and v["d"] is None else v["d"]
    if kind == "data" and v["decoder"] in LAW_DECODERS:
        raise ValueError(f"decoder {v['decoder']} needs the law of the source, and {source} has none; "
                         "use linear, learned-denoiser or amp:L (a prior learned from the training rows)")
    if kind != "gaussian" and (v["decoder"] == "bayes" or decoder_layers(v["decoder"]) is not None):
        if v["activation"] != "sign":
            raise ValueError(f"decoder {v['decoder']} decodes a 1-bit code: it needs activation sign, "
                             f"got {v['activation']!r}")
    if kind != "gaussian" and not str(v["decoder"]).startswith("amp:"):
        v["decoder_steps"] = None  # only amp:L trains; None (not refused) so that one sweep can mix decoders
    if kind == "data" and v["decoder"] == "linear":
        v["decoder_basis"] = None  # as decoder_steps: only the nonlinear decoders work in a basis
    if kind == "data" and v["gmm_optimum"] and not v["controls"]:
        raise ValueError("gmm_optimum needs the controls (it starts from the theory encoder); drop --no-controls "
                         "or add --no-gmm-optimum")
    if kind == "data" and v["model_training"] and not v["controls"]:
        raise ValueError("model_training needs the controls (it corrects by the Gaussian twin's rows); drop "
                         "--no-controls or add --no-model-training")
    if v["orbits"] and v["activation"] != "sign":
        v["orbits"] = 0  # derived for the sign code only; 0 (not refused) so that a sweep can mix codes
    if kind == "data" and v["gmm_optimum"] and v["activation"] != "sign":
        v["gmm_optimum"] = False  # derived for the sign code only; False (not refused) so that a sweep can mix codes
    if kind == "data" and v["model_training"] and v["activation"] != "sign":
        v["model_training"] = False  # as gmm_optimum
    v["parametrization"] = v["parametrization"] or ("optimal-decoder" if gaussian and v["method"] == "population"
                                                    else "untied")
    if v["parametrization"] == "optimal-decoder" and not (gaussian and v["method"] == "population"):
        raise ValueError("parametrization optimal-decoder needs the exact Gaussian population risk; use untied "
                         "(the decoder is trained, and refitted at the end for a Gaussian source) or tied")
    if kind == "data" and v["parametrization"] != "untied":
        raise ValueError(f"{source} is trained untied (decoder refitted by least squares); "
                         f"got parametrization {v['parametrization']!r}")
    # plain gradient descent at the population rate diverges on the trained decoder of a structured source
    v["optimizer"] = v["optimizer"] or ("adam" if kind == "structured" else DEFAULT_OPTIMIZER[v["method"]])
    v["schedule"] = v["schedule"] or DEFAULT_SCHEDULE[v["method"]]
    if v["d"] is not None and v["rate"] is not None:
        code_size(v["rate"], v["d"])  # n >= 1
    _resolve_dynamics(v, given)
    if v["init"] == "theory" and v["parametrization"] not in THEORY_INIT_PARAMETRIZATIONS:
        raise ValueError(f"init theory starts at the theory encoder and its optimal decoder: it needs parametrization "
                         f"{' or '.join(THEORY_INIT_PARAMETRIZATIONS)}, got {v['parametrization']!r}")
    if v["init"] == "theory" and v["theory_curve"]:
        raise ValueError("theory_curve predicts a learning curve from a random start; init theory starts at the "
                         "optimum (use init gaussian)")
    if v["init"] == "flat" and v["d"] is not None:
        n = v["n"] if v["n"] is not None else code_size(v["rate"], v["d"])
        if v["d"] & (v["d"] - 1) or n > v["d"]:
            raise ValueError(f"init flat takes rows of a Hadamard matrix: it needs d a power of 2 and n <= d; "
                             f"got d = {v['d']}, n = {n} (use init orthogonal or gaussian)")
    return v


#: what a predicted learning curve needs (``theory_curve``), per activation: option -> required value.
CURVE_NEEDS = {
    activation: {"parametrization": parametrization, "spectrum": None, "method": "population", "optimizer": "sgd",
                 "schedule": "constant"}
    for activation, parametrization in (("linear", "untied"), ("sign", "optimal-decoder"))
}


def _resolve_dynamics(v: dict, given: list) -> None:
    """start, weight_decay, time and theory_curve against the parametrisation and the optimiser (in place)."""
    if v["parametrization"] != "untied" and v["start"] is not None:
        if "start" in given:
            raise ValueError(f"start applies to a trained decoder (parametrization untied), got parametrization "
                             f"{v['parametrization']!r}; add parametrization = untied")
        v["start"] = None
    if v["weight_decay"] and v["parametrization"] == "optimal-decoder":
        raise ValueError("weight_decay penalises the trained parameters; with parametrization optimal-decoder the "
                         "decoder is not one of them: use parametrization untied or tied")
    if v["time"] is not None:
        if (v["method"], v["optimizer"], v["schedule"]) != ("population", "sgd", "constant"):
            raise ValueError("time is the gradient-flow time of plain gradient descent: it needs method population, "
                             f"optimizer sgd and schedule constant; got {v['method']}, {v['optimizer']}, {v['schedule']}")
        lr = v["lr"] if v["lr"] is not None else DEFAULT_LR[("population", "sgd")]
        steps = max(1, round(v["time"] / (2.0 * lr)))
        if "steps" in given and v["steps"] != steps:  # a resolved configuration gives both, and they agree
            raise ValueError(f"give steps or time, not both (time {v['time']:g} at lr {lr:g} sets steps = "
                             f"round(time / (2 lr)) = {steps}, and steps is {v['steps']})")
        v["steps"] = steps
    if v["l1"] or v["contractive"]:
        from .activations import get_activation

        check_penalties(get_activation(v["activation"]), v["parametrization"], v["l1"], v["contractive"])
    if v["theory_curve"]:
        if v["activation"] not in CURVE_NEEDS:
            raise ValueError(f"theory_curve: the learning curve is predicted for activation linear or sign, got "
                             f"{v['activation']!r} (theory/dynamics.md)")
        needs = CURVE_NEEDS[v["activation"]]
        wrong = [f"{k} = {v[k]}" for k, need in needs.items()
                 if v[k] != need and not (k == "spectrum" and v[k] == "isotropic")]
        if wrong:
            need = ", ".join(f"{k} {'isotropic' if x is None else x}" for k, x in needs.items())
            raise ValueError(f"theory_curve: the {v['activation']} autoencoder's learning curve is predicted for "
                             f"{need}; got {', '.join(wrong)} (theory/dynamics.md)")
        if v["activation"] == "sign" and v["noise"]:
            raise ValueError("theory_curve: the sign autoencoder's spectral flow is derived without input noise; "
                             "use noise = 0")


@dataclass(frozen=True)
class _Base:
    def __post_init__(self):
        given = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        for name, value in _resolve(given).items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_given", given)

    # -- derived
    @property
    def source_kind(self) -> str:
        """"gaussian", "structured" or "data" (see :func:`source_kind`).

        Examples
        --------
        >>> RunConfig(rate=0.5, data="uniform").source_kind
        'structured'
        """
        return source_kind(self.data)

    @property
    def is_data(self) -> bool:
        """True when the source is a data set (neither ``gaussian`` nor a structured law)."""
        return self.source_kind == "data"

    def code_size(self, d: int | None = None) -> int:
        """n for input dimension ``d`` (default: the configuration's own ``d``).

        Parameters
        ----------
        d : int or None
            The input dimension; None (default): the configuration's ``d``. Not used when ``n`` was given.

        Returns
        -------
        int
            The configuration's ``n`` when given, else :func:`code_size` (``rate``, ``d``).

        Raises
        ------
        ValueError
            If both ``d`` and the configuration's ``d`` are None (a data set not yet read), or n would be 0.

        Examples
        --------
        >>> RunConfig(rate=0.5).code_size(), RunConfig(rate=0.5).code_size(10), RunConfig(n=3).code_size(10)
        (128, 5, 3)
        """
        d = self.d if d is None else d
        if d is None:
            raise ValueError("the input dimension is not known before the data set is read")
        return self.n if self.rate is None else code_size(self.rate, d)

    # -- conversions
    def to_dict(self) -> dict:
        """Every option -> its resolved value (None where it does not apply).

        Returns
        -------
        dict
            Option name -> value, for every entry of :data:`OPTIONS`, in table order.
        """
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """The options that identify the run (its key in a results store): output options left out.

        Returns
        -------
        dict
            :meth:`to_dict` without the options whose ``identity`` is False (``save_params``).
        """
        return {name: value for name, value in self.to_dict().items() if OPTIONS[name].identity}

    def replace(self, **changes) -> RunConfig:
        """A new configuration with ``changes`` applied (validated again).

        The changes are applied to the options as given, not as resolved: defaults that depend on
        other options are resolved again, and a change to None brings an option back to its default.

        Parameters
        ----------
        **changes
            Option name -> new value.

        Returns
        -------
        RunConfig
            The new configuration.

        Raises
        ------
        ValueError
            An unknown option name or an invalid combination (e.g. both ``rate`` and ``n``: give ``n=None``).

        Examples
        --------
        >>> RunConfig(rate=0.5).replace(d=16).code_size()
        8
        """
        return RunConfig.from_dict({**self._given, **changes})

    @classmethod
    def from_dict(cls, values: dict, where: str = "run") -> RunConfig:
        """Build from a dict (a sweep run, JSON); unknown keys raise ``ValueError`` naming the accepted ones.

        Parameters
        ----------
        values : dict
            Option name -> value (None: the default).
        where : str
            Prefix of the unknown-key message (default "run").

        Returns
        -------
        RunConfig
            The validated configuration.

        Raises
        ------
        ValueError
            An unknown key, or an invalid value or combination of values.

        Examples
        --------
        >>> RunConfig.from_dict({"rate": 0.25, "d": 8}).code_size()
        2
        """
        unknown = [k for k in values if k not in OPTIONS]
        if unknown:
            raise ValueError(f"{where}: unknown option {unknown[0]!r}; accepted: {', '.join(OPTIONS)}")
        return cls(**values)


#: A validated, frozen run configuration; one field per entry of :data:`OPTIONS` (same name,
#: default None = "resolve the default"). See the module docstring.
#: Built with keyword arguments (option name = value); ValueError for an invalid value, an option
#: that does not apply to the source, or an invalid combination (both or neither of rate and n, ...).
RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [(o.name, Any, dataclasses.field(default=None)) for o in _OPTIONS],
    bases=(_Base,),
    frozen=True,
    namespace={"__doc__": "A validated run configuration (fields and defaults: twolayer.config.OPTIONS).",
               "__module__": __name__},
)


# ----------------------------------------------------------------------------- command line
def help_text(option: Option) -> str:
    """``help (default: X)`` for ``--help`` (``%`` escaped for argparse).

    Parameters
    ----------
    option : Option
        The option.

    Returns
    -------
    str
        ``option.help`` and ``(default: ...)`` from :meth:`Option.describe_default`, each ``%`` doubled.

    Examples
    --------
    >>> help_text(OPTIONS["steps"])
    'step budget (default: 2000)'
    """
    return f"{option.help} (default: {option.describe_default()})".replace("%", "%%")


def argparse_type(option: Option):
    """An argparse ``type`` callable for ``option`` (errors become argparse's one-line usage errors).

    Parameters
    ----------
    option : Option
        The option.

    Returns
    -------
    callable
        str -> value through ``option.kind.from_text``, raising ``argparse.ArgumentTypeError`` instead of
        ValueError; its ``__name__`` is the option's name.

    Examples
    --------
    >>> argparse_type(OPTIONS["steps"])("50")
    50
    """
    import argparse

    def parse(text: str):
        try:
            return option.kind.from_text(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = option.name
    return parse


def add_arguments(parser, names=None, *, overrides: dict | None = None) -> None:
    """Add one flag per option of :data:`OPTIONS` (or of ``names``) to an argparse parser, in groups.

    Every flag defaults to None (= the option's default, resolved by :class:`RunConfig`), so
    that a run knows which options the user gave. ``overrides`` maps a name to extra
    ``add_argument`` keywords (e.g. ``nargs="+"`` for several rates).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser; one argument group per option group is added to it.
    names : iterable of str, optional
        Option names, keys of :data:`OPTIONS` (default: all, in table order).
    overrides : dict, optional
        Option name -> extra ``add_argument`` keywords (they replace the defaults set here).

    Returns
    -------
    None

    Raises
    ------
    KeyError
        If a name is not an option.
    """
    import argparse

    overrides = overrides or {}
    names = list(OPTIONS) if names is None else list(names)
    groups = {}
    for name in names:
        option = OPTIONS[name]
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(GROUPS[option.group])
        kwargs = dict(default=None, help=help_text(option), dest=name)
        if isinstance(option.kind, Boolean):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = argparse_type(option)
            kwargs["metavar"] = (
                "{" + ",".join(option.kind.choices) + "}" if isinstance(option.kind, Choice) else name.upper()
            )
        kwargs.update(overrides.get(name, {}))
        groups[option.group].add_argument(option.flag, **kwargs)


def from_arguments(args, names=None) -> dict:
    """The options the user gave on the command line (those not None) as a dict.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (from a parser set up by :func:`add_arguments`).
    names : iterable of str, optional
        Option names to read (default: all of :data:`OPTIONS`); a name missing from ``args`` is skipped.

    Returns
    -------
    dict
        Option name -> value, for the options whose value is not None.
    """
    names = list(OPTIONS) if names is None else list(names)
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def markdown_table() -> str:
    """The option table as Markdown (``simulations/README.md`` carries it; a test keeps the two equal).

    Returns
    -------
    str
        A header, a separator and one row per option (key, flag, accepted values, default, scope, meaning).
    """
    lines = ["| key | flag | accepted values | default | applies to | meaning |", "|---|---|---|---|---|---|"]
    scope = {"all": "every run", "gaussian": "Gaussian source", "data": "data sets", "samples": "method samples",
             "structured": "structured sources", "structured+data": "structured sources and data sets",
             "gaussian+data": "Gaussian source and data sets"}
    for o in OPTIONS.values():
        lines.append(f"| `{o.name}` | `{o.flag}` | {o.accepts} | {o.describe_default()} | {scope[o.applies]} | {o.help} |")
    return "\n".join(lines)
