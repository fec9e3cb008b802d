"""Taps that feed a `RecordingWriter`: bars and steps (coordinator, upkeep), decisions (engine).

`StepTap` matches each published step's bars against the bars received (`RecordingFeed`, the
REST fetchers wrapped by `recording_fetch`), so every received bar is written with the step it
went into, or what became of it (`app.recording.schema.BAR_OUTCOMES`). Rows are written when
their fate is known: a step's bars with the step, a late bar with the next step, the rest at the
session's end. `RecordingBarSource` records each session's history as loaded. `DecisionTap`
records orders, fills and rejections after each batch the engine walks (`app.recording.decisions`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from app.feeds.base import BarSource, HistoryLoad, SessionLoad
from app.feeds.live import LiveBar, LiveFeed
from app.feeds.live_block import BarBlock
from app.feeds.live_steps import bar_reject_reason
from app.recording.writer import RecordingWriter
from app.store.bar import BarArrays, Interval
from app.store.session_data import SessionState
from app.sync.lock import make_lock
from app.threads.events import StepBatch

__all__ = ["RecordingBarSource", "RecordingFeed", "StepTap", "recording_fetch"]

FetchBars = Callable[[list[str], Interval, int, int], dict[str, BarArrays]]


def _bars_of(symbol: str, arrays: BarArrays, received_ns: int) -> list[LiveBar]:
    cols = [c.tolist() for c in arrays]
    return [LiveBar(symbol, s, o, h, lo, c, v, 0, float("nan"), "bar", received_ns)
            for s, o, h, lo, c, v in zip(*cols, strict=True)]


class StepTap:
    """Writes the ``bars``, ``steps``, ``sessions``, ``history`` and ``minutes`` tables.

    `received` (coordinator, from the feed and the fill at grace) and `after_decision` (DataUpkeep,
    its REST refetches) file bars; `step` (coordinator, after each hand-off) writes the steps and
    every bar whose fate is known, and flushes; `session_done` settles the rest of a session.
    One lock: the upkeep thread shares the bar table with the coordinator.
    """

    def __init__(self, writer: RecordingWriter, symbols: Sequence[str], base: Interval,
                 now_ns: Callable[[], int]) -> None:
        self.symbols = tuple(symbols)
        self.base = base
        self.now_ns = now_ns
        self.lock = make_lock()
        t = writer.table
        self._bars, self._steps, self._sessions = t("bars"), t("steps"), t("sessions")
        self._history, self._minutes = t("history"), t("minutes")
        self._next_id = 0
        self._inbox: dict[tuple[str, int], list[tuple[int, LiveBar, str]]] = {}
        self._deferred: list[Sequence[LiveBar | BarBlock]] = []  # polls not yet filed (`received_later`)
        self._published: dict[tuple[str, int], tuple[float, ...]] = {}
        self._state: SessionState | None = None

    # -- bars in (coordinator: feed and fill at grace; upkeep: refetches) ------------------------

    def received(self, bars: Sequence[LiveBar], source: str | None = None) -> None:
        """File bars as received; `source` None names each from the bar (stream, backfill, restatement)."""
        with self.lock:
            self._file_deferred()
            self._file(bars, source)

    def received_later(self, items: Sequence[LiveBar | BarBlock]) -> None:
        """`received` for the feed's bars and blocks of one poll, filed at the next call of this tap
        (after the step they make is on its way: a block's bars are made then), in arrival order."""
        with self.lock:
            self._deferred.append(items)

    def _file_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for items in deferred:
            for item in items:
                self._file(item.bars() if isinstance(item, BarBlock) else (item,), None)

    def _file(self, bars: Sequence[LiveBar], source: str | None) -> None:
        for bar in bars:
            src = source or ("restatement" if bar.kind == "updated" else bar.origin)
            self._inbox.setdefault(bar.key, []).append((self._id(), bar, src))

    def after_decision(self, symbol: str, arrays: BarArrays, received_ns: int) -> None:
        """REST bars asked for after their steps were published (DataUpkeep's gap filling)."""
        with self.lock:
            self._file_deferred()
            session = self._session()
            for bar in _bars_of(symbol, arrays, received_ns):
                shown = self._published.get(bar.key)
                outcome = ("after_decision" if shown is None else
                           "duplicate" if shown == _values(bar) else "correction")
                self._write_bar(self._id(), bar, "rest_fill", session, -1, outcome)

    # -- steps (coordinator) --------------------------------------------------------------------

    def step(self, state: SessionState, batch: StepBatch, published_ns: int | None = None) -> None:
        """Write the batch's steps, their bars and every bar now settled; flush (one step: one batch).

        `published_ns` is when the batch was handed off, for a caller that records it later (live:
        `LiveSteps`); None: now.
        """
        with self.lock:
            self._file_deferred()
            if state is not self._state:
                self._begin(state)
            now = self.now_ns() if published_ns is None else published_ns
            base, label, session = self.base, self.base.label, state.session
            for i in range(batch.hi - batch.lo):
                k, end = batch.lo + i, int(batch.ends[i])
                ids = []
                start = end - base.ns
                for s, symbol in enumerate(self.symbols):
                    row = int(batch.base_idx[i, s])
                    if row >= 0:
                        values = state.bars[(symbol, label)].row(row)
                        start = values[0]
                        ids.append(self._shown(symbol, values, session, k, now))
                self._steps.add((session, k, end, now, int(batch.received_ns), ids))
                self._settle(session, upto_ns=start)
            self._bars.flush()
            self._steps.flush()

    def session_done(self, state: SessionState) -> None:
        """Settle what is left of `state`'s session (late bars after its last step), note its minutes."""
        with self.lock:
            self._file_deferred()
            if state is not self._state:
                self._begin(state)
            self._settle(state.session, upto_ns=None)
            self._session_row(state, finished=True)
            for symbol, marks in state.decision_fills.items():
                for start, kind in sorted(marks.items()):
                    self._minutes.add((state.session, symbol, start,
                                       "filled_at_decision" if kind == "filled" else "no_trades"))
            for symbol, fills in state.fills.items():
                for start in sorted(getattr(fills, "no_trades", ())):
                    self._minutes.add((state.session, symbol, int(start), "no_trades_after_decision"))
            for table in (self._bars, self._sessions, self._minutes):
                table.flush()
            self._published = {}
            self._state = None

    def done_then(self, then: Callable[[int, SessionState], None]) -> Callable[[int, SessionState], None]:
        """The coordinator's session-done callback, after `session_done` (the run's journal next)."""

        def done(index: int, state: SessionState) -> None:
            self.session_done(state)
            then(index, state)

        return done

    # -- inner ----------------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _session(self) -> date | None:
        return self._state.session if self._state is not None else None

    def _begin(self, state: SessionState) -> None:
        self._state = state
        self._published = {}
        self._session_row(state, finished=False)
        label = self.base.label
        for symbol in self.symbols:  # a live run joining late: the session's earlier bars are history
            hist = state.history.get((symbol, label))
            if hist is None:
                continue
            for s, o, h, lo, c, v in zip(*(col.tolist() for col in hist), strict=True):
                if s >= state.open_ns:
                    self._history.add((state.session, symbol, label, "catch_up", s, o, h, lo, c, v))
        self._sessions.flush()
        self._history.flush()

    def _session_row(self, state: SessionState, finished: bool) -> None:
        lo, hi = state.streamed
        self._sessions.add((state.session, state.open_ns, state.close_ns, lo,
                            hi if finished or state.stream_end_ns is not None else -1, finished))

    def _shown(self, symbol: str, values: tuple[int, float, float, float, float, float], session: date,
               k: int, now: int) -> int:
        key = (symbol, values[0])
        self._published[key] = values[1:]
        versions = self._inbox.pop(key, [])
        match = next((v for v in reversed(versions) if _values(v[1]) == values[1:]), None)
        for rid, bar, src in versions:
            if match is None or rid != match[0]:
                self._write_bar(rid, bar, src, session, -1, "superseded" if match and rid < match[0] else "rejected")
        if match is None:  # no feed (a backtest, a replay): the step's bar is received as it is published
            rid = self._id()
            bar = LiveBar(symbol, values[0], *values[1:], 0, float("nan"), "bar", now)
            self._write_bar(rid, bar, "stream", session, k, "in_step")
            return rid
        self._write_bar(match[0], match[1], match[2], session, k, "in_step")
        return match[0]

    def _settle(self, session: date, upto_ns: int | None) -> None:
        # Bars of steps up to `upto_ns` (all with None) that no step took: what became of each.
        state = self._state
        stream_start = state.streamed[0] if state is not None else None
        open_ns = state.open_ns if state is not None else 0
        for key in [k for k in self._inbox if upto_ns is None or k[1] <= upto_ns]:
            for rid, bar, src in self._inbox.pop(key):
                shown = self._published.get(key)
                if shown is not None:
                    outcome = "duplicate" if shown == _values(bar) else "correction"
                elif bar_reject_reason(bar) is not None or (bar.start_ns - open_ns) % self.base.ns:
                    outcome = "rejected"
                elif stream_start is not None and bar.start_ns < stream_start:
                    outcome = "before_stream"
                else:
                    outcome = "unused" if src == "rest_fill" else "late"
                self._write_bar(rid, bar, src, session, -1, outcome)

    def _write_bar(self, rid: int, bar: LiveBar, source: str, session: date | None, step: int, outcome: str) -> None:
        self._bars.add((rid, session, bar.symbol, self.base.label, bar.start_ns, bar.open, bar.high, bar.low,
                        bar.close, bar.volume, source, bar.received_ns, step, outcome))


def _values(bar: LiveBar) -> tuple[float, ...]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


class RecordingFeed:
    """A `LiveFeed` that files every bar it delivers with a `StepTap` (delegates everything else)."""

    def __init__(self, inner: LiveFeed, tap: StepTap) -> None:
        self.inner = inner
        self.tap = tap

    def poll(self, timeout_s: float) -> list[LiveBar]:
        bars = self.inner.poll(timeout_s)
        if bars:
            self.tap.received(bars)
        return bars

    def poll_blocks(self, timeout_s: float) -> list[LiveBar | BarBlock]:
        """The inner feed's `poll_blocks` (its `poll` when it has none), filed with the tap later:
        nothing per bar on the step's way to the strategy."""
        inner = getattr(self.inner, "poll_blocks", None)
        if inner is None:
            return list(self.poll(timeout_s))
        items: list[LiveBar | BarBlock] = inner(timeout_s)
        if items:
            self.tap.received_later(items)
        return items

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def recording_fetch(fetch: FetchBars, tap: StepTap, *, after_decision: bool,
                    now_ns: Callable[[], int]) -> FetchBars:
    """Wrap a REST fetcher so that its answers are recorded (source ``rest_fill``)."""

    def fetched(symbols: list[str], interval: Interval, lo: int, hi: int) -> dict[str, BarArrays]:
        answer = fetch(symbols, interval, lo, hi)
        received = now_ns()
        for symbol, arrays in answer.items():
            if after_decision:
                tap.after_decision(symbol, arrays, received)
            else:
                tap.received(_bars_of(symbol, arrays, received), "rest_fill")
        return answer

    return fetched


class RecordingBarSource:
    """A `BarSource` that records each history load (bars, per-day counts, rejections) as it passes."""

    def __init__(self, inner: BarSource, writer: RecordingWriter) -> None:
        self.inner = inner
        self._history, self._loads = writer.table("history"), writer.table("history_loads")
        self._session: date | None = None

    def begin_session(self, session: date) -> None:
        self._session = session
        self.inner.begin_session(session)

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        load = self.inner.history(symbol, interval, days)
        with self._history.lock:
            session, label = self._session, interval.label
            for s, o, h, lo, c, v in zip(*(col.tolist() for col in load.bars), strict=True):
                self._history.add((session, symbol, label, "history", s, o, h, lo, c, v))
            self._loads.add((session, symbol, label, [list(d) for d in load.per_day],
                             json.dumps(load.rejected, sort_keys=True)))
            self._history.flush()
            self._loads.flush()
        return load

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        return self.inner.session_bars(symbol, session)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
