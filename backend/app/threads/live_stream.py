"""LiveStream: the SessionCoordinator's live input -- feed bars become steps on the wall clock.

Runs on the coordinator thread (it owns the feed and is the only writer of base series). Per
session: wait for the open (or join at the step in progress, or where `catch_up` left the
history), poll the feed, file each bar with a `StepAssembler`, and publish every step that may
close as a one-step `StepBatch`, the same event backtests publish. Late bars and restatements of
published bars are kept and counted on the SessionState; nothing is shown out of order or before
its interval is over. A step whose grace ran out with bars missing (feed in sync) asks REST for
them and waits up to ``fill_wait`` (fill at grace): the strategy decides on a backtest's bars.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date

from app.errors import FeedError
from app.feeds.live import LiveBar, LiveFeed
from app.feeds.live_block import BarBlock
from app.feeds.live_fill import fill_request, read_fill_answer
from app.feeds.live_source import FetchBars, LiveBarSource
from app.feeds.live_steps import Arrival, StepAssembler
from app.feeds.stored import concat_bars
from app.store.bar import Interval
from app.store.panel import BarPanel
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.threads.events import StepBatch
from app.threads.live_filing import BarFiler
from app.threads.live_gc import QuietCollector
from app.threads.live_step_source import LiveSteps, StepEmitter
from app.threads.step_sources import StreamOutcome
from app.timing.time_manager import TimeManager

__all__ = ["LiveSteps", "LiveStream", "StreamOutcome"]

log = logging.getLogger(__name__)

POLL_SLICE_S = 0.1  # longest poll: the stop token, a drain and the deadline are checked this often
DRAIN_POLL_S = 0.001  # before a fill at grace: read what the socket already holds, this long per frame
DRAIN_POLLS = 64
SETTLE_HOLD_S = 0.01  # after publishing, the coordinator sleeps this long before the recording's work


class LiveStream:
    """Feeds a live session's base series from a `LiveFeed` (coordinator thread only).

    Parameters
    ----------
    feed : LiveFeed
        Connected lazily at the first session; closed by `close`.
    deadline_ns : int or None
        Wall instant the run ends (``live.stop_after_seconds`` after the start), or None.
    grace_ns : int
        How long after its end a step with a missing symbol waits before it is published.
    fill : FetchBars or None
        REST fetcher for the fill at grace (its own connection, bounded by about `fill_wait_ns`);
        None, or `fill_wait_ns` 0, turns the fill at grace off.
    fill_wait_ns : int
        How long a step whose grace ran out with bars missing is held for them (``live.fill_wait_s``).
    """

    def __init__(self, feed: LiveFeed, source: LiveBarSource, symbols: Sequence[str], base: Interval,
                 tm: TimeManager, stop_token: StopToken, *, deadline_ns: int | None, grace_ns: int,
                 fill: FetchBars | None = None, fill_wait_ns: int = 0) -> None:
        self.feed = feed
        self.source = source
        self.symbols = tuple(symbols)
        self.base = base
        self.tm, self.stop_token = tm, stop_token
        self.deadline_ns, self.grace_ns = deadline_ns, grace_ns  # stop_after_seconds: whole steps until it
        self.fill = fill if fill_wait_ns > 0 and not base.is_daily else None
        self.fill_wait_ns = fill_wait_ns
        self.fill_waits_ns: list[int] = []  # how long each fill at grace held the stream (REST call)
        self.drain_requested = threading.Event()
        self._connected = False
        self._settle: Callable[[], None] | None = None
        self._collector = QuietCollector()
        self.filer = BarFiler(self.symbols, base, tm)
        self._panels: dict[date, BarPanel] = {}  # per session prepared: its base series' table
        # A feed that can hand a frame's bars over as one block (`AlpacaFeed.poll_blocks`) is
        # asked for blocks; any other (a recording wrapper, a test's) for its bars one by one.
        blocks = getattr(type(feed), "poll_blocks", None)
        self._poll: Callable[[float], list[LiveBar | BarBlock]] = (
            feed.poll if blocks is None else feed.poll_blocks)  # type: ignore[attr-defined,assignment]

    def close(self) -> None:
        self.feed.close()

    def prepare(self, state: SessionState) -> None:
        """Give a loaded session empty base series (filled as it streams) and, when it is already
        open, its earlier bars as history (`catch_up`)."""
        self._panels[state.session] = self._base_panel(state)
        self.catch_up(state)

    def _base_panel(self, state: SessionState) -> BarPanel:
        # One (symbols x steps) table per column; each symbol's base series is a row of it.
        cap = (state.close_ns - state.open_ns) // self.base.ns + 1
        panel = BarPanel([f"{s}/{self.base}" for s in self.symbols], cap)
        for symbol, series in zip(self.symbols, panel.series, strict=True):
            state.bars[(symbol, self.base.label)] = series
        return panel

    def catch_up(self, state: SessionState) -> None:
        """Joining a session already open: put its earlier base bars (REST) at the end of the base
        history, so indicators start warm. They are context: never replayed to ``on_bar``."""
        base = self.base
        now = self.tm.now_ns()
        if now <= state.open_ns or base.is_daily:
            return
        upto = state.open_ns + (min(now, state.close_ns) - state.open_ns) // base.ns * base.ns
        for symbol, bars in self.source.session_so_far(list(self.symbols), state.session, upto).items():
            key = (symbol, base.label)
            earlier = state.history.get(key)
            state.history[key] = bars if earlier is None else concat_bars([earlier, bars])
        state.stream_start_ns = upto  # the stream takes over where history ends

    def stream(self, state: SessionState, publish: Callable[[StepBatch], None],
               settle: Callable[[], None] | None = None) -> StreamOutcome:
        """Stream `state`'s session until its close, the deadline, a drain or a stop.

        `settle` (the recording) is called after the steps a pass published, once they had
        ``SETTLE_HOLD_S`` to reach the strategy: the coordinator sleeps meanwhile, so the
        processor and the engine get the GIL at once instead of after its bookkeeping. The
        garbage collector runs then too, never automatically while streaming (`QuietCollector`).
        """
        self._settle = settle
        tm = self.tm
        panel = self._panels.pop(state.session, None) or self._base_panel(state)
        if self.deadline_ns is not None and self.deadline_ns <= state.open_ns:
            # The run ends before this session opens (e.g. stop_after_seconds at night).
            self._wait_until(self.deadline_ns)
            return StreamOutcome.STOPPED if self.stop_token.is_set() else StreamOutcome.NOT_STARTED
        if not self._wait_until(state.open_ns):
            return StreamOutcome.STOPPED if self.stop_token.is_set() else StreamOutcome.NOT_STARTED
        step, first, end, outcome = self._span(state, now := tm.now_ns())
        state.stream_start_ns, state.stream_end_ns = first, end
        state.started_ns = max(now, first)  # the real start: 02:59:23, not its step's 02:59:00
        if not self._connected:
            self.feed.connect(backfill_from_ns=first)  # steps closed before the subscription: REST
            self._connected = True
        self.feed.forget_before(first)  # the dedupe memory of earlier sessions is not needed
        log.info("live session %s streaming from %s to %s", state.session, tm.format_ns(first), tm.format_ns(end))
        series = panel.series
        assembler = StepAssembler(self.symbols, step, state.open_ns, first, end, self.grace_ns)
        emitter = StepEmitter(panel, step, publish)
        until = (self.deadline_ns or end) if outcome is StreamOutcome.DEADLINE else end
        with self._collector:  # no automatic collection in the middle of a step (see live_gc)
            interrupted = self._pump(state, series, assembler, emitter, end, until)
        if interrupted is StreamOutcome.STOPPED:
            return interrupted
        if interrupted is StreamOutcome.DRAINED:
            outcome = interrupted
        self._finish(state, assembler, emitter, outcome, step, first, end)
        return outcome

    def _pump(self, state: SessionState, series: list[BarSeries], assembler: StepAssembler, emitter: StepEmitter,
              end: int, until: int) -> StreamOutcome | None:
        """Poll the feed and publish closed steps until the stream's end and `until` (None), a stop or a
        drain; between the two (a deadline between step boundaries) it files late bars and restatements."""
        tm = self.tm
        while True:
            if self.stop_token.is_set():
                return StreamOutcome.STOPPED
            if self.drain_requested.is_set():
                return StreamOutcome.DRAINED
            now = tm.now_ns()
            over = now >= end + self.grace_ns or (now >= end and assembler.next_start_ns >= end)
            if over and now >= until:
                return None
            if self.fill is not None and self.feed.in_sync and assembler.overdue(now, limit=1):
                # Bars already on the socket first (the loop may have been busy, e.g. a backfill).
                self._drain_socket(state, series, assembler)
                now = tm.now_ns()
                overdue = assembler.overdue(now)
                if overdue and self.feed.in_sync:
                    self._fill_at_grace(state, assembler, overdue, now)
                    now = tm.now_ns()
            if self._publish_ready(state, assembler, emitter, now):
                now = tm.now_ns()
            wait_ns = (until if over else min(assembler.next_deadline_ns(), end + self.grace_ns)) - now
            bars = self._poll(min(max(wait_ns, 0) / 1e9, POLL_SLICE_S))
            if bars:
                now = tm.now_ns()
                self._file(bars, state, series, assembler, now)

    def _publish_ready(self, state: SessionState, assembler: StepAssembler, emitter: StepEmitter, now: int) -> bool:
        """Publish the steps that may close at `now`, then settle (see `stream`); True if any was."""
        published = False
        for closed in assembler.ready(now, hold=not self.feed.in_sync):
            self.filer.note_unseen(state, closed)
            emitter.emit(closed)
            published = True
        if published:
            # The step's way to the strategy is clear before the coordinator works again.
            self.stop_token.wait(SETTLE_HOLD_S)
            if self._settle is not None:
                self._settle()
            self._collector.collect()
        return published

    def _finish(self, state: SessionState, assembler: StepAssembler, emitter: StepEmitter, outcome: StreamOutcome,
                step: int, first: int, end: int) -> None:
        """Publish what the stream's end completes; after a session's close, disconnect until the next open."""
        now = self.tm.now_ns()
        steps, dropped = assembler.drain(now)
        for closed in steps:
            self.filer.note_unseen(state, closed)
            emitter.emit(closed)
        if outcome is StreamOutcome.DRAINED:
            # The stream ends at the last step that was over when the drain was asked for.
            state.stream_end_ns = max(first, min(end, state.open_ns + (now - state.open_ns) // step * step))
        # The real end: the drain, the deadline (stop_after_seconds, not its last whole step) or the close.
        real_end = {StreamOutcome.DRAINED: now, StreamOutcome.DEADLINE: self.deadline_ns}.get(outcome) or end
        state.ended_ns = max(state.started_ns or first, min(real_end, state.close_ns))
        if dropped:
            log.warning("%d bars of unfinished steps dropped at the end of the stream", dropped)
        if outcome is StreamOutcome.CLOSE:
            # Nothing is streamed between sessions: a socket left open overnight would fill with
            # extended-hours bars (and be dropped as a slow client). Reconnect at the next open.
            self.feed.close()
            self._connected = False

    def _drain_socket(self, state: SessionState, series: list[BarSeries], assembler: StepAssembler) -> None:
        for _ in range(DRAIN_POLLS):
            bars = self._poll(DRAIN_POLL_S)
            if not bars:
                return
            self._file(bars, state, series, assembler, self.tm.now_ns())

    def _file(self, bars: list[LiveBar | BarBlock], state: SessionState, series: list[BarSeries],
              assembler: StepAssembler, now: int) -> None:
        filer = self.filer
        for bar in bars:
            if isinstance(bar, BarBlock):
                filer.file_block(bar, assembler, state, series, now)
            else:
                filer.file(bar, assembler, state, series, now)

    def _fill_at_grace(self, state: SessionState, assembler: StepAssembler, overdue: list[tuple[int, tuple[str, ...]]],
                       now: int) -> None:
        """Ask REST at once for the bars missing from steps whose grace ran out (`feeds/live_fill.py`);
        hold those steps until ``now + fill_wait`` unless they complete first."""
        assert self.fill is not None
        until = now + self.fill_wait_ns
        for start, _ in overdue:
            assembler.hold_for_fill(start, until)
        symbols, lo, hi = fill_request(overdue, assembler.grid_ns, self.base.ns, now)
        t0 = self.tm.now_ns()
        try:
            answer = self.fill(symbols, self.base, lo, hi)
        except FeedError as e:
            if e.fatal:
                raise
            log.warning("fill at grace for %s from %s failed: %s", ",".join(symbols), self.filer.iso(lo), e)
            answer = {}
        received = self.tm.now_ns()
        self.fill_waits_ns.append(received - t0)
        found = read_fill_answer(overdue, answer, received)
        for bar in found.filled:
            if assembler.add(bar, received) is Arrival.PENDING:  # held: it goes into the step
                state.decision_fills.setdefault(bar.symbol, {})[bar.start_ns] = "filled"
                log.info("filled at decision: %s %s (REST, %.0f ms after the grace ran out)", bar.symbol,
                         self.filer.iso(bar.start_ns), (received - t0) / 1e6)
        for symbol, start in found.no_trades:
            assembler.settle(start, symbol)
            state.decision_fills.setdefault(symbol, {})[start] = "no_trades"
            log.info("no trades: %s %s (REST holds a later bar, not this one)", symbol, self.filer.iso(start))
        for symbol, start in found.absent:
            log.info("not in REST yet: %s %s; its step waits for the stream until %s", symbol, self.filer.iso(start),
                     self.filer.iso(until))

    def _span(self, state: SessionState, now: int) -> tuple[int, int, int, StreamOutcome]:
        """Return (step length, first step start, stream end, outcome at the end) for a session."""
        if self.base.is_daily:  # one step per session, published at the close
            step, first = state.close_ns - state.open_ns, state.open_ns
        elif state.stream_start_ns is not None:  # set by `catch_up`: history holds the bars before
            step, first = self.base.ns, state.stream_start_ns
        else:  # the step in progress: its bar closes after we subscribe
            step = self.base.ns
            first = state.open_ns + (now - state.open_ns) // step * step
        if self.deadline_ns is not None and self.deadline_ns < state.close_ns:
            end = max(first, state.open_ns + (self.deadline_ns - state.open_ns) // step * step)
            return step, first, end, StreamOutcome.DEADLINE
        return step, first, state.close_ns, StreamOutcome.CLOSE

    def _wait_until(self, instant_ns: int) -> bool:
        while True:
            remaining = self.tm.clock.real_seconds_until(instant_ns)
            if remaining <= 0:
                return True
            if self.drain_requested.is_set() or self.stop_token.wait(min(remaining, 0.2)):
                return not self.stop_token.is_set() and not self.drain_requested.is_set()
