"""Parameter sweeps and walk-forward on Dask: many runs of one session config, ranked.

``python -m app.sweep SWEEP.yaml`` reads a sweep file (``spec``, with ``reader``), plans its runs (``plan``: a
grid, an explicit list or a seeded random sample over ``strategy.params``, per symbol or group,
rolling walk-forward windows), submits each run as one Dask task (``runner``, on the client of
``cluster``: a LocalCluster or an existing scheduler) and writes the ranked tables (``results``).
A task (``task.run_one``) is the base config with the run's overrides run by
``app.runtime.run.run``, the same pipeline as ``app.backtest``: a sweep is not a second engine.
This package sits above ``app.runtime``; nothing below imports it. It imports no threads and
reads no clock itself (elapsed times come from ``app.timing.stopwatch``).
"""

from __future__ import annotations

from app.sweep.plan import RunSpec, Window, expand_params, plan_runs, walk_forward_windows
from app.sweep.spec import SweepSpec, load_sweep_spec, parse_sweep_spec

__all__ = ["RunSpec", "SweepSpec", "Window", "expand_params", "load_sweep_spec", "parse_sweep_spec",
           "plan_runs", "walk_forward_windows"]
