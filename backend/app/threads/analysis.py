"""AnalysisEngine: walks published steps one at a time; strategy -> risk -> simulated broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from app.bars.step_bars import step_bars, symbol_bars
from app.execution.ledger import equity_points
from app.execution.paper import SimulatedBroker
from app.metrics.collect import RunMetrics
from app.store.equity import EquityLog
from app.store.session_data import SessionState
from app.strategies.base import Strategy
from app.strategies.context import StrategyContext
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.pause import PauseGate
from app.timing.stopwatch import Stopwatch
from app.timing.time_manager import TimeManager

if TYPE_CHECKING:
    from app.recording.decisions import DecisionTap

__all__ = ["AnalysisEngine", "EngineResults"]


@dataclass
class EngineResults:
    """What the engine produced; written by the engine thread, read after it acked a session."""

    log: EquityLog = field(default_factory=EquityLog)
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)
    steps: int = 0
    bars: int = 0

    @property
    def equity_ns(self) -> np.ndarray:
        """Step end times of the equity curve (one point per step)."""
        return self.log.ns

    @property
    def equity(self) -> np.ndarray:
        return self.log.equity

    @property
    def cash(self) -> np.ndarray:
        return self.log.cash


def _split(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    # [(equity, cash), ...] -> ([equity, ...], [cash, ...])
    if not points:
        return [], []
    equity, cash = zip(*points, strict=True)
    return list(equity), list(cash)


def _books(broker: SimulatedBroker, symbols: tuple[str, ...]) -> dict[str, tuple[int, float, float | None]]:
    # Each symbol's (quantity, average price, mark) at a session's start or end: the session
    # record's per-symbol P&L and open positions (runtime/records.py, metrics/stats.py).
    held = broker.positions
    return {s: ((p.quantity, p.avg_price) if (p := held.get(s)) else (0, 0.0)) + (broker.last_price(s),)
            for s in symbols}


class AnalysisEngine(SessionThread):
    """Runs the strategy on each step in order, never ahead of its own cursor (no lookahead).

    The DataProcessor may publish many steps at once (a watermark); the engine walks them one
    by one, setting the context's clock to each step's end before the strategy sees its bars.
    Sole user of the broker and the strategy.
    """

    def __init__(self, strategy: Strategy, ctx: StrategyContext, broker: SimulatedBroker,
                 tm: TimeManager, inbox: StreamSubscription, metrics: RunMetrics,
                 stop_token: StopToken, on_failure: FailureSink, gate: PauseGate,
                 stopwatch: Stopwatch | None = None, max_steps: int = 4096) -> None:
        super().__init__(stop_token, on_failure)
        self.stopwatch = stopwatch or Stopwatch()  # times each batch (two readings per batch)
        self.gate = gate  # the step source's: a paused backtest stops here too, before the next step
        self.strategy, self.ctx, self.broker, self.tm = strategy, ctx, broker, tm
        self.inbox = inbox
        self.metrics = metrics
        # The equity log is sized once for the run (at most a step per expected base bar): no
        # doubling copies, and its pages are only touched as points are written.
        self.results = EngineResults(EquityLog(max_steps))
        self.where = self._where
        self._state: SessionState | None = None
        self._in_session = False  # between a SessionStart and its SessionEnd
        self._session_start = (0.0, 0, 0, 0)
        self._books_start: dict[str, tuple[int, float, float | None]] = {}
        self.decisions: DecisionTap | None = None  # recording: orders, fills, rejections per step

    def _where(self) -> tuple[str | None, str | None]:
        s = self._state
        if s is None:  # before the first session the cursor has no time yet
            return None, None
        return self.tm.format_ns(self.ctx.now_ns), s.session.isoformat()

    def run(self) -> None:
        try:
            self._run()
        finally:
            if self._in_session:  # stopped inside a session (a failure, a second Ctrl-C)
                self.ctx.end_session(stopped=True)

    def _run(self) -> None:
        after = 0
        while True:
            status, seq = self.inbox.wait(after)
            if status is not WaitStatus.READY:
                return
            for event in self.inbox.events(after, seq):
                if isinstance(event, StepBatch):
                    self._walk(event)
                elif isinstance(event, SessionStart):
                    self._begin(event.state)
                elif isinstance(event, SessionEnd):
                    self._end(event)
            self.inbox.ack(seq)
            after = seq

    def _begin(self, state: SessionState) -> None:
        self._state = state
        self._in_session = True
        ctx = self.ctx
        ctx.begin_session(state)
        broker = self.broker
        self._session_start = (broker.equity, len(broker.fills), len(broker.rejections), len(broker.closed_trades))
        self._books_start = _books(broker, ctx.symbols)
        if self.decisions is not None:
            self.decisions.begin(state)
        self.strategy.on_session_start(ctx)

    def _walk(self, batch: StepBatch) -> None:
        # The per-bar path: one step at a time (the cursor), each bar to the broker then the
        # strategy; one equity point per step; one timing per batch (shared by its steps).
        t_batch = self.stopwatch.now_ns()
        ctx = self.ctx
        state = self._state
        assert state is not None
        ends = batch.ends.tolist()
        ctx.begin_batch(batch.derived)
        if batch.received_ns:  # live: latency from the socket to this callback
            self.metrics.stat("feed_to_strategy").record(max(0, self.tm.now_ns() - batch.received_ns))
        eq: list[float] | np.ndarray
        cash: list[float] | np.ndarray
        single = False
        if batch.every_row < 0 or len(ctx.symbols) == 1:  # else a live step of every symbol: many bars
            ks, ss = np.nonzero(batch.base_idx >= 0)
            single = ks.shape[0] == len(ends) and (len(ctx.symbols) == 1 or bool(np.all(np.diff(ks) == 1)))
        if single:
            if len(ctx.symbols) == 1 and len(ends) > 1 and self.broker.steady_between_fills \
                    and self.broker.holding(ctx.symbols[0]) is not None:
                eq_ns, eq, cash, walked = self._walk_one(state, batch, ends)
            else:
                bars = symbol_bars(ctx.symbols, [state.bars[(symbol, ctx.base_interval)] for symbol in ctx.symbols],
                                   batch.base_idx)
                eq_ns, eq, cash, walked = self._walk_single(bars, ss, batch.base_idx[ks, ss], ends)
        else:
            eq_ns, eq, cash, walked = self._walk_many(state, batch, ends)
        self.results.log.extend(eq_ns, eq, cash)
        if self.decisions is not None:
            self.decisions.after_steps(batch.lo, eq_ns)
        steps = len(eq_ns)
        self.results.steps += steps
        self.results.bars += walked
        if steps:
            self.metrics.stat("analysis_engine").record_many(self.stopwatch.elapsed_ns(t_batch) // steps, steps)

    def _walk_one(self, state: SessionState, batch: StepBatch,
                  ends: list[int]) -> tuple[list[int], np.ndarray, np.ndarray, int]:
        # One symbol, a bar in every step of the batch, a paper broker: the leanest loop. The
        # account moves only at a `mark` that returns True (a fill), so the loop notes the
        # (cash, quantity) from there on, and the equity points are worked out after it as
        # cash + quantity * close: the floats `account` gives step by step (`Ledger.holding`).
        ctx, on_bar, gate, broker = self.ctx, self.strategy.on_bar, self.gate, self.broker
        symbol = ctx.symbols[0]
        series = state.bars[(symbol, ctx.base_interval)]
        [(bars, first)] = symbol_bars(ctx.symbols, [series], batch.base_idx)  # type: ignore[misc]  # a bar per step
        step, mark, holding = ctx.step, broker.mark, broker.holding
        held = holding(symbol)
        assert held is not None  # checked by the caller
        at, cashes, qtys = [0], [held[0]], [held[1]]
        walked = len(bars)
        for k, bar in enumerate(bars):
            if gate.paused and not self._hold(gate):
                walked = k
                break
            step(ends[k], k, 0, first + 1 + k)
            if mark(bar):
                held = holding(symbol)
                assert held is not None  # a one-symbol account holds nothing else
                at.append(k)
                cashes.append(held[0])
                qtys.append(held[1])
            on_bar(ctx, bar)
        closes = series.view(first + walked).close[first:]
        return (ends[:walked], *equity_points(at, cashes, qtys, closes), walked)

    def _walk_single(self, bars: list[Any], ss: np.ndarray, rows: np.ndarray,
                     ends: list[int]) -> tuple[list[int], list[float], list[float], int]:
        # Every step holds one bar (one symbol, or symbols taking turns): the lean loop.
        ctx, on_bar, gate = self.ctx, self.strategy.on_bar, self.gate
        step, mark, account = ctx.step, self.broker.mark, self.broker.account_probe()
        points: list[tuple[float, float]] = []
        point = points.append
        if len(bars) == 1:  # one symbol: its bars in order, one per step
            symbol_bars, first = bars[0]
            order: Any = zip(repeat(0), range(first + 1, first + 1 + len(symbol_bars)), symbol_bars)
        else:
            order = ((s, row + 1, bars[s][0][row - bars[s][1]])
                     for s, row in zip(ss.tolist(), rows.tolist(), strict=True))
        for k, (s, count, bar) in enumerate(order):
            if gate.paused and not self._hold(gate):
                return ends[:k], *_split(points), k
            step(ends[k], k, s, count)
            mark(bar)
            on_bar(ctx, bar)
            point(account())  # one equity point per step, once its bar was seen
        return ends, *_split(points), len(points)

    def _walk_many(self, state: SessionState, batch: StepBatch,
                   ends: list[int]) -> tuple[list[int], list[float], list[float], int]:
        # Steps with several bars. One visibility rule (strategies/context.py): every bar of the
        # step is marked in the broker and revealed before the step's first callback, then
        # on_bar runs per bar in symbol order; the equity point after the step. The bars come
        # in (step, symbol) order, built in one vectorised pass (`app.bars.step_bars`).
        ctx, on_bar, gate = self.ctx, self.strategy.on_bar, self.gate
        advance, reveal, account = ctx.advance, ctx.reveal_all, self.broker.account_probe()
        mark_all = self.broker.mark_all
        # A live step brings its bars as columns (`StepBatch.bars`): no series is read then.
        one_step = batch.bars is not None and batch.base_idx.shape[0] == 1
        series = [] if one_step else [state.bars[(symbol, ctx.base_interval)] for symbol in ctx.symbols]
        flat, bounds, counts = step_bars(ctx.symbols, series, batch.base_idx, ctx.base_counts, batch.bars,
                                         batch.every_row)
        eq_ns: list[int] = []
        eq: list[float] = []
        cash: list[float] = []
        walked = 0
        for k in range(len(ends)):
            lo, hi = bounds[k], bounds[k + 1]
            if lo == hi:  # no bar in this step (live: no trade in any symbol)
                continue
            if gate.paused and not self._hold(gate):
                break
            advance(ends[k], k)
            shown = flat[lo:hi]
            mark_all(shown)
            reveal(counts[k])
            for bar in shown:
                on_bar(ctx, bar)
            walked += hi - lo
            equity, money = account()  # one equity point per step, once every bar of it was seen
            eq_ns.append(ends[k])
            eq.append(equity)
            cash.append(money)
        return eq_ns, eq, cash, walked

    def _hold(self, gate: PauseGate) -> bool:
        # Paused (data-driven runs publish ahead of the engine): wait before the next step.
        while not gate.wait_open(0.1):
            if self.stop_token.is_set():
                return False
        return True

    def _end(self, event: SessionEnd) -> None:
        state = event.state
        ctx = self.ctx
        ctx.finish(state.streamed[1])  # the close, or where a drain / live stop ended the stream
        self.strategy.on_session_end(ctx)
        expired = ctx.expire_day_orders(state.close_ns)  # unfilled DAY orders placed before the close
        ctx.end_session()
        self._in_session = False
        if self.decisions is not None:
            self.decisions.end()
        equity0, fills0, rej0, trades0 = self._session_start
        broker = self.broker
        self.results.sessions[event.index] = {
            "equity_start": equity0,
            "equity_end": broker.equity,
            "fills": len(broker.fills) - fills0,
            "orders_rejected": len(broker.rejections) - rej0,
            "rejections": [r.reason for r in broker.rejections[rej0:]],
            "orders_expired": len(expired),
            "expired": expired,
            "closed_trades": broker.closed_trades[trades0:],
            "session_fills": broker.fills[fills0:],
            "books_start": self._books_start,
            "books_end": _books(broker, ctx.symbols),
        }
        broker.forget_rejections()  # they are in the session's record now (memory stays flat)
