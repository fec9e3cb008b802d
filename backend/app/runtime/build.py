"""Composition root: the only module that knows every concrete class (feeds, broker, threads)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.schema import Mode, SessionConfig
from app.errors import ConfigError, DataError
from app.execution.paper import SimulatedBroker
from app.feeds.base import BarSource
from app.feeds.missing import MissingBars
from app.feeds.preload import HistoricalIndicatorSpec, HistorySpec
from app.feeds.window import WindowedBarSource, window_sessions
from app.indicators.bank import IndicatorBank, SessionIndicator
from app.indicators.registry import make_indicator
from app.metrics.collect import RunMetrics
from app.runtime.rollup import RecordRollup
from app.store.bar import Interval, parse_interval
from app.store.bar_store import BarStore
from app.store.session_data import SessionData, SessionState
from app.strategies.base import Strategy, StrategyContext
from app.strategies.loader import load_strategy, requested_indicators
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription
from app.threads.analysis import AnalysisEngine
from app.threads.coordinator import CoordinatorPlan, SessionCoordinator
from app.threads.processor import DataProcessor
from app.threads.step_sources import ClockDrivenSteps, DataDrivenSteps, StepSource
from app.threads.supervisor import Supervisor
from app.threads.upkeep import DataUpkeep, GapFillPlan
from app.timing.clocks import Clock, ScaledClock, SteppedClock, WallClock
from app.timing.stopwatch import Stopwatch
from app.timing.time_manager import TimeManager

if TYPE_CHECKING:  # live-only modules: a backtest never imports them (websockets, msgpack)
    from app.feeds.alpaca import AlpacaFeed
    from app.feeds.live import FeedStats
    from app.recording.taps import StepTap
    from app.recording.writer import RecordingWriter
    from app.runtime.broker_link import BrokerLink

__all__ = ["Pipeline", "build", "check_store", "mode_name"]

SessionDone = Callable[[int, SessionState], None]


@dataclass
class Pipeline:
    """Everything one run needs, wired together."""

    config: SessionConfig
    tm: TimeManager
    data: SessionData
    stop: StopToken
    supervisor: Supervisor
    broker: SimulatedBroker
    strategy: Strategy
    metrics: RunMetrics
    subscriptions: dict[str, StreamSubscription]
    coordinator: SessionCoordinator
    processor: DataProcessor
    upkeep: DataUpkeep
    engine: AnalysisEngine
    plan: CoordinatorPlan
    derived: tuple[Interval, ...]
    indicator_keys: tuple[str, ...]
    rollup: RecordRollup = field(init=False)  # the finished sessions' totals (records are journaled)
    feed_stats: FeedStats | None = None  # live: the feed's counters (read after the run)
    stopwatch: Stopwatch = field(default_factory=Stopwatch)  # the run's real time (durations, waits)
    recording: RecordingWriter | None = None  # recording/ (live, run.record, replays): finished with the outputs
    broker_link: BrokerLink | None = None  # broker.kind alpaca: the adapter's stream thread and run end

    def __post_init__(self) -> None:
        self.rollup = RecordRollup(self.plan.symbols, self.config.trading.starting_cash)

    @property
    def threads(self) -> list[Any]:
        """Consumers first, so no signal is published before its reader runs."""
        link = [self.broker_link.thread] if self.broker_link is not None else []
        return [self.engine, self.processor, self.upkeep, self.coordinator, *link]


def _make_clock(config: SessionConfig, stopwatch: Stopwatch) -> Clock:
    pacing = mode_name(config)
    if pacing == "live":
        return WallClock()
    assert config.backtest is not None
    if pacing == "clock_driven":  # paced on the run's real time, so one source moves everything
        return ScaledClock(config.backtest.speed_multiplier, real_ns=stopwatch.now_ns)
    return SteppedClock()


def mode_name(config: SessionConfig) -> str:
    """Return "data_driven", "clock_driven" or "live" (the pacing the run uses)."""
    return config.pacing


LIVE_HORIZON_DAYS = 30  # a live run covers the sessions closing within this many days


def live_sessions(tm: TimeManager, now_ns: int, horizon_days: int = LIVE_HORIZON_DAYS) -> tuple[date, ...]:
    """Return the sessions a live run started at `now_ns` covers: from the one still open (or next) on."""
    today = datetime.fromtimestamp(now_ns // 1_000_000_000, tz=UTC).date()
    days = tm.trading_days(today - timedelta(days=1), today + timedelta(days=horizon_days))
    return tuple(d for d in days if tm.session_bounds_ns(d)[1] > now_ns)


def _sessions(config: SessionConfig, tm: TimeManager) -> tuple:
    if config.mode is Mode.LIVE:
        days = live_sessions(tm, tm.now_ns())
        if not days:
            raise config.error(("calendar",), f"no {config.calendar} session in the next {LIVE_HORIZON_DAYS} days")
        return days
    bt = config.backtest
    assert bt is not None
    try:
        days = tuple(tm.trading_days(bt.start_date, bt.end_date))
    except ValueError as e:
        raise config.error(("backtest", "start_date"), str(e)) from e
    if not days:
        raise config.error(("backtest", "end_date"),
                           f"no {config.calendar} trading day between {bt.start_date} and {bt.end_date}",
                           hint="widen the window to include a trading day")
    return tuple(days)


def _indicators(config: SessionConfig, strategy_cls: type[Strategy]) -> list[SessionIndicator]:
    out: dict[str, SessionIndicator] = {}
    for spec in config.indicators:
        out[spec.key] = SessionIndicator(spec.name, spec.period, spec.interval, spec.field, dict(spec.params))
    base = config.base_interval
    for raw in requested_indicators(config, strategy_cls):
        # A strategy's own request gets the same checks as a config entry, reported on
        # strategy.class (the place a user can change).
        try:
            interval = parse_interval(raw.get("interval") or base.label)
            if not base.divides(interval):
                raise ValueError(f"expected an interval built from whole {base} bars, received {interval}")
            period = int(raw.get("period", 0))
            make_indicator(raw["name"], period, raw.get("field", "close"), raw.get("params"))
        except (KeyError, ValueError, TypeError) as e:
            raise config.error(("strategy", "class"),
                               f"{strategy_cls.__name__}.indicators() asked for {raw!r}: {e}") from e
        wanted = SessionIndicator(raw["name"], period, interval, raw.get("field", "close"),
                                  dict(raw.get("params") or {}))
        out.setdefault(wanted.key, wanted)
    return [out[k] for k in sorted(out)]


def _history(config: SessionConfig) -> tuple[tuple[HistorySpec, ...], tuple[HistoricalIndicatorSpec, ...]]:
    symbols = tuple(sorted(config.symbols))
    specs = [HistorySpec(d.trailing_days, tuple(d.intervals), tuple(sorted(d.apply_to or symbols)))
             for d in config.historical.data]
    hist_inds = []
    for ind in config.historical.indicators:
        hist_inds.append(HistoricalIndicatorSpec(ind.key, ind.name, ind.period, ind.interval))
        covered = any(ind.interval in s.intervals and s.trailing_days >= ind.period and set(symbols) <= set(s.symbols)
                      for s in specs)
        if not covered:
            specs.append(HistorySpec(ind.period, (ind.interval,), symbols))
    return tuple(specs), tuple(hist_inds)


def check_store(config: SessionConfig, store: BarStore) -> None:
    """Fail fast, naming symbol and interval, when the store lacks the base bars."""
    if not store.root.is_dir():
        extra = "" if (config.base_interval.label, config.calendar) == ("1m", "XNYS") else \
            f" --interval {config.base_interval} --calendar {config.calendar}"
        if extra and config.backtest is not None:  # only the days this config replays
            extra += f" --start {config.backtest.start_date} --end {config.backtest.end_date}"
        raise DataError(str(store.root), "bar store folder does not exist; create sample data with "
                        f"`python -m app.data sample --store {store.root}{extra}`")
    for symbol in config.symbols:
        if not store.has(symbol, config.base_interval):
            raise DataError(str(store.root), f"no {config.base_interval} bars for {symbol} (expected "
                            f"{store.root}/{config.base_interval}/{symbol}.parquet); import them with "
                            f"`python -m app.data import FILE --symbol {symbol} --interval "
                            f"{config.base_interval} --store {store.root}`", symbol=symbol)


def _live_feed(config: SessionConfig, symbols: tuple[str, ...], base: Interval, stop: StopToken,
               stopwatch: Stopwatch) -> AlpacaFeed:
    from app.feeds.alpaca import AlpacaFeed

    live = config.live
    assert live is not None
    try:
        return AlpacaFeed.from_env(live.key_env, live.secret_env, live.stream_url, live.rest_url,
                                   symbols=list(symbols), interval=base, feed=live.feed,
                                   reconnect_initial_s=live.reconnect_initial_s,
                                   reconnect_max_s=live.reconnect_max_s,
                                   sleep=stop.wait,  # every wait between attempts ends on stop
                                   stopwatch=stopwatch)
    except ConfigError as e:
        fields = {live.key_env: ("live", "key_env"), live.secret_env: ("live", "secret_env"),
                  "feed": ("live", "feed"), "interval": ("streams",), "symbols": ("symbols",)}
        where = fields.get(e.field or "", ("live",))
        raise config.error(where, e.message, hint=e.hint) from None


def _trailing(specs: tuple[HistorySpec, ...], base: Interval) -> dict[str, int]:
    # The most trailing days each interval's history asks for; the base window covers them all
    # (history of an interval the store lacks is derived from base bars).
    out: dict[str, int] = {}
    for spec in specs:
        for interval in spec.intervals:
            out[interval.label] = max(out.get(interval.label, 0), spec.trailing_days)
    out[base.label] = max(out.values(), default=0)
    return out


def _bars_per_session(tm: TimeManager, session: date, base: Interval) -> int:
    open_ns, close_ns = tm.session_bounds_ns(session)
    return 1 if base.is_daily else max(1, (close_ns - open_ns) // base.ns)


def _live_input(config: SessionConfig, feed: Any, store: BarStore, tm: TimeManager, symbols: tuple[str, ...],
                base: Interval, stop: StopToken, outputs: tuple[StreamSubscription, ...],
                metrics: RunMetrics, stopwatch: Stopwatch,
                tap: StepTap | None = None) -> tuple[BarSource, StepSource, GapFillPlan]:
    # Live: history from the store topped up by REST, steps from the feed on the wall clock, and
    # a gap-fill plan for DataUpkeep. Imported here: a backtest never loads the live modules.
    from app.feeds.live_source import LiveBarSource
    from app.threads.live_stream import LiveSteps, LiveStream

    live = config.live
    assert live is not None
    source = LiveBarSource(store, tm, base, feed.fetch_bars)
    grace_s = live.bar_grace_s if live.bar_grace_s is not None else min(2.0, base.seconds)
    after = live.stop_after_seconds
    deadline = None if after is None else tm.now_ns() + int(after * 1e9)
    # Fill at grace: one attempt, its own connection, bounded by the wait it may hold a step for.
    fill_at_grace = feed.rest_fetcher(retries=0, timeout_s=live.fill_wait_s) if live.fill_wait_s > 0 else None
    refetch = feed.rest_fetcher(retries=0)  # gap fill retries at its own pace: one attempt per call
    if tap is not None:  # every bar received is recorded: the socket's, the fill at grace's, the gap filler's
        from app.recording.taps import RecordingFeed, recording_fetch

        feed = RecordingFeed(feed, tap)
        if fill_at_grace is not None:
            fill_at_grace = recording_fetch(fill_at_grace, tap, after_decision=False, now_ns=tm.now_ns)
        refetch = recording_fetch(refetch, tap, after_decision=True, now_ns=tm.now_ns)
    stream = LiveStream(feed, source, symbols, base, tm, stop, deadline_ns=deadline, grace_ns=int(grace_s * 1e9),
                        fill=fill_at_grace, fill_wait_ns=int(live.fill_wait_s * 1e9))
    fill = GapFillPlan(refetch, config.gap_filler.max_retries, config.gap_filler.retry_interval_seconds)
    steps = LiveSteps(stream, outputs, metrics, stopwatch)
    steps.tap = tap
    return source, steps, fill


def _recording(config: SessionConfig, record_to: Path | None, tm: TimeManager, symbols: tuple[str, ...],
               base: Interval) -> tuple[RecordingWriter, StepTap] | None:
    # recording/ in the run folder: live runs always, backtests with run.record, replays (for the parity).
    if record_to is None or not (config.mode is Mode.LIVE or config.run.record or config.run.replay):
        return None
    from app.recording.taps import StepTap
    from app.recording.writer import RecordingWriter

    writer = RecordingWriter(record_to / "recording", {
        "session_name": config.session_name, "mode": config.pacing, "symbols": list(symbols),
        "base_interval": base.label, "calendar": config.calendar, "replay_of": config.run.replay,
        "replay_bars": config.run.replay_bars if config.run.replay else None})
    return writer, StepTap(writer, symbols, base, tm.now_ns)


def _replay_input(config: SessionConfig) -> Any:
    # run.replay: the recording replaces the store (a RecordingError names the file).
    from app.recording.reader import RecordingError, load_recording
    from app.threads.replay_step_source import RecordedBarSource

    assert config.run.replay is not None
    try:
        recording = load_recording(Path(config.run.replay))
    except RecordingError as e:
        raise config.error(("run", "replay"), str(e)) from None
    if not recording.sessions():
        raise config.error(("run", "replay"), f"{config.run.replay}: the recording holds no session; expected a "
                                              "run that streamed at least one step")
    return RecordedBarSource(recording, final=config.run.replay_bars == "final")


def build(config: SessionConfig, on_session_done: SessionDone, stopwatch: Stopwatch | None = None,
          record_to: Path | None = None) -> Pipeline:
    """Wire the pipeline for `config`: the same threads in every mode, a stored, live or recorded input.

    `stopwatch` is the run's real time: every duration, timed wait and the scaled clock's pace
    read it (default the monotonic counter; a test may pass one on a `ManualTime`). `record_to`
    is the run folder: a live run (or ``run.record``, or a replay) writes ``recording/`` there.

    Raises
    ------
    ConfigError
        For strategy problems found while wiring, and in live mode for missing credentials.
    DataError
        When a backtest's bar store lacks the base bars.
    """
    live_mode = config.mode is Mode.LIVE
    stopwatch = stopwatch or Stopwatch()
    tm = TimeManager(config.calendar, _make_clock(config, stopwatch))
    replay = _replay_input(config) if config.run.replay and not live_mode else None
    sessions = tuple(replay.spans) if replay is not None else _sessions(config, tm)
    strategy = load_strategy(config)
    indicators = _indicators(config, type(strategy))
    base = config.base_interval
    derived = tuple(sorted({*config.streams, *(i.interval for i in indicators)} - {base}))
    symbols = tuple(sorted(config.symbols))
    store = BarStore(config.data.store, stopwatch)
    stop = StopToken()
    feed = _live_feed(config, symbols, base, stop, stopwatch) if live_mode else None
    if feed is None and replay is None:
        check_store(config, store)
    supervisor = Supervisor(stop, config.run.join_timeout_s, stopwatch)
    data = SessionData(symbols, base, derived)
    subs = {name: StreamSubscription(name, stop, stopwatch) for name in
            ("Coordinator→Processor", "Coordinator→Upkeep", "Processor→Analysis")}
    link = None
    if config.broker.kind == "alpaca":  # live only (config rules); imported here: a backtest never loads it
        from app.runtime.broker_link import make_broker_link

        link = make_broker_link(config, tm, sessions[0], stop, supervisor.record_failure,
                                feed.stats if feed is not None else None, stopwatch)
    broker = link.broker if link is not None else SimulatedBroker(config.trading)
    ctx = StrategyContext(symbols, base.label, {i.key: i.interval.label for i in indicators}, broker, tm)
    history_specs, hist_inds = _history(config)
    speed = config.backtest.speed_multiplier if config.backtest and not live_mode else 0.0
    paced = live_mode or speed > 0
    metrics = RunMetrics(mode_name(config), speed)
    plan = CoordinatorPlan(sessions, symbols, base, history_specs, hist_inds, config.historical.enable_quality)
    fail = supervisor.record_failure
    outputs = (subs["Coordinator→Processor"], subs["Coordinator→Upkeep"])
    fill = None
    history: BarSource
    steps: StepSource
    recording = _recording(config, record_to, tm, symbols, base)
    tap = recording[1] if recording is not None else None
    if feed is not None:
        history, steps, fill = _live_input(config, feed, store, tm, symbols, base, stop, outputs, metrics, stopwatch,
                                           tap)
    elif replay is not None:
        from app.threads.replay_step_source import ReplayStepSource

        assert isinstance(tm.clock, SteppedClock)
        history = replay
        steps = replay_steps = ReplayStepSource(replay, symbols, base, outputs, metrics, stop, tm.clock,
                                                config.run.batch_steps, stopwatch)
        replay_steps.tap = tap
    else:
        history = WindowedBarSource(store, tm, base, sessions, _trailing(history_specs, base),
                                    window_sessions(len(symbols), _bars_per_session(tm, sessions[0], base)))
        stored: ClockDrivenSteps | DataDrivenSteps
        if speed > 0:
            assert isinstance(tm.clock, ScaledClock)
            stored = ClockDrivenSteps(history, symbols, base, outputs, metrics, stop, tm.clock, stopwatch)
        else:
            assert isinstance(tm.clock, SteppedClock)
            stored = DataDrivenSteps(history, symbols, base, outputs, metrics, stop, tm.clock, config.run.batch_steps,
                                     stopwatch)
        stored.missing = MissingBars(config.data.on_missing, store, tm)  # a symbol without bars in a session
        stored.tap = tap
        steps = stored
    if recording is not None:
        from app.recording.taps import RecordingBarSource

        history = RecordingBarSource(history, recording[0])
        on_session_done = recording[1].done_then(on_session_done)
    coordinator = SessionCoordinator(plan, history, steps, tm, data, outputs, metrics, stop, fail, on_session_done,
                                     stopwatch)
    processor = DataProcessor(symbols, base, derived, IndicatorBank(indicators), subs["Coordinator→Processor"],
                              subs["Processor→Analysis"], metrics, tm.clock, paced, stop, fail, stopwatch,
                              format_ns=tm.format_ns)
    upkeep = DataUpkeep(symbols, base, tm, subs["Coordinator→Upkeep"], metrics,
                        config.gap_filler.enable_session_quality, stop, fail, fill, stopwatch=stopwatch)
    engine = AnalysisEngine(strategy, ctx, broker, tm, subs["Processor→Analysis"], metrics, stop, fail,
                            gate=steps.gate, stopwatch=stopwatch,
                            max_steps=min(1 << 24, sum(_bars_per_session(tm, d, base) for d in sessions)))
    if link is not None:
        link.follow(engine)
    if paced:
        supervisor.drain = coordinator.request_drain  # Ctrl-C ends the session cleanly, keeps its report
    if recording is not None and isinstance(broker, SimulatedBroker):
        from app.recording.decisions import DecisionTap

        engine.decisions = DecisionTap(recording[0], broker, ctx)
    return Pipeline(config, tm, data, stop, supervisor, broker, strategy, metrics, subs, coordinator, processor,
                    upkeep, engine, plan, derived, tuple(i.key for i in indicators),
                    feed_stats=feed.stats if feed is not None else None, stopwatch=stopwatch,
                    recording=recording[0] if recording is not None else None, broker_link=link)
