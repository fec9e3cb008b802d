"""ReplayStepSource: a recorded session replayed data-driven through the same pipeline.

Chosen once by `runtime/build.py` when ``run.replay`` names a recording (``python -m
app.backtest --replay RUN_DIR``). Its `RecordedBarSource` serves what the recording holds: each
session's history as the live run loaded it, and its base bars -- as the recorded steps held
them (``run.replay_bars: recorded``: a live step holds the bars of its start that were in before
it went out, so `build_steps` over them gives back the same steps with the same bars, and a bar
that came late, or was filled or restated after the decision, is in no step, as live), or as a
store would hold them after the session (``final``: a plain backtest over the final bars). The
session streams over the recorded span, with the catch-up bars of a run that joined late put
in history as live put them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from app.feeds.base import HistoryLoad, SessionLoad
from app.feeds.stored import concat_bars
from app.metrics.collect import RunMetrics
from app.recording.reader import Recording, SessionSpan
from app.store.bar import BarArrays, Interval, empty_bars
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription
from app.threads.step_sources import DataDrivenSteps
from app.timing.clocks import SteppedClock
from app.timing.stopwatch import Stopwatch

__all__ = ["RecordedBarSource", "ReplayStepSource"]


class RecordedBarSource:
    """A `BarSource` over a recording: recorded history loads and each session's base bars.

    `final` False gives the bars as the steps held them, True as a store would hold them after
    the session (`Recording.final_bars`).
    """

    def __init__(self, recording: Recording, final: bool) -> None:
        self.recording = recording
        self.final = final
        self.spans = {s.session: s for s in recording.sessions()}
        self._session: date | None = None
        self._bars: dict[date, dict[str, BarArrays]] = {}

    def begin_session(self, session: date) -> None:
        self._session = session

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        assert self._session is not None
        load = self.recording.history(self._session, symbol, interval.label)
        return load if load is not None else HistoryLoad(empty_bars(), tuple((0, 0) for _ in days))

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        bars = self._bars.get(session)
        if bars is None:
            rec = self.recording
            bars = self._bars[session] = rec.final_bars(self.spans[session]) if self.final else rec.step_bars(session)
        return SessionLoad(bars.get(symbol, empty_bars()))


class ReplayStepSource(DataDrivenSteps):
    """Data-driven steps over a `RecordedBarSource`, each session over its recorded span."""

    def __init__(self, source: RecordedBarSource, symbols: Sequence[str], base: Interval,
                 outputs: Sequence[StreamSubscription], metrics: RunMetrics, stop_token: StopToken,
                 clock: SteppedClock, batch_steps: int, stopwatch: Stopwatch | None = None) -> None:
        super().__init__(source, symbols, base, outputs, metrics, stop_token, clock, batch_steps, stopwatch)
        self.recorded = source

    def prepare(self, state: SessionState) -> None:
        super().prepare(state)
        span: SessionSpan = self.recorded.spans[state.session]
        state.stream_start_ns, state.stream_end_ns = span.stream_start_ns, span.stream_end_ns
        label = self.base.label
        for symbol, bars in self.recorded.recording.catch_up(state.session, label).items():
            key = (symbol, label)
            earlier = state.history.get(key)
            state.history[key] = bars if earlier is None else concat_bars([earlier, bars])
