"""Check a sweep against its base session config and make its plan, before any cluster starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Mode, SessionConfig, load_session_config
from app.config.fields import did_you_mean
from app.config.yaml_source import FieldPath, read_yaml
from app.sweep.plan import RunSpec, Window, expand_params, plan_runs, walk_forward_windows
from app.sweep.spec import SweepSpec
from app.sweep.task import TaskInput

__all__ = ["Prepared", "prepare"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked sweep: the base config, its data for the tasks, and the runs to submit first."""

    spec: SweepSpec
    config: SessionConfig
    base_data: dict[str, Any]
    param_sets: list[dict[str, Any]]
    windows: list[Window] | None
    runs: list[RunSpec]

    @property
    def groups(self) -> list[tuple[str, ...]]:
        """Return the symbol groups (without ``symbols:`` in the sweep file, the base config's symbols)."""
        return list(self.spec.symbol_groups or (tuple(self.config.symbols),))

    @property
    def total(self) -> int:
        """Return how many runs the sweep makes (walk-forward: train runs plus one test run per window and group)."""
        return len(self.runs) + (len(self.windows) * len(self.groups) if self.windows else 0)

    def task(self, run: RunSpec, keep_dir: Path | None, scratch_dir: Path | None) -> TaskInput:
        """Return the task input of `run`."""
        return TaskInput(self.base_data, str(self.spec.base_config), str(self.spec.base_config.parent), run,
                         None if keep_dir is None else str(keep_dir.resolve()),
                         None if scratch_dir is None else str(scratch_dir.resolve()))


def prepare(spec: SweepSpec) -> Prepared:
    """Load the base config, check the sweep against it and plan the runs.

    Raises
    ------
    ConfigError
        When the base config is invalid (located in it), is not a data-driven backtest, or the
        sweep names a parameter its strategy does not declare, or no walk-forward window fits
        (located in the sweep file).
    """
    config = load_session_config(spec.base_config)
    where: FieldPath = ("sweep", "base_config")
    if config.mode is not Mode.BACKTEST or config.backtest is None:
        raise spec.error(where, f"expected a backtest session config (mode: backtest), received mode "
                                f"{config.mode.value!r} in {spec.base_config}")
    if config.pacing != "data_driven":
        raise spec.error(where, f"expected a data-driven backtest, received backtest.speed_multiplier "
                                f"{config.backtest.speed_multiplier} in {spec.base_config}",
                         hint="set speed_multiplier: 0 (a sweep runs every run as fast as it goes)")
    _check_param_names(spec, config)
    data, _ = read_yaml(spec.base_config.read_text(encoding="utf-8"), str(spec.base_config))
    data.setdefault("data", {})["store"] = str(config.data.store)  # absolute: tasks read the store by path
    param_sets = expand_params(spec.params)
    if spec.params.kind == "random" and len(param_sets) < spec.params.samples:
        log.warning("params.random: the space holds only %d distinct sets of the %d samples asked",
                    len(param_sets), spec.params.samples)
    windows = _windows(spec, config) if spec.walk_forward is not None else None
    runs = plan_runs(param_sets, spec.symbol_groups or (tuple(config.symbols),), windows)
    return Prepared(spec, config, data, param_sets, windows, runs)


def _check_param_names(spec: SweepSpec, config: SessionConfig) -> None:
    from app.strategies.loader import load_strategy_class

    cls = load_strategy_class(config)
    declared = cls.params if isinstance(cls.params, dict) else {}
    for name in spec.params.names:
        if name not in declared:
            hint = did_you_mean(name, declared) or f"{cls.__name__} takes {sorted(declared)}"
            raise spec.error(_param_path(spec, name), f"unknown parameter for {cls.__name__} "
                                                      f"(strategy.class of {spec.base_config.name})", hint=hint,
                             at_key=True)


def _param_path(spec: SweepSpec, name: str) -> FieldPath:
    p = spec.params
    if name in p.fixed:
        return ("params", "fixed", name)
    if p.kind == "grid":
        return ("params", "grid", name)
    if p.kind == "random":
        return ("params", "random", "space", name)
    index = next((i for i, s in enumerate(p.sets) if name in s), 0)
    return ("params", "list", index, name)


def _windows(spec: SweepSpec, config: SessionConfig) -> list[Window]:
    from app.timing.calendar import TradingCalendar

    wf = spec.walk_forward
    assert wf is not None and config.backtest is not None
    start = wf.start or config.backtest.start_date
    end = wf.end or config.backtest.end_date
    sessions = TradingCalendar(config.calendar).sessions_in_range(start, end)
    windows = walk_forward_windows(sessions, wf.train_sessions, wf.test_sessions, wf.step_sessions, wf.anchored)
    if not windows:
        raise spec.error(("walk_forward", "train_sessions"),
                         f"expected train_sessions + test_sessions <= the {len(sessions)} {config.calendar} sessions "
                         f"from {start} to {end}, received {wf.train_sessions} + {wf.test_sessions}",
                         hint="shorten the spans or widen walk_forward.start/end (default: the base "
                              "config's backtest dates)")
    return windows

