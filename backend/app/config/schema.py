"""The typed, frozen session config: SessionConfig and Mode; the section classes live in ``sections``."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from app.config.checks import calendar_code, enum_value, optional, text
from app.config.fields import Section, SectionList, yaml_field
from app.config.indicator_specs import session_indicator
from app.config.list_checks import free_mapping, interval_list, symbol_list
from app.config.sections import (
    BacktestConfig,
    BrokerConfig,
    DataConfig,
    GapFillerConfig,
    HistoricalConfig,
    HistoricalData,
    IndicatorSpec,
    LiveConfig,
    RunConfig,
    StrategySpec,
    TradingLimits,
)
from app.config.yaml_source import FieldPath, SourceMap, format_path
from app.errors import ConfigError
from app.store.bar import Interval

__all__ = [
    "BacktestConfig",
    "BrokerConfig",
    "DataConfig",
    "GapFillerConfig",
    "HistoricalConfig",
    "HistoricalData",
    "IndicatorSpec",
    "LiveConfig",
    "Mode",
    "RunConfig",
    "SessionConfig",
    "StrategySpec",
    "TradingLimits",
]


class Mode(Enum):
    """Where bars come from and what the clock is: ``backtest`` (stored bars) or ``live`` (a feed)."""

    BACKTEST = "backtest"
    LIVE = "live"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """A validated session config: everything one run needs, read from one YAML file.

    Parameters
    ----------
    source_file : str
        Path of the YAML file as given (not a YAML key; not compared).
    session_name : str
        Non-blank name of the session; required.
    mode : Mode
        ``backtest`` or ``live``; required.
    calendar : str, default "XNYS"
        exchange_calendars code of the exchange.
    backtest : BacktestConfig or None, default None
        Required when mode is ``backtest``; validated when present in live mode.
    live : LiveConfig or None, default None
        Required when mode is ``live``; validated when present in backtest mode.
    symbols : tuple of str
        Non-empty, unique ticker symbols; required.
    streams : tuple of Interval
        Non-empty, unique intervals the strategy wants; required.
    base_interval : Interval
        Derived (not a YAML key): the smallest intraday interval among ``streams`` and session
        indicator intervals, ``1d`` if there is none; must be 1s, 1m or 1d and build every other one.
    historical : HistoricalConfig, default HistoricalConfig()
        Trailing data and historical indicators.
    indicators : tuple of IndicatorSpec, default ()
        Real-time session indicators; their interval defaults to the base interval.
    gap_filler : GapFillerConfig, default GapFillerConfig()
        Session quality and live gap refetch.
    data : DataConfig
        Where stored bars live; required.
    strategy : StrategySpec
        The strategy class and params; required.
    trading : TradingLimits, default TradingLimits()
        Cash, limits and costs.
    broker : BrokerConfig, default BrokerConfig()
        Where orders go: the simulated broker (default) or Alpaca (live only).
    run : RunConfig, default RunConfig()
        Pipeline plumbing.
    metadata : dict or None, default None
        Free-form; kept as given and ignored by equality and hashing.
    source_map : SourceMap or None, default None
        Where each field was written (not a YAML key; not compared); `error` uses it to point
        at the line and column of a problem found after loading.
    """

    source_file: str = dataclasses.field(compare=False)
    session_name: str = yaml_field(text)
    mode: Mode = yaml_field(enum_value(Mode))
    calendar: str = yaml_field(calendar_code, default="XNYS")
    backtest: BacktestConfig | None = yaml_field(Section(BacktestConfig, optional=True), default=None)
    live: LiveConfig | None = yaml_field(Section(LiveConfig, optional=True), default=None)
    symbols: tuple[str, ...] = yaml_field(symbol_list)
    streams: tuple[Interval, ...] = yaml_field(interval_list)
    base_interval: Interval = dataclasses.field()
    historical: HistoricalConfig = yaml_field(Section(HistoricalConfig), default_factory=HistoricalConfig)
    indicators: tuple[IndicatorSpec, ...] = yaml_field(SectionList(IndicatorSpec, session_indicator), default=())
    gap_filler: GapFillerConfig = yaml_field(Section(GapFillerConfig), default_factory=GapFillerConfig)
    data: DataConfig = yaml_field(Section(DataConfig))
    strategy: StrategySpec = yaml_field(Section(StrategySpec))
    trading: TradingLimits = yaml_field(Section(TradingLimits), default_factory=TradingLimits)
    broker: BrokerConfig = yaml_field(Section(BrokerConfig), default_factory=BrokerConfig)
    run: RunConfig = yaml_field(Section(RunConfig), default_factory=RunConfig)
    metadata: dict[str, Any] | None = yaml_field(
        optional(free_mapping), default=None, compare=False
    )
    source_map: SourceMap | None = dataclasses.field(default=None, compare=False, repr=False)

    def error(self, field: FieldPath, message: str, *, hint: str | None = None, at_key: bool = False) -> ConfigError:
        """Return a ConfigError about `field` (e.g. ``("strategy", "class")``) at its place in the file.

        For problems found after loading (importing the strategy, the calendar's sessions, the
        environment): the message reads ``file:line:col: error: field: message; hint``, at the
        value of `field` (its key with `at_key`, for an unknown name), or at its nearest written
        ancestor when it was left to its default.
        """
        mark = self.source_map.locate(field, key=at_key) if self.source_map is not None else None
        return ConfigError(
            message,
            file=self.source_file,
            line=None if mark is None else mark.line,
            column=None if mark is None else mark.column,
            field=format_path(field) or None,
            hint=hint,
        )

    @property
    def pacing(self) -> str:
        """Return ``"data_driven"``, ``"clock_driven"`` or ``"live"``: the one place the mode is read.

        A backtest with ``speed_multiplier == 0`` is data-driven (lockstep, as fast as possible),
        one with a speed is clock-driven; `runtime.build` picks the clock and step source from it.
        """
        if self.mode is Mode.LIVE or self.backtest is None:
            return "live"
        return "clock_driven" if self.backtest.speed_multiplier > 0 else "data_driven"

    @property
    def is_data_driven(self) -> bool:
        """Return True for a backtest with ``speed_multiplier == 0`` (lockstep, as fast as possible)."""
        return self.pacing == "data_driven"
