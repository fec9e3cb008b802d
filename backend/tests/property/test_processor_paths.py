"""The DataProcessor's two paths agree bit for bit: one-step batches worked across symbols at once
(live, clock-driven) and many-step batches worked symbol by symbol (data-driven backtests),
in any mix: derived bars, skipped counts, indicator values and the per-step visible counts."""

from __future__ import annotations

from datetime import date

import numpy as np
from app.indicators.bank import IndicatorBank, SessionIndicator
from app.indicators.registry import SESSION_INDICATORS
from app.metrics.collect import RunMetrics
from app.store.bar import BarArrays, parse_interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import WaitStatus
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.processor import DataProcessor
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ANCHOR

SECOND = 1_000_000_000
BASE = parse_interval("1s")
DERIVED = [parse_interval(label) for label in ("2s", "3s", "4s", "6s", "1d")]


class _Outbox:
    """Stands in for the Processor->Analysis subscription: keeps what is published."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def publish(self, event: object) -> int:
        self.events.append(event)
        return len(self.events)

    def check_overrun(self, now_ns: int) -> bool:
        return False

    def wait_ack(self, seq: int, timeout_s: float | None = None) -> WaitStatus:
        return WaitStatus.READY


class _Clock:
    def now_ns(self) -> int:
        return 0


@st.composite
def sessions(draw):
    n = draw(st.integers(1, 4))
    slots = draw(st.integers(1, 40))
    fill = draw(st.sampled_from([0.5, 0.9, 1.0]))
    # Bar values from a drawn seed (cheap to generate); the structure is what hypothesis shrinks.
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    present = rng.random((slots, n)) < fill
    low = 10.0 ** rng.uniform(-1, 4, (slots, n))
    high = low * (1 + rng.random((slots, n)))
    prices = np.stack(
        [
            low + (high - low) * rng.random((slots, n)),
            high,
            low,
            low + (high - low) * rng.random((slots, n)),
            rng.random((slots, n)) * 10.0 ** rng.integers(0, 7, (slots, n)),
        ],
        axis=2,
    )
    history = draw(st.integers(0, 12))
    derived = draw(st.lists(st.sampled_from(DERIVED), max_size=3, unique=True))
    labels = [BASE.label, *(i.label for i in derived)]
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(SESSION_INDICATORS), st.integers(1, 6), st.sampled_from(labels)
            ),
            max_size=4,
            unique=True,
        )
    )
    # Steps: every slot (a live stream publishes steps without bars too) or only slots with bars.
    every_slot = draw(st.booleans())
    return n, slots, present, prices, history, derived, specs, every_slot


def _run(case, batch_sizes, hints=False):
    n, slots, present, prices, history, derived, specs, every_slot = case
    symbols = [f"S{i}" for i in range(n)]
    state = SessionState(date(2024, 1, 2), ANCHOR, ANCHOR + slots * SECOND, False)
    rng = np.random.default_rng(3)
    for s, symbol in enumerate(symbols):
        for interval in (BASE, *derived):
            k = history if not interval.is_daily else min(history, 3)
            step = interval.ns if not interval.is_daily else 86_400 * SECOND
            starts = ANCHOR - step * np.arange(k, 0, -1, dtype=np.int64)
            close = 10.0 + s + rng.random(k).cumsum()
            state.history[(symbol, interval.label)] = BarArrays(
                starts, close, close + 1, close - 1, close, rng.random(k) * 100
            )
        state.bars[(symbol, BASE.label)] = BarSeries(f"{symbol}/1s", capacity=4)
    bank = IndicatorBank(
        [
            SessionIndicator(
                name,
                period,
                parse_interval(label),
                params={"num_std": 1.5} if name.startswith("bbands") else {},
            )
            for name, period, label in specs
        ]
    )
    out = _Outbox()
    proc = DataProcessor(
        symbols,
        BASE,
        derived,
        bank,
        None,
        out,
        RunMetrics("live", 0),
        _Clock(),
        True,
        StopToken(),
        lambda failure: None,
    )
    proc._begin(SessionStart(0, state))
    feed_steps(proc, state, symbols, present, prices, batch_sizes, every_slot, ANCHOR, hints=hints)
    proc._end(SessionEnd(0, state))
    counts = {
        i.label: np.concatenate(
            [e.derived[i.label] for e in out.events if isinstance(e, StepBatch)]
            or [np.zeros((0, n), np.int32)]
        )
        for i in derived
        if not i.is_daily
    }
    return state, counts



def feed_steps(proc: DataProcessor, state: SessionState, symbols: list[str], present: np.ndarray,
               prices: np.ndarray, batch_sizes: list[int], every_slot: bool, origin: int,
               hints: bool = False) -> None:
    """Append each step's bars (``present[k, s]``: symbol s has a bar in 1s slot k from `origin`)
    and hand the processor `StepBatch`es of `batch_sizes` steps in turn (empty steps too when
    `every_slot`). With `hints`, a one-step batch carries its bars as columns and, when every
    symbol has its bar at the same row, that row (`StepBatch.every_row`), as the live emitter's."""
    n = len(symbols)
    steps = [k for k in range(present.shape[0]) if every_slot or present[k].any()]
    rows = np.zeros(n, dtype=np.int64)
    lo, b = 0, 0
    while lo < len(steps):
        hi = min(len(steps), lo + batch_sizes[b % len(batch_sizes)])
        b += 1
        idx = np.full((hi - lo, n), -1, dtype=np.int64)
        for i, k in enumerate(steps[lo:hi]):
            for s in np.flatnonzero(present[k]).tolist():
                state.bars[(symbols[s], BASE.label)].append_one(origin + k * SECOND, *prices[k, s].tolist())
                idx[i, s] = rows[s]
                rows[s] += 1
        ends = origin + (np.asarray(steps[lo:hi], dtype=np.int64) + 1) * SECOND
        if hints and hi - lo == 1:
            which = np.flatnonzero(idx[0] >= 0)
            k = steps[lo]
            bars = BarArrays(np.full(which.shape[0], origin + k * SECOND, dtype=np.int64),
                             *(np.ascontiguousarray(prices[k, which, c]) for c in range(5)))
            every = which.shape[0] == n and int(idx[0].min()) == int(idx[0].max())
            proc._step(StepBatch(lo, hi, ends, idx, rows.copy(), bars=bars,
                                 every_row=int(idx[0, 0]) if every else -1))
        else:
            proc._step(StepBatch(lo, hi, ends, idx, rows.copy()))
        lo = hi

