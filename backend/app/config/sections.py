"""The sections of a session config: one frozen dataclass per YAML mapping, each field with its check and default."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

from app.config.checks import (
    boolean,
    class_path,
    env_name,
    integer,
    interval,
    iso_date,
    number,
    one_of,
    optional,
    store_path,
    text,
    url,
)
from app.config.fields import SectionList, yaml_field
from app.config.indicator_specs import historical_indicator
from app.config.list_checks import (
    apply_to,
    interval_list,
    params_to_dict,
    scalar_params,
    strategy_params,
)
from app.indicators.registry import indicator_key
from app.store.bar import BAR_FIELDS, Interval

__all__ = [
    "BacktestConfig",
    "BrokerConfig",
    "DataConfig",
    "GapFillerConfig",
    "HistoricalConfig",
    "HistoricalData",
    "IndicatorSpec",
    "LiveConfig",
    "RunConfig",
    "StrategySpec",
    "TradingLimits",
]

@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BacktestConfig:
    """The ``backtest:`` section: the replayed window and the clock speed.

    Parameters
    ----------
    start_date : datetime.date
        First calendar date of the window (YAML date or ``'YYYY-MM-DD'``); required. A weekend or
        holiday means the first trading day after it.
    end_date : datetime.date
        Last calendar date of the window, ``>= start_date``; required.
    speed_multiplier : float, default 0.0
        ``>= 0``. ``0`` runs data-driven (as fast as the pipeline goes, deterministic); ``k > 0``
        runs clock-driven, one market minute taking ``60 / k`` wall seconds.
    """

    start_date: date = yaml_field(iso_date)
    end_date: date = yaml_field(iso_date)
    speed_multiplier: float = yaml_field(number(ge=0), default=0.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LiveConfig:
    """The ``live:`` section: the real-time provider and how to reach it.

    Parameters
    ----------
    provider : str, default "alpaca"
        One of ``alpaca``.
    stream_url : str
        WebSocket URL of the bar stream, ``ws://`` or ``wss://``; required.
    rest_url : str
        REST URL used for history and gap refetch, ``http://`` or ``https://``; required.
    feed : str, default "iex"
        One of ``iex``, ``sip``, ``delayed_sip``, ``test``.
    key_env : str, default "APCA_API_KEY_ID"
        Name of the environment variable holding the API key (never the key itself).
    secret_env : str, default "APCA_API_SECRET_KEY"
        Name of the environment variable holding the API secret.
    stop_after_seconds : float or None, default None
        ``> 0``: end the live run after this many wall seconds; None runs until the close.
    reconnect_initial_s : float, default 1.0
        ``> 0``: first reconnect delay; it doubles on each failed attempt.
    reconnect_max_s : float, default 60.0
        ``>= reconnect_initial_s``: the longest reconnect delay.
    bar_grace_s : float or None, default None
        ``>= 0``: how long after its end a step still missing a symbol's bar waits before it is
        published without it (a minute without trades sends no bar). None: ``min(2, base
        interval in seconds)``. Complete steps are published at once.
    fill_wait_s : float, default 1.5
        ``>= 0``: when a step's grace runs out with bars missing (and the feed is in sync), those
        bars are asked of REST at once and the step is held up to this long for them, so the
        strategy decides on the bars a backtest would see. 0: off (the step goes out at once).
    """

    provider: str = yaml_field(one_of("alpaca"), default="alpaca")
    stream_url: str = yaml_field(url("ws", "wss"))
    rest_url: str = yaml_field(url("http", "https"))
    feed: str = yaml_field(one_of("iex", "sip", "delayed_sip", "test"), default="iex")
    key_env: str = yaml_field(env_name, default="APCA_API_KEY_ID")
    secret_env: str = yaml_field(env_name, default="APCA_API_SECRET_KEY")
    stop_after_seconds: float | None = yaml_field(optional(number(gt=0)), default=None)
    reconnect_initial_s: float = yaml_field(number(gt=0), default=1.0)
    reconnect_max_s: float = yaml_field(number(gt=0), default=60.0)
    bar_grace_s: float | None = yaml_field(optional(number(ge=0)), default=None)
    fill_wait_s: float = yaml_field(number(ge=0), default=1.5)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorSpec:
    """One entry of ``indicators:`` (real-time) or ``historical.indicators:`` (on trailing bars).

    Parameters
    ----------
    name : str
        A name from the indicator registry (session or historical list); required.
    period : int, default 0
        Bars in the window, ``>= 1``; required except for indicators without a window (``vwap``),
        where it may be omitted and reads 0.
    interval : Interval
        Bars the indicator is computed on. When omitted: the base interval (session indicators)
        or ``1d`` (historical indicators).
    field : str, default "close"
        Bar field fed to the indicator: one of ``open``, ``high``, ``low``, ``close``, ``volume``.
    params : tuple of (str, scalar) pairs, default ()
        Extra parameters from a YAML mapping (e.g. ``num_std: 2``), sorted by name.
    """

    name: str = yaml_field(text)
    period: int = yaml_field(integer(ge=0), default=0, missing=None)
    interval: Interval = yaml_field(interval, missing=None)
    field: str = yaml_field(one_of(*BAR_FIELDS), default="close")
    params: tuple[tuple[str, Any], ...] = yaml_field(scalar_params, default=(), dump=params_to_dict)

    @property
    def key(self) -> str:
        """Return the unique name of this indicator, e.g. ``sma_20_5m`` or ``vwap_1m`` (period 0)."""
        return indicator_key(self.name, self.period, self.interval.label)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalData:
    """One entry of ``historical.data:``: a trailing window of stored bars loaded before each session.

    Parameters
    ----------
    trailing_days : int
        Number of trading days in the window, ``> 0``, ending the trading day before the session; required.
    intervals : tuple of Interval
        Non-empty, unique list of intervals to load; required.
    apply_to : tuple of str or None, default None
        Configured symbols to load for; YAML ``"all"`` (or omitting the key) means every symbol (None).
    """

    trailing_days: int = yaml_field(integer(gt=0))
    intervals: tuple[Interval, ...] = yaml_field(interval_list)
    apply_to: tuple[str, ...] | None = yaml_field(apply_to, default=None)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalConfig:
    """The ``historical:`` section: trailing data and the indicators computed on it.

    Parameters
    ----------
    enable_quality : bool, default True
        Compute the quality of the trailing data; ``false`` makes it read 100.
    data : tuple of HistoricalData, default ()
        Trailing windows to load before each session.
    indicators : tuple of IndicatorSpec, default ()
        Historical indicators; their interval defaults to ``1d``.
    """

    enable_quality: bool = yaml_field(boolean, default=True)
    data: tuple[HistoricalData, ...] = yaml_field(SectionList(HistoricalData), default=())
    indicators: tuple[IndicatorSpec, ...] = yaml_field(
        SectionList(IndicatorSpec, historical_indicator), default=()
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GapFillerConfig:
    """The ``gap_filler:`` section: session quality and (live only) refetching missing bars.

    Parameters
    ----------
    max_retries : int, default 5
        From 1 to 20: refetch attempts per gap.
    retry_interval_seconds : float, default 60.0
        ``> 0``: wall seconds between refetch attempts.
    enable_session_quality : bool, default True
        Detect gaps and compute session quality; ``false`` makes session quality read 100.
    """

    max_retries: int = yaml_field(integer(ge=1, le=20), default=5)
    retry_interval_seconds: float = yaml_field(number(gt=0), default=60.0)
    enable_session_quality: bool = yaml_field(boolean, default=True)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """The ``data:`` section: where stored bars live.

    Parameters
    ----------
    store : pathlib.Path
        Bar store directory; required. A relative path is resolved against the YAML file's
        directory; the absolute path is stored. Existence is checked when the store is opened.
    on_missing : str, default "fail"
        What a backtest does with a symbol that has no base bars in a session (a date past the
        end of its file, a file without rows): ``fail`` stops the run naming the symbol, the
        session and the file; ``skip`` leaves the symbol out of that session (its quality is not
        scored); ``warn`` keeps it in, every expected bar counted as missing. Skip and warn log a
        warning and list the case in the session's Data Quality block.
    """

    store: Path = yaml_field(store_path)
    on_missing: str = yaml_field(one_of("fail", "skip", "warn"), default="fail")


DEFAULT_CALLBACK_TIMEOUT_S = {"data_driven": 30.0, "clock_driven": 10.0, "live": 10.0}
"""Seconds a strategy callback may run before the watchdog fails the run, per pacing mode.

