"""TradingCalendar answers as exchange_calendars does, from a session table cached on disk."""

from __future__ import annotations

from datetime import date, timedelta

import exchange_calendars as xcals
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from app.timing.calendar import CACHE_ENV, TradingCalendar, available_calendars

EXCHANGES = ("XNYS", "XLON", "XTKS", "XHKG", "24/7")


@pytest.fixture(scope="module")
def cals(tmp_path_factory):
    """code -> (ours as read from a warm cache, exchange_calendars' own calendar)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        for code in EXCHANGES:
            TradingCalendar(code)  # builds and writes the table
        yield {code: (TradingCalendar(code), xcals.get_calendar(code)) for code in EXCHANGES}


def _ts(d: date):
    import pandas as pd

    return pd.Timestamp(d)


days = st.dates(min_value=date(2007, 1, 1), max_value=date(2027, 6, 30))


@given(code=st.sampled_from(EXCHANGES), d=days)
def test_day_answers_equal_exchange_calendars(cals, code, d):
    ours, theirs = cals[code]

    is_session = ours.is_session(d)

    assert is_session == theirs.is_session(_ts(d))
    assert ours.first_session_on_or_after(d) == theirs.date_to_session(_ts(d), "next").date()
    assert ours.last_session_on_or_before(d) == theirs.date_to_session(_ts(d), "previous").date()
    assert ours.is_early_close(d) == (_ts(d) in theirs.early_closes)
    if is_session:
        expected = (theirs.session_open(_ts(d)).value, theirs.session_close(_ts(d)).value)
        assert ours.session_bounds_ns(d) == expected


@given(code=st.sampled_from(EXCHANGES), start=days, length=st.integers(-3, 40))
def test_sessions_in_range_equal_exchange_calendars(cals, code, start, length):
    ours, theirs = cals[code]
    end = start + timedelta(days=length)

    got = ours.sessions_in_range(start, end)

    want = [] if end < start else [t.date() for t in theirs.sessions_in_range(_ts(start), _ts(end))]
    assert got == want


@given(code=st.sampled_from(EXCHANGES), d=days, minute=st.integers(-24 * 60, 2 * 24 * 60))
def test_session_of_an_instant_follows_the_opens_and_closes(cals, code, d, minute):
    ours, theirs = cals[code]
    ts = int(_ts(d).tz_localize("UTC").value) + minute * 60_000_000_000
    opens, closes = theirs.opens.array.asi8, theirs.closes.array.asi8
    inside = np.flatnonzero((opens <= ts) & (ts < closes))

    got = ours.session_of(ts)

    assert got == (theirs.sessions[inside[0]].date() if inside.size else None)
    assert ours.is_trading_minute(ts) == bool(inside.size)


@pytest.mark.parametrize("code", EXCHANGES)
def test_bounds_and_timezone_equal_exchange_calendars(cals, code):
    ours, theirs = cals[code]

    assert ours.first_session == theirs.first_session.date()
    assert ours.last_session == theirs.last_session.date()
    assert str(ours.tz) == str(theirs.tz)
    with pytest.raises(ValueError, match="outside the"):
        ours.is_session(ours.last_session + timedelta(days=1))


def test_a_damaged_cache_file_is_rebuilt_with_the_same_answers(tmp_path, monkeypatch):
    # Arrange
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    built = TradingCalendar("XNYS")
    [table] = (tmp_path / "calendars").glob("table-XNYS.*json")
    table.write_bytes(b"not a table")

    # Act
    rebuilt = TradingCalendar("XNYS")

    # Assert
    d = date(2024, 11, 29)
    assert rebuilt.session_bounds_ns(d) == built.session_bounds_ns(d)
    assert rebuilt.sessions_in_range(date(2024, 1, 1), date(2024, 12, 31)) == \
        built.sessions_in_range(date(2024, 1, 1), date(2024, 12, 31))
    assert TradingCalendar("XNYS").is_early_close(d)  # the rewritten file reads back


def test_without_a_cache_folder_the_calendar_still_answers(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")

    cal = TradingCalendar("XNYS")

    assert cal.is_early_close(date(2024, 11, 29))
    assert "XNYS" in available_calendars()