def _same(a, b):
    state_a, counts_a = a
    state_b, counts_b = b
    assert counts_a.keys() == counts_b.keys()
    for label in counts_a:
        assert np.array_equal(counts_a[label], counts_b[label]), label
    assert state_a.derived_skipped == state_b.derived_skipped
    assert state_a.bars.keys() == state_b.bars.keys()
    for key, series in state_a.bars.items():
        for col_a, col_b in zip(series.view(), state_b.bars[key].view(), strict=True):
            assert col_a.tobytes() == col_b.tobytes(), key
    assert state_a.indicators.keys() == state_b.indicators.keys()
    for key, values in state_a.indicators.items():
        assert values.view().tobytes() == state_b.indicators[key].view().tobytes(), key


@settings(deadline=None)
@given(case=sessions(), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6))
def test_one_step_batches_equal_whole_batches_and_any_mix(case, sizes):
    whole = _run(case, [10**6])  # the data-driven path: one batch, symbol by symbol
    _same(_run(case, [1]), whole)  # clock-driven: one step per batch, across symbols
    _same(_run(case, [1], hints=True), whole)  # live: the bars as columns, every symbol's row
    _same(_run(case, sizes, hints=True), whole)
    _same(_run(case, sizes), whole)  # batch sizes switching between the two paths
