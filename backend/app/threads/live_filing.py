"""BarFiler: what LiveStream does with each live bar it polls -- file it for its step, or keep,
count and log it when it is late, a restatement or rejected (coordinator thread only)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from app.feeds.live import LiveBar
from app.feeds.live_block import BarBlock
from app.feeds.live_fill import same_values
from app.feeds.live_steps import Arrival, ClosedStep, StepAssembler, bar_reject_reason
from app.store.bar import Interval, parse_interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager

__all__ = ["BarFiler"]

log = logging.getLogger("app.threads.live_stream")  # the stream's own log lines

DAY_NS = parse_interval("1d").ns


class BarFiler:
    """Files live bars with a `StepAssembler` and keeps the rest on the SessionState (`file`)."""

    def __init__(self, symbols: Sequence[str], base: Interval, tm: TimeManager) -> None:
        self.symbols = tuple(symbols)
        self.base = base
        self.tm = tm

    def file(self, bar: LiveBar, assembler: StepAssembler, state: SessionState, series: list[BarSeries],
             now: int) -> None:
        if self.base.is_daily and bar.start_ns != state.open_ns and (
                state.open_ns - DAY_NS < bar.start_ns < state.close_ns):  # in the session's day
            # Providers stamp daily bars at midnight exchange time; ours start at the session open.
            bar = dataclasses.replace(bar, start_ns=state.open_ns)
        arrival = assembler.add(bar, now)
        symbol = bar.symbol
        if arrival is Arrival.PENDING:
            return
        if arrival is Arrival.REPLACED:
            self._corrected(state, bar, "held")
            return
        if arrival is Arrival.LATE:
            if bar.start_ns < state.stream_start_ns:  # type: ignore[operator]
                return  # from before this run joined the session (e.g. a backfill): not ours
            published = series[self.symbols.index(symbol)].view()
            i = int(np.searchsorted(published.start, bar.start_ns))
            if i < len(published) and int(published.start[i]) == bar.start_ns:
                if bar.kind == "bar" and same_values(published, i, bar):
                    return  # the stream's copy of a bar the fill at grace put in the step
                # A restatement of a bar the strategy has seen: counted, the published row stays.
                self._corrected(state, bar, "published")
            else:
                state.late.setdefault(symbol, []).append(bar)
                log.info("late bar: %s %s arrived after decision (step already published)", symbol,
                         self.iso(bar.start_ns))
            return
        bucket = state.rejected.setdefault(symbol, {})
        failed = bar_reject_reason(bar) if arrival is Arrival.REJECTED else None
        reason = failed.name if failed is not None else f"live:{arrival.value}"  # same names as check_bars
        bucket[reason] = bucket.get(reason, 0) + 1
        log.warning("live bar %s %s rejected: %s", symbol, self.tm.format_ns(bar.start_ns), arrival.value)

    def file_block(self, block: BarBlock, assembler: StepAssembler, state: SessionState,
                   series: list[BarSeries], now: int) -> None:
        """File a frame's block at once when every bar of it is plainly pending, else bar by bar."""
        if not assembler.add_block(block, now):
            for bar in block.bars():
                self.file(bar, assembler, state, series, now)

    def _corrected(self, state: SessionState, bar: LiveBar, what: str) -> None:
        symbol = bar.symbol
        state.corrections[symbol] = state.corrections.get(symbol, 0) + 1
        state.corrected.setdefault(symbol, []).append(bar.start_ns)
        log.info("corrected: %s %s (restatement of a %s bar)", symbol, self.iso(bar.start_ns), what)

    def note_unseen(self, state: SessionState, closed: ClosedStep) -> None:
        """Log each symbol a step goes out without (the strategy decides without its bar)."""
        if all(b is not None for b in closed.bars):
            return
        for symbol, bar in zip(self.symbols, closed.bars, strict=True):
            if bar is None and state.decision_fills.get(symbol, {}).get(closed.start_ns) != "no_trades":
                log.info("missing at decision: %s %s (step published without it)", symbol, self.iso(closed.start_ns))

    def iso(self, ts_ns: int) -> str:
        return self.tm.to_local(ts_ns).isoformat()
