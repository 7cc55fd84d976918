"""The default run function of a sweep: one run's options -> :func:`twolayer.run` -> its record.

A sweep run is a dict of the options of :data:`twolayer.config.OPTIONS` (resolved when the
spec was read); :func:`default_run` validates it again as a
:class:`~twolayer.config.RunConfig` (a worker may get it from another process or machine)
and runs it exactly as ``twolayer train`` and the Python API do.
"""

from __future__ import annotations

from ..config import RunConfig


def default_run(params: dict) -> dict:
    """One sweep run -> its record (see :func:`twolayer.run`); ValueError for invalid options.

    Parameters
    ----------
    params : dict
        Option name -> value, as accepted by :meth:`~twolayer.config.RunConfig.from_dict`.

    Returns
    -------
    dict
        The run's record (:func:`twolayer.run` without a progress bar).

    Raises
    ------
    ValueError
        An unknown option, an invalid value or combination, or an invalid data set (from :func:`twolayer.run`).
    """
    from ..experiment import run

    return run(RunConfig.from_dict(params))
