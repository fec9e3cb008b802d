"""AnalysisEngine: walks published steps one at a time; strategy -> risk -> simulated broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.execution.paper import SimulatedBroker
from app.metrics.collect import RunMetrics
from app.store.bar import Bar
from app.store.session_data import SessionState
from app.strategies.base import Strategy, StrategyContext
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.pause import PauseGate
from app.timing.clocks import perf_ns
from app.timing.time_manager import TimeManager

__all__ = ["AnalysisEngine", "EngineResults"]


@dataclass
class EngineResults:
    """What the engine produced; written by the engine thread, read after it acked a session."""

    equity_ns: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)
    steps: int = 0
    bars: int = 0


class AnalysisEngine(SessionThread):
    """Runs the strategy on each step in order, never ahead of its own cursor (no lookahead).

    The DataProcessor may publish many steps at once (a watermark); the engine walks them one
    by one, setting the context's clock to each step's end before the strategy sees its bars.
    Sole user of the broker and the strategy.
    """

    def __init__(self, strategy: Strategy, ctx: StrategyContext, broker: SimulatedBroker,
                 tm: TimeManager, inbox: StreamSubscription, metrics: RunMetrics,
                 stop_token: StopToken, on_failure: FailureSink, gate: PauseGate | None = None) -> None:
        super().__init__(stop_token, on_failure)
        self.gate = gate  # backtests: a paused run stops here too, before the next step
        self.strategy, self.ctx, self.broker, self.tm = strategy, ctx, broker, tm
        self.inbox = inbox
        self.metrics = metrics
        self.results = EngineResults()
        self.where = self._where
        self._state: SessionState | None = None
        self._session_start = (0.0, 0, 0, 0)

    def _where(self) -> tuple[str | None, str | None]:
        s = self._state
        return self.tm.format_ns(self.ctx.now_ns), (s.session.isoformat() if s else None)

    def run(self) -> None:
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
        ctx = self.ctx
        ctx._begin_session(state)
        broker = self.broker
        self._session_start = (broker.equity, len(broker.fills), len(broker.rejections), len(broker.closed_trades))
        self.strategy.on_session_start(ctx)

    def _walk(self, batch: StepBatch) -> None:
        ctx, broker, on_bar = self.ctx, self.broker, self.strategy.on_bar
        state = self._state
        assert state is not None
        symbols = ctx.symbols
        base = ctx._base
        ks, ss = np.nonzero(batch.base_idx >= 0)
        rows = batch.base_idx[ks, ss]
        cols = self._columns(state, symbols, base, batch)
        ends = batch.ends.tolist()
        counts = ctx._base_count
        ctx._derived = batch.derived
        stat = self.metrics.stat("analysis_engine")
        if batch.received_ns:  # live: latency from the socket to this callback
            self.metrics.stat("feed_to_strategy").record(max(0, self.tm.now_ns() - batch.received_ns))
        eq_ns, eq, cash = self.results.equity_ns, self.results.equity, self.results.cash

        def close_step(t0: int) -> None:
            # One equity point per step, once every bar of the step has been seen.
            eq_ns.append(ctx.now_ns)
            eq.append(broker.equity)
            cash.append(broker.cash)
            stat.record(perf_ns() - t0)

        current = -1
        t0 = 0
        gate = self.gate
        for k, s, row in zip(ks.tolist(), ss.tolist(), rows.tolist(), strict=True):
            if k != current:
                if current >= 0:
                    close_step(t0)
                if gate is not None and gate.paused and not self._hold(gate):
                    return
                t0 = perf_ns()
                current = k
                ctx.now_ns = ends[k]
                ctx._row = k
            start, o, h, lo, c, v, first = cols[s]
            i = row - first
            symbol = symbols[s]
            broker.on_bar(symbol, start[i], o[i], h[i], lo[i], c[i])
            counts[s] = row + 1
            on_bar(ctx, Bar(symbol, start[i], o[i], h[i], lo[i], c[i], v[i]))
        if current >= 0:
            close_step(t0)
        self.results.steps += batch.hi - batch.lo
        self.results.bars += int(ks.shape[0])

    def _hold(self, gate: PauseGate) -> bool:
        # Paused (data-driven runs publish ahead of the engine): wait before the next step.
        while not gate.wait_open(0.1):
            if self.stop_token.is_set():
                return False
        return True

    @staticmethod
    def _columns(state: SessionState, symbols: tuple[str, ...], base: str, batch: StepBatch) -> list[Any]:
        # Python lists of this batch's rows per symbol: indexing a list is far cheaper than
        # reading numpy scalars one by one on the per-bar path.
        out: list[Any] = []
        for s, symbol in enumerate(symbols):
            col = batch.base_idx[:, s]
            present = col[col >= 0]
            if not present.shape[0]:
                out.append(None)
                continue
            first, last = int(present[0]), int(present[-1]) + 1
            view = state.bars[(symbol, base)].view(last).slice(first, last)
            out.append((*(c.tolist() for c in view), first))
        return out

    def _end(self, event: SessionEnd) -> None:
        state = event.state
        ctx = self.ctx
        ctx.now_ns = state.streamed[1]  # the close, or where a drain / live stop ended the stream
        ctx._final = True
        self.strategy.on_session_end(ctx)
        equity0, fills0, rej0, trades0 = self._session_start
        broker = self.broker
        self.results.sessions[event.index] = {
            "equity_start": equity0,
            "equity_end": broker.equity,
            "fills": len(broker.fills) - fills0,
            "orders_rejected": len(broker.rejections) - rej0,
            "rejections": [r.reason for r in broker.rejections[rej0:]],
            "closed_trades": broker.closed_trades[trades0:],
            "positions": {s: broker.position(s) for s in ctx.symbols if broker.position(s)},
        }
