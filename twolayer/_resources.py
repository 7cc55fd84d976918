"""Will a run fit in memory? One estimate, checked before a training allocates anything.

Every run (``twolayer train``, :func:`twolayer.run`, the sweeps, the figures) trains through
:func:`twolayer.simulations.train`, which calls :func:`check_memory` first, so a size that cannot
fit is refused in a second with a message naming the estimate and the memory available, instead
of failing minutes later inside NumPy or XLA.
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


def _count(size: int) -> str:
    return str(size) if size < 10**9 else f"{float(size):.3g}"