A backtest's callbacks take microseconds; 30 s leaves room for a heavy ``on_session_start``
(fitting a model) while a stuck one is caught in well under a minute. Paced runs (clock-driven,
live) fall behind the market while a callback runs: 10 s.
"""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StrategySpec:
    """The ``strategy:`` section: the user's strategy class and its parameters.

    Parameters
    ----------
    path : str
        YAML key ``class``: ``"package.module:ClassName"``; required. Only the format is checked here.
    params : tuple of (str, value) pairs, default ()
        The ``params:`` mapping sorted by name; values are scalars or tuples of scalars (YAML lists).
    callback_timeout_s : float or None, default None
        The watchdog on the strategy's callbacks: a callback running longer fails the run (naming
        the method, symbol, bar and stuck stack). None uses the mode's default
        (`DEFAULT_CALLBACK_TIMEOUT_S`); 0 turns the watchdog off.
    """

    path: str = yaml_field(class_path, key="class")
    params: tuple[tuple[str, Any], ...] = yaml_field(strategy_params, default=(), dump=params_to_dict)
    callback_timeout_s: float | None = yaml_field(optional(number(ge=0)), default=None)

    def callback_timeout_for(self, pacing: str) -> float | None:
        """Return the watchdog's limit in seconds for a run paced by `pacing` (None: off)."""
        limit = DEFAULT_CALLBACK_TIMEOUT_S[pacing] if self.callback_timeout_s is None else self.callback_timeout_s
        return limit or None

    @property
    def params_dict(self) -> dict[str, Any]:
        """Return the params as a new dict."""
        return dict(self.params)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TradingLimits:
    """The ``trading:`` section: cash, risk limits and costs of the simulated or live account.

    Parameters
    ----------
    starting_cash : float, default 100000.0
        ``> 0``: account cash at the start of the run.
    max_per_trade : float, default 10000.0
        ``> 0`` and ``<= starting_cash``: largest notional of one order.
    max_per_symbol : float, default 25000.0
        ``> 0``: largest open position value in one symbol.
    max_open_positions : int, default 5
        ``>= 1``: most symbols held at once.
    commission_per_share : float, default 0.0
        ``>= 0``: commission charged per share filled.
    commission_min : float, default 0.0
        ``>= 0``: smallest commission per order.
    slippage_bps : float, default 0.0
        ``>= 0`` and ``< 10000``: fill price moved against the order, in basis points.
    allow_short : bool, default False
        Allow selling more than is held. Shorts are held to Reg T: their proceeds are not
        buying power, and 150% of their value is held against it.
    max_daily_loss : float or None, default None
        ``> 0``: the kill switch (``broker.kind: alpaca`` only): when the run's equity falls this
        far below its value at the session's start, every open order is cancelled and no new one
        is sent for the rest of the session. None: off.
    flatten_on_kill : bool, default False
        When the kill switch fires, also close the positions this run opened (market orders).
    extended_hours : bool, default False
        ``broker.kind: alpaca``: outside the session's hours, refuse orders (false) or send limit
        orders flagged ``extended_hours`` (true; market orders are still refused).
    """

    starting_cash: float = yaml_field(number(gt=0), default=100_000.0)
    max_per_trade: float = yaml_field(number(gt=0), default=10_000.0)
    max_per_symbol: float = yaml_field(number(gt=0), default=25_000.0)
    max_open_positions: int = yaml_field(integer(ge=1), default=5)
    commission_per_share: float = yaml_field(number(ge=0), default=0.0)
    commission_min: float = yaml_field(number(ge=0), default=0.0)
    slippage_bps: float = yaml_field(number(ge=0, lt=10_000), default=0.0)
    allow_short: bool = yaml_field(boolean, default=False)
    max_daily_loss: float | None = yaml_field(optional(number(gt=0)), default=None)
    flatten_on_kill: bool = yaml_field(boolean, default=False)
    extended_hours: bool = yaml_field(boolean, default=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    """The ``broker:`` section: where a live run's orders go.

    Parameters
    ----------
    kind : str, default "simulated"
        ``simulated`` (the in-process SimulatedBroker, in backtests and live) or ``alpaca`` (the
        Alpaca Trading API v2; live mode only).
    trading_url : str or None, default None
        REST base of the Trading API, ``http(s)://``; required with ``alpaca``
        (paper: ``https://paper-api.alpaca.markets``).
    stream_url : str or None, default None
        ``ws(s)://`` URL of the ``trade_updates`` stream; None: `trading_url` with a ws scheme and
        ``/stream``.
    paper : bool, default True
        The account is a paper account; a `trading_url` on the live host with ``paper: true`` (or
        the paper host with ``paper: false``) is refused.
    key_env : str, default "APCA_API_KEY_ID"
        Name of the environment variable holding the trading API key (never the key itself).
    secret_env : str, default "APCA_API_SECRET_KEY"
        Name of the environment variable holding the trading API secret.
    run_id : str or None, default None
        Prefix of every ``client_order_id`` (letters, digits, ``-``, ``_``; at most 40). None:
        derived from the session name and the first session's date, so a restarted run finds
        its own orders.
    cancel_on_exit : bool, default True
        When the run ends (Ctrl-C, the stop time, a failure), cancel the orders it left open.
    timeout_s : float, default 2.0
        ``> 0``: bound of each Trading API request. A submit makes at most 2 attempts, each
        followed by a lookup when unanswered: the strategy waits at most ``4 * timeout_s`` (plus
        a 429's wait of at most 1 s); an order still unanswered is settled by the next reconcile.
    poll_s : float, default 5.0
        ``> 0``: while orders are open, their status is also read from REST this often (a
        silent stream loses no fill).
    """

    kind: str = yaml_field(one_of("simulated", "alpaca"), default="simulated")
    trading_url: str | None = yaml_field(optional(url("http", "https")), default=None)
    stream_url: str | None = yaml_field(optional(url("ws", "wss")), default=None)
    paper: bool = yaml_field(boolean, default=True)
    key_env: str = yaml_field(env_name, default="APCA_API_KEY_ID")
    secret_env: str = yaml_field(env_name, default="APCA_API_SECRET_KEY")
    run_id: str | None = yaml_field(optional(text), default=None)
    cancel_on_exit: bool = yaml_field(boolean, default=True)
    timeout_s: float = yaml_field(number(gt=0), default=2.0)
    poll_s: float = yaml_field(number(gt=0), default=5.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """The ``run:`` section: pipeline plumbing.

    Parameters
    ----------
    join_timeout_s : float, default 10.0
        ``> 0``: how long to wait for each thread to stop before reporting it stuck.
    batch_steps : int, default 390
        ``>= 1``: most time steps one data-driven hand-off between threads may carry.
    record : bool, default False
        Write ``recording/`` in the run folder (every step, its bars, every order, fill and
        rejection) for ``--replay``; live runs always record.
    replay : str or None, default None
        A recording folder (``RUN_DIR/recording``) to replay instead of the bar store (set by
        ``python -m app.backtest --replay RUN_DIR``).
    replay_bars : {"recorded", "final"}, default "recorded"
        ``recorded``: the recorded steps with the bars each held; ``final``: a plain backtest
        over the bars as a store would hold them after the session.
    """

    join_timeout_s: float = yaml_field(number(gt=0), default=10.0)
    batch_steps: int = yaml_field(integer(ge=1), default=390)
    record: bool = yaml_field(boolean, default=False)
    replay: str | None = yaml_field(optional(text), default=None)
    replay_bars: str = yaml_field(one_of("recorded", "final"), default="recorded")
