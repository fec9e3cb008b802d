"""LiveBarSource: trailing history from the store, topped up from REST for the days it lacks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from app.errors import FeedError
from app.feeds.live_source import LiveBarSource
from app.store.bar import BarArrays, parse_interval
from app.store.bar_store import BarStore
from app.store.files import write_bars
from app.timing.clocks import WallClock
from app.timing.time_manager import TimeManager

M1, D1 = parse_interval("1m"), parse_interval("1d")
DAYS = (date(2024, 3, 4), date(2024, 3, 5))  # Monday, Tuesday


def day_bars(tm: TimeManager, d: date, price: float, every: int = 1) -> BarArrays:
    starts = tm.expected_bar_starts(d, M1)[::every]
    p = np.full(starts.shape[0], price)
    return BarArrays(starts, p, p + 1, p - 1, p, np.full(starts.shape[0], 10.0))


class FakeRest:
    def __init__(self, tm: TimeManager, error: FeedError | None = None) -> None:
        self.tm, self.error, self.calls = tm, error, []

    def __call__(self, symbols, interval, start_ns, end_ns):
        self.calls.append((tuple(symbols), interval.label, start_ns, end_ns))
        if self.error is not None:
            raise self.error
        bars = BarArrays(*(np.concatenate(c) for c in zip(*(day_bars(self.tm, d, 7.0) for d in DAYS))))
        keep = (bars.start >= start_ns) & (bars.start < end_ns)
        return {symbols[0]: BarArrays(*(c[keep] for c in bars))}


@pytest.fixture
def tm() -> TimeManager:
    return TimeManager("XNYS", WallClock())


def test_days_the_store_lacks_come_from_rest_and_stored_days_stay_as_stored(tmp_path, tm):
    write_bars(tmp_path, M1, "AAPL", day_bars(tm, DAYS[0], 3.0))
    rest = FakeRest(tm)
    load = LiveBarSource(BarStore(tmp_path), tm, M1, rest).history("AAPL", M1, DAYS)
    open1, close1 = tm.session_bounds_ns(DAYS[1])
    assert rest.calls == [(("AAPL",), "1m", open1, close1)]  # only the lacking day is asked for
    assert load.per_day == ((390, 390), (390, 390))
    assert np.all(np.diff(load.bars.start) > 0)
    assert set(load.bars.open[:390]) == {3.0} and set(load.bars.open[390:]) == {7.0}


def test_a_symbol_missing_from_the_store_is_fetched_whole(tmp_path, tm):
    (tmp_path / "1m").mkdir()
    load = LiveBarSource(BarStore(tmp_path), tm, M1, FakeRest(tm)).history("MSFT", M1, DAYS)
    assert load.per_day == ((390, 390), (390, 390))


def test_a_rest_outage_leaves_the_days_empty_and_shows_in_quality(tmp_path, tm):
    write_bars(tmp_path, M1, "AAPL", day_bars(tm, DAYS[0], 3.0))
    rest = FakeRest(tm, FeedError("connection refused", fatal=False))
    load = LiveBarSource(BarStore(tmp_path), tm, M1, rest).history("AAPL", M1, DAYS)
    assert load.per_day == ((390, 390), (390, 0))


def test_refused_credentials_are_fatal(tmp_path, tm):
    rest = FakeRest(tm, FeedError("HTTP 403", code=403, fatal=True))
    with pytest.raises(FeedError):
        LiveBarSource(BarStore(tmp_path), tm, M1, rest).history("AAPL", M1, DAYS)


def test_an_interval_the_endpoint_does_not_serve_is_derived_from_base_history(tmp_path, tm):
    write_bars(tmp_path, M1, "AAPL", day_bars(tm, DAYS[0], 3.0))
    rest = FakeRest(tm)
    load = LiveBarSource(BarStore(tmp_path), tm, M1, rest).history("AAPL", D1, DAYS)
    assert len(load.bars) == 2 and load.bars.open.tolist() == [3.0, 7.0]
    assert {c[1] for c in rest.calls} == {"1m"}  # derived, not asked for daily bars
