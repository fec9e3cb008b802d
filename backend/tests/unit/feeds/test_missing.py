"""data.on_missing (a symbol without base bars in a session) and trailing-history shortfalls."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from app.config import load_session_config
from app.data.sample import write_sample
from app.errors import ConfigError, MissingDataError
from app.feeds import missing
from app.feeds.base import SessionLoad
from app.feeds.missing import MissingBars, describe_file
from app.feeds.preload import history_shortfall
from app.runtime.records import quality_rollup
from app.store.bar import empty_bars, parse_interval
from app.store.bar_store import BarStore
from app.store.files import file_span, write_bars
from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager
from hypothesis import given
from hypothesis import strategies as st

M1 = parse_interval("1m")
SESSION = date(2024, 7, 10)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """AAPL 1m from 2024-06-24 to 2024-07-09; SPY 1m written with no rows."""
    root = tmp_path_factory.mktemp("store")
    write_sample(root, symbols=("AAPL",), start=date(2024, 6, 24), end=date(2024, 7, 9))
    write_bars(root, M1, "SPY", empty_bars())
    return root


def _state() -> SessionState:
    return SessionState(SESSION, 0, 1, False)


def test_file_span_reads_rows_and_first_and_last_start_from_the_footer(store):
    # Arrange
    tm = TimeManager("XNYS")
    # Act
    rows, first, last = file_span(store / "1m" / "AAPL.parquet")
    # Assert: the sample's first open and last minute, in exchange time
    assert rows > 0
    assert f"{tm.to_local(first):%Y-%m-%d %H:%M}" == "2024-06-24 09:30"
    assert f"{tm.to_local(last):%Y-%m-%d %H:%M}" == "2024-07-09 15:59"
    assert file_span(store / "1m" / "SPY.parquet") == (0, 0, 0)
    assert file_span(store / "1m" / "NOPE.parquet") is None


def test_describe_file_names_the_path_and_what_it_holds(store):
    # Arrange
    bar_store, tm = BarStore(store), TimeManager("XNYS")
    # Act / Assert
    assert describe_file(bar_store, tm, "AAPL", M1).endswith(
        "/1m/AAPL.parquet holds 4,084 bars from 2024-06-24 to 2024-07-09")
    assert describe_file(bar_store, tm, "SPY", M1).endswith("/1m/SPY.parquet has no rows")
    assert describe_file(bar_store, tm, "MSFT", M1).endswith("/1m/MSFT.parquet does not exist")


def test_fail_raises_one_line_naming_symbol_session_and_file(store):
    # Arrange
    policy = MissingBars("fail", BarStore(store), TimeManager("XNYS"))
    state = _state()
    # Act
    with pytest.raises(MissingDataError, match=(
            r"^no 1m bars for AAPL in session 2024-07-10: \S+/1m/AAPL\.parquet holds 4,084 bars from 2024-06-24 "
            r"to 2024-07-09; set data\.on_missing to skip or warn to run without them$")) as e:
        policy.handle(state, "AAPL", M1, SessionLoad(empty_bars()))
    # Assert
    assert "\n" not in str(e.value) and e.value.symbol == "AAPL"
    assert state.no_bars == {}


@pytest.mark.parametrize(("policy", "action"), [("skip", "left out of the session"),
                                                ("warn", "its bars count as missing")])
def test_skip_and_warn_log_a_warning_and_record_the_case(store, caplog, policy, action):
    # Arrange
    handler = MissingBars(policy, BarStore(store), TimeManager("XNYS"))
    state = _state()
    # Act
    with caplog.at_level(logging.WARNING, logger="app.feeds.missing"):
        handler.handle(state, "SPY", M1, SessionLoad(empty_bars()))
    # Assert
    assert state.no_bars["SPY"]["policy"] == policy
    assert state.no_bars["SPY"]["looked_at"].endswith("/1m/SPY.parquet has no rows")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("no 1m bars for SPY in session 2024-07-10: ")
    assert record.getMessage().endswith(f"has no rows; {action} (data.on_missing: {policy})")


def test_a_session_whose_rows_were_all_rejected_says_so(store):
    # Arrange
    handler = MissingBars("fail", BarStore(store), TimeManager("XNYS"))
    # Act / Assert
    with pytest.raises(MissingDataError, match=r"\(all 390 rows of the session rejected: see the quality report\)"):
        handler.handle(_state(), "AAPL", M1, SessionLoad(empty_bars(), {"NAN": 390}))


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match=r"expected data\.on_missing one of fail, skip, warn, received 'ignore'"):
        MissingBars("ignore")


def test_config_on_missing_defaults_to_fail_and_refuses_other_words(tmp_path):
    # Arrange
    text = ("session_name: t\nmode: backtest\nbacktest: {start_date: 2024-07-01, end_date: 2024-07-02}\n"
            "symbols: [AAPL]\nstreams: [1m]\nstrategy: {class: 'a.b:C'}\ndata:\n  store: bars\n")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(text)
    bad.write_text(text + "  on_missing: ignore\n")
    # Act / Assert
    assert load_session_config(good).data.on_missing == "fail"
    with pytest.raises(ConfigError, match=r"bad\.yaml:9:15: error: data\.on_missing: expected one of .*'ignore'"):
        load_session_config(bad)


# -- trailing-history shortfall ----------------------------------------------------------------

def test_history_shortfall_counts_whole_days_absent_and_the_bars():
    # Two of five days absent; a day with gaps is found (its gaps are historical quality).
    per_day = [(390, 0), (390, 0), (390, 389), (390, 390), (210, 210)]
    assert history_shortfall(per_day) == (5, 3, 1770, 989)
    assert history_shortfall([(390, 1), (390, 390)]) is None
    assert history_shortfall([]) is None


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), max_size=30))
def test_history_shortfall_is_none_exactly_when_no_expected_day_is_empty(per_day):
    short = history_shortfall(per_day)
    empty_days = sum(1 for expected, present in per_day if expected and not present)
    if empty_days == 0:
        assert short is None
    else:
        assert short == (len(per_day), len(per_day) - empty_days, sum(e for e, _ in per_day),
                         sum(p for _, p in per_day))


# -- reports -------------------------------------------------------------------------------------

def _detail(**extra) -> dict:
    return {"quality_pct": 0.0, "expected": 390, "present": 0, "missing": 390, "gaps": [{}], "rejected": {},
            "derived_bars_skipped": {}, **extra}


def test_rollup_lists_the_cases_as_warnings_and_leaves_a_skipped_symbol_unscored():
    # Arrange
    detail = {
        "AAPL": _detail(no_bars={"policy": "skip", "interval": "1m", "looked_at": "/s/1m/AAPL.parquet has no rows"}),
        "SPY": _detail(history_shortfall={"1m": {"days_expected": 5, "days_found": 2, "bars_expected": 1950,
                                                 "bars_found": 780}}),
    }
    bars = {"AAPL": {"1m": 0}, "SPY": {"1m": 0}}
    # Act
    out = quality_rollup(detail, bars, "1m")
    # Assert
    assert list(out["series"]) == ["SPY"]
    assert out["warnings"] == [
        "AAPL 1m: no bars, left out of the session (data.on_missing: skip); /s/1m/AAPL.parquet has no rows",
        "SPY 1m history: 2 of 5 trailing days (780 of 1,950 bars)",
    ]


def test_complete_data_adds_no_key_to_the_rollup():
    out = quality_rollup({"AAPL": _detail()}, {"AAPL": {"1m": 0}}, "1m")
    assert "warnings" not in out and list(out["series"]) == ["AAPL"]


def test_missing_bars_without_a_store_names_the_symbol_and_session_only():
    with pytest.raises(MissingDataError, match=r"^no 1m bars for AAPL in session 2024-07-10: the bar source has none;"):
        MissingBars("fail").handle(_state(), "AAPL", M1, SessionLoad(empty_bars()))


def test_span_of_a_file_is_read_once_per_run(store, monkeypatch):
    # Arrange: a run of skipped sessions re-reads no footer
    calls = []
    monkeypatch.setattr(missing, "file_span", lambda path: calls.append(path) or (1, 0, 0))
    handler = MissingBars("warn", BarStore(store), TimeManager("XNYS"))
    # Act
    for _ in range(3):
        handler.handle(_state(), "AAPL", M1, SessionLoad(empty_bars()))
    # Assert
    assert len(calls) == 1
