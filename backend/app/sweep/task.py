"""One sweep run as one task: the base config with the run's overrides, run by `app.runtime.run.run`.

This is the function the Dask workers execute (and `verify/bench_sweep.py` calls in-process): it
never raises for a run that goes wrong; the row it returns carries the status and the error.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from app.errors import AppError
from app.sweep.plan import RunSpec
from app.timing.stopwatch import Stopwatch

__all__ = ["FIGURES", "TaskInput", "apply_overrides", "base_row", "error_text", "figures", "run_one"]

log = logging.getLogger(__name__)

FIGURES: Final = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor",
                  "pnl", "final_equity", "fills", "sessions", "bars_processed", "bars_per_second")
"""A row's result columns, from the run's summary.json (NaN when the run did not complete)."""

RUN_CONFIG: Final = "sweep_run.yaml"
"""The session config a run was made from, written into its folder (kept with ``--keep-runs``)."""


@dataclass(frozen=True, slots=True)
class TaskInput:
    """Everything a worker needs for one run (pickled to the worker; paths must be valid there).

    Parameters
    ----------
    base_data : dict
        The base session config as plain YAML data, ``data.store`` made absolute.
    base_file : str
        The base config's path (named in the run's config header).
    base_dir : str
        Absolute folder the base config's other relative paths resolve against.
    run : RunSpec
    keep_dir : str or None
        With ``--keep-runs``: the run's outputs go to ``keep_dir/<run_id>`` and stay.
    scratch_dir : str or None
        Folder for the temporary outputs of runs not kept (None: the worker's temp folder).
    """

    base_data: dict[str, Any]
    base_file: str
    base_dir: str
    run: RunSpec
    keep_dir: str | None = None
    scratch_dir: str | None = None


def apply_overrides(base_data: dict[str, Any], run: RunSpec) -> dict[str, Any]:
    """Return a copy of the base config data with the run's params, symbols and dates set."""
    data = copy.deepcopy(base_data)
    strategy = data.setdefault("strategy", {})
    strategy["params"] = {**(strategy.get("params") or {}), **run.params}
    if run.symbols is not None:
        data["symbols"] = list(run.symbols)
    if run.start is not None or run.end is not None:
        backtest = data.setdefault("backtest", {})
        if run.start is not None:
            backtest["start_date"] = run.start
        if run.end is not None:
            backtest["end_date"] = run.end
    return data


def base_row(run: RunSpec) -> dict[str, Any]:
    """Return a row's identity columns for `run` (figures NaN, status empty)."""
    row: dict[str, Any] = {
        "run_id": run.run_id, "param_set": run.param_set, "group": run.group,
        "symbols": "" if run.symbols is None else ",".join(run.symbols),
        "window": run.window, "phase": run.phase or "",
        "start_date": None if run.start is None else run.start.isoformat(),
        "end_date": None if run.end is None else run.end.isoformat(),
    }
    row.update({f"param.{name}": value for name, value in run.params.items()})
    row.update(dict.fromkeys(FIGURES, math.nan))
    row.update(status="", error="", elapsed_s=math.nan, worker="", run_dir="")
    return row


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    """Return the row figures of a run's summary.json (its values, unchanged; None -> NaN)."""
    trading = summary["trading"]
    out = {key: trading.get(key) for key in ("total_return_pct", "sharpe", "max_drawdown_pct", "trades",
                                             "win_rate_pct", "profit_factor", "pnl", "final_equity", "fills")}
    out["sessions"] = summary["sessions"]
    out["bars_processed"] = summary["bars_processed"]
    out["bars_per_second"] = summary["metrics"]["backtest"]["bars_per_second"]
    return {key: math.nan if value is None else value for key, value in out.items()}


def error_text(error: BaseException) -> str:
    """Return a failed run's error as one line (an AppError's message, else ``Type: message``)."""
    text = str(error) if isinstance(error, AppError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def run_one(task: TaskInput) -> dict[str, Any]:
    """Run one sweep run and return its result row; a run that fails is a row with status failed.

    The row holds the identity columns (`base_row`), the figures of its summary.json
    (`FIGURES`), ``status`` (completed or failed), ``error`` (one line), ``elapsed_s`` (the
    task's wall time), ``worker`` (host:pid) and ``run_dir`` (kept runs only).
    """
    sw = Stopwatch()
    t0 = sw.now_ns()
    row = base_row(task.run)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    work: Path | None = None
    config_file = Path(RUN_CONFIG)
    try:
        from app.config import parse_session_config
        from app.runtime.run import run

        if task.keep_dir is not None:
            out_dir = Path(task.keep_dir) / task.run.run_id
            row["run_dir"] = str(out_dir)
        else:
            work = Path(tempfile.mkdtemp(prefix=f"sweep-{task.run.run_id}-", dir=task.scratch_dir))
            out_dir = work / "run"
        out_dir.mkdir(parents=True, exist_ok=True)
        data = apply_overrides(task.base_data, task.run)
        header = f"# sweep run {task.run.run_id}: {task.base_file} with strategy.params {dict(task.run.params)}\n"
        text = header + yaml.safe_dump(data, sort_keys=False)
        config_file = out_dir / RUN_CONFIG
        config_file.write_text(text, encoding="utf-8")
        run(parse_session_config(text, str(config_file), Path(task.base_dir)), out_dir)
        # From summary.json (its rounding): a row equals what `python -m app.backtest` writes for the run.
        row.update(figures(json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))))
        row["status"] = "completed"
    except Exception as e:  # any failure of a run is its row's result, and the sweep goes on
        log.info("sweep run %s failed: %s", task.run.run_id, error_text(e), exc_info=e)
        row["status"] = "failed"
        text = error_text(e)
        # A run not kept has its config in a scratch folder that is gone: name it as the run's.
        row["error"] = text if task.keep_dir is not None else text.replace(str(config_file), RUN_CONFIG)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        row["elapsed_s"] = sw.elapsed_ns(t0) / 1e9
    return row
