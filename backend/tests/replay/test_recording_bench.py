"""Cost of recording on the live per-step path (run with ``-m bench``; prints, asserts no time).

CPU time of the recording thread per step (the machine may be shared), as in a live run: every
symbol's bar is received through the tap (`StepTap.received`) and appended to its series, the
step is written with its bars (`StepTap.step`: matched, written, flushed) and one order per
symbol is written by `DecisionTap.after_steps`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from app.execution.orders import Order, OrderSide, OrderType
from app.feeds.live import LiveBar
from app.recording.decisions import DecisionTap
from app.recording.taps import StepTap
from app.recording.writer import RecordingWriter
from app.store.bar import parse_interval
from app.store.series import BarSeries
from app.threads.events import StepBatch

pytestmark = pytest.mark.bench
NS = 1_000_000_000


@dataclass
class _State:
    session: date
    open_ns: int
    close_ns: int
    bars: dict[Any, BarSeries]
    history: dict[Any, Any] = field(default_factory=dict)
    decision_fills: dict[str, Any] = field(default_factory=dict)
    fills: dict[str, Any] = field(default_factory=dict)
    stream_start_ns: int | None = None
    stream_end_ns: int | None = None

    @property
    def streamed(self) -> tuple[int, int]:
        return (self.stream_start_ns or self.open_ns, self.stream_end_ns or self.close_ns)


class _Broker:
    filled_count = 0
    fills: ClassVar[list[Any]] = []

    def on_rejection(self, rejection: Any) -> None:
        pass


class _Ctx:
    on_order: Any = None


@pytest.mark.parametrize("n_symbols", [20, 100])
def test_recording_cost_per_live_step(tmp_path: Path, n_symbols: int) -> None:
    base = parse_interval("1m")
    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    open_ns = 1_704_186_000 * NS
    state = _State(date(2024, 1, 2), open_ns, open_ns + 390 * 60 * NS,
                   {(s, "1m"): BarSeries(f"{s}/1m", capacity=400) for s in symbols})
    writer = RecordingWriter(tmp_path / "recording", {"symbols": symbols})
    clock = [open_ns]
    tap = StepTap(writer, symbols, base, lambda: clock[0])
    ctx = _Ctx()
    decisions = DecisionTap(writer, _Broker(), ctx)  # type: ignore[arg-type]
    decisions.begin(state)  # type: ignore[arg-type]
    costs = []
    for k in range(390):
        start = open_ns + k * base.ns
        end = start + base.ns
        clock[0] = end
        bars = [LiveBar(s, start, 10.0 + k, 11.0 + k, 9.0 + k, 10.5 + k, 100.0, 1, 10.2, "bar", end) for s in symbols]
        for b in bars:
            state.bars[(b.symbol, "1m")].append_one(b.start_ns, b.open, b.high, b.low, b.close, b.volume)
        batch = StepBatch(k, k + 1, np.array([end]), np.full((1, n_symbols), k, dtype=np.int64),
                          np.full(n_symbols, k + 1, dtype=np.int64))
        orders = [Order(k * n_symbols + i + 1, s, OrderSide.BUY, 1, OrderType.MARKET, None, end)
                  for i, s in enumerate(symbols)]
        t0 = time.thread_time_ns()
        tap.received(bars)
        tap.step(state, batch)  # type: ignore[arg-type]
        for order in orders:
            ctx.on_order(order, True)
        decisions.after_steps(k, [end])
        costs.append(time.thread_time_ns() - t0)
    writer.finish()
    costs.sort()
    print(f"\nrecording, {n_symbols} symbols: median {statistics.median(costs) / 1e3:.0f} us CPU per step, "  # noqa: T201
          f"p99 {costs[int(len(costs) * 0.99)] / 1e3:.0f} us "
          f"({sum(p.stat().st_size for p in (tmp_path / 'recording').iterdir()) / 1e3:.0f} kB for 390 steps)")
