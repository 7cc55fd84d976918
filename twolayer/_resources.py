"""Will a run fit in memory? One estimate, checked before a training allocates anything.

Every run (``twolayer train``, :func:`twolayer.run`, the sweeps, the figures) trains through
:func:`twolayer.simulations.train`, which calls :func:`check_memory` first, so a size that cannot
fit is refused in a second with a message naming the estimate and the memory available, instead
of failing minutes later inside NumPy or XLA. A size that fits but keeps a run silent for long
(setting up, compiling, the first chunk of steps) is announced by ``twolayer train`` with
:func:`large_run_note` before it starts.
"""

from __future__ import annotations

import math
import os

#: copies of each array a run holds at its peak: parameters, gradients and optimiser state while it
#: trains; A, B, B0, the kernels K and M and a factor of M while it is compared with the theory.
COPIES = 4
#: bytes per number: the comparison with the theory runs in float64 whatever the training dtype.
ITEM_BYTES = 8


def estimate_bytes(d: int, n: int) -> float:
    """About how many bytes a run with input dimension ``d`` and code size ``n`` needs at its peak.

    ``COPIES`` float64 copies of its n x d, n x n and d x d arrays (the encoder and decoder, the code's
    kernel, the source covariance). Measured at d = 2048, n = 4096: 1.44 GB above the interpreter
    for an estimate of 0.94 GB (the rest is JAX's compiler), so the estimate errs low: what it refuses
    cannot fit.

    Parameters
    ----------
    d, n : int
        Input dimension and code size.

    Returns
    -------
    float
        The estimate in bytes (inf beyond float64).

    Examples
    --------
    >>> estimate_bytes(1000, 1000) / 2**20    # 4 x 8 bytes x 3 x 10^6
    91.552734375
    """
    n, d = float(n), float(d)  # the sizes may be astronomical: inf, not an int of 600 digits
    return COPIES * ITEM_BYTES * (n * d + n * n + d * d)


def available_bytes() -> int | None:
    """The memory this process may still use: MemAvailable, capped by a cgroup (container) limit.

    Returns
    -------
    int or None
        Bytes; None when neither /proc/meminfo nor ``os.sysconf`` tells.
    """
    free = _meminfo_available()
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            free = None
    room = _cgroup_room()
    if room is not None:
        free = room if free is None else min(free, room)
    return free


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """cgroup v2 memory.max - memory.current, None without a limit."""
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as fh:
            return max(int(limit) - int(fh.read().strip()), 0)
    except (OSError, ValueError):
        return None


def human(nbytes: float) -> str:
    """Bytes in binary units, 3 significant digits.

    Parameters
    ----------
    nbytes : float
        A number of bytes.

    Returns
    -------
    str
        E.g. ``"298 GiB"``; "inf bytes" for inf.

    Examples
    --------
    >>> human(3 * 2**30), human(1.5 * 2**40)
    ('3 GiB', '1.5 TiB')
    """
    if not math.isfinite(nbytes):
        return "inf bytes"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def check_memory(d: int, n: int, *, available: int | None = None) -> None:
    """ValueError when a run of input dimension ``d`` and code size ``n`` cannot fit in memory.

    Parameters
    ----------
    d, n : int
        Input dimension and code size.
    available : int, optional
        Bytes available (default: :func:`available_bytes`; nothing is checked when that is unknown).

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If :func:`estimate_bytes` exceeds the memory available; the message names both.

    Examples
    --------
    >>> check_memory(256, 128, available=10**9)
    """
    available = available_bytes() if available is None else available
    need = estimate_bytes(d, n)
    if available is not None and need > available:
        size = f"about {human(need)} of memory" if math.isfinite(need) else "more memory than float64 can count"
        raise ValueError(
            f"a run with d = {_count(d)} and n = {_count(n)} needs {size} (its n x d, n x n and d x d float64 "
            f"arrays), but {human(available)} is available; use a smaller d or rate"
        )


#: a run is announced before it starts (:func:`large_run_note`) when it needs more memory than this
#: (d = 4096, n = 2048: 896 MiB, and a minute before the first output on two cores: set-up, one step,
#: the comparison with the theory) ...
LARGE_BYTES = 2**29
#: ... or when its first chunk of steps, before which nothing else can be shown, needs more floating-point
#: operations than this (about 10 s at :data:`NOMINAL_FLOPS`).
LARGE_FLOPS = 2e11
#: floating-point operations per second of the training steps on two CPU cores (measured: d = 1024,
#: n = 512, population, 0.10 s per step), for the rough time in the note; a GPU is much faster.
NOMINAL_FLOPS = 2e10


def step_flops(d: int, n: int, method: str, batch_size: int | None = None) -> float:
    """About how many floating-point operations one training step takes (forward and backward).

    Population (exact risk): the kernel of the code, n x n from B (n x d), and its solve, about
    6 n^2 d + 2 n^3; samples: the minibatch through both layers, about 6 b n d.

    Parameters
    ----------
    d, n : int
        Input dimension and code size.
    method : {"population", "samples"}
        The training method.
    batch_size : int or None, optional
        Samples per step of method "samples" (None: 256).

    Returns
    -------
    float
        The estimate.

    Examples
    --------
    >>> f"{step_flops(1024, 512, 'population'):.2g}", f"{step_flops(1024, 512, 'samples', 256):.2g}"
    ('1.9e+09', '8.1e+08')
    """
    n, d = float(n), float(d)
    if method == "population":
        return 6.0 * n * n * d + 2.0 * n ** 3
    return 6.0 * float(batch_size or 256) * n * d


def large_run_note(d: int, n: int, method: str, steps: int, batch_size: int | None = None,
                   chunk: int = 100) -> str | None:
    """A line to show before a run that takes long before its first progress: None for the others.

    The memory is checked first (:func:`check_memory`), so a run that cannot fit is refused with one
    line instead. A run is large when it needs more than :data:`LARGE_BYTES` of memory, or its first
    ``chunk`` steps (the progress is shown after them) more than :data:`LARGE_FLOPS` operations.

    Parameters
    ----------
    d, n : int
        Input dimension and code size.
    method : str
        The training method (:func:`step_flops`).
    steps : int
        The step budget.
    batch_size : int or None, optional
        Samples per step of method "samples".
    chunk : int, optional
        Steps run before the first progress can be shown (default 100).

    Returns
    -------
    str or None
        What is being set up, its memory and work per step, and a rough time per step.

    Raises
    ------
    ValueError
        As :func:`check_memory`.

    Examples
    --------
    >>> large_run_note(256, 128, "population", 2000) is None
    True
    """
    check_memory(d, n)
    need, flops = estimate_bytes(d, n), step_flops(d, n, method, batch_size)
    first = min(steps, chunk)
    if need <= LARGE_BYTES and flops * first <= LARGE_FLOPS:
        return None
    per_step = _duration(flops / NOMINAL_FLOPS)
    return (f"a large run: d = {_count(d)}, n = {_count(n)}, method {method}: about {human(need)} of memory and "
            f"{flops:.2g} floating-point operations per step (about {per_step} per step at {NOMINAL_FLOPS:.0e} "
            f"FLOP/s, two CPU cores); setting up and compiling now, progress after the first {first} steps, "
            "then the comparison with the theory")


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2g} s"
    if seconds < 7200:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.2g} h"


def _count(size: int) -> str:
    return str(size) if size < 10**9 else f"{float(size):.3g}"
