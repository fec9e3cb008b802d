"""Pure parts of the live feed: dedupe, backoff, RFC-3339, frame parsing, replay and REST maths."""

from __future__ import annotations

import math
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.feed.replay import Replay, load_steps, served_interval
from app.feed.rest import answer_bars
from app.feeds._alpaca_wire import decode_frame, parse_bar, truncate_raw
from app.feeds.live import Backoff, BarDeduper, LiveBar, format_rfc3339, parse_rfc3339_ns
from app.store.bar import parse_interval

from live_support import MSFT_MISSING_MINUTE, stored_open

S = 1_000_000_000


def bar(symbol="AAPL", start_ns=0, close=1.0, kind="bar"):
    return LiveBar(symbol, start_ns, 1.0, 2.0, 0.5, close, 10.0, 1, 1.0, kind, 0)


# -- BarDeduper --------------------------------------------------------------------------------

def test_deduper_keeps_first_bar_and_drops_exact_repeat():
    dedupe = BarDeduper()
    assert dedupe.accept(bar()) == bar()
    assert dedupe.accept(bar()) is None
    assert (dedupe.duplicates, dedupe.corrections) == (1, 0)


def test_deduper_updated_bar_replaces_and_counts_a_correction():
    dedupe = BarDeduper()
    dedupe.accept(bar(close=1.0))
    out = dedupe.accept(bar(close=1.5, kind="updated"))
    assert (out.kind, out.close, dedupe.corrections) == ("updated", 1.5, 1)
    assert dedupe.accept(bar(close=1.5, kind="updated")) is None  # the same restatement twice


def test_deduper_conflicting_stream_bar_first_wins_but_final_rest_bar_corrects():
    dedupe = BarDeduper()
    dedupe.accept(bar(close=1.0))
    assert dedupe.accept(bar(close=1.2)) is None
    out = dedupe.accept(bar(close=1.2), final=True)
    assert (out.kind, out.close, dedupe.corrections, dedupe.duplicates) == ("updated", 1.2, 1, 1)


def test_deduper_update_for_an_unseen_bar_is_delivered_as_the_bar():
    assert BarDeduper().accept(bar(kind="updated")).kind == "bar"


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 4), st.sampled_from([1.0, 2.0]),
                          st.sampled_from(["bar", "updated"])), max_size=40))
@settings(deadline=None)
def test_deduper_matches_a_naive_model(events):
    # Arrange: a naive model -- a dict of current closes
    dedupe, model, delivered = BarDeduper(), {}, 0
    for symbol, start, close, kind in events:
        key = (symbol, start)
        expect_deliver = key not in model or (model[key] != close and kind == "updated")
        # Act
        out = dedupe.accept(bar(symbol, start, close, kind))
        # Assert
        assert (out is not None) == expect_deliver
        if expect_deliver:
            model[key] = close
            delivered += 1
    assert len(dedupe) == len(model)
    assert delivered + dedupe.duplicates == len(events)


# -- Backoff -----------------------------------------------------------------------------------

def test_backoff_without_jitter_doubles_to_the_cap_and_resets():
    backoff = Backoff(1.0, 5.0, jitter=0.0)
    assert [backoff.next_delay_s() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay_s() == 1.0


def test_backoff_jitter_is_bounded_and_seeded():
    a, b = Backoff(1.0, 60.0, seed=7), Backoff(1.0, 60.0, seed=7)
    delays = [a.next_delay_s() for _ in range(8)]
    assert delays == [b.next_delay_s() for _ in range(8)]
    for k, delay in enumerate(delays):
        base = min(60.0, 2.0**k)
        assert base * 0.5 <= delay <= base


def test_backoff_floor_and_bad_arguments():
    assert Backoff(1.0, 2.0).next_delay_s(floor_s=60.0) == 60.0
    with pytest.raises(ValueError, match=r"expected 0 < reconnect_initial_s <= reconnect_max_s, received 5.0 and 1.0"):
        Backoff(5.0, 1.0)


# -- RFC-3339 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1970-01-01T00:00:00Z", 0),
    ("2024-03-01T14:31:00Z", 1709303460 * S),
    ("2021-02-22T15:51:45.335689322Z", 1614009105 * S + 335689322),
    ("2021-02-22T15:51:44.208Z", 1614009104 * S + 208_000_000),
    ("2024-03-01T09:31:00-05:00", 1709303460 * S),
    ("2024-03-01", 1709251200 * S),
])
def test_parse_rfc3339_is_exact_to_the_nanosecond(text, expected):
    assert parse_rfc3339_ns(text) == expected


@pytest.mark.parametrize("text", ["2024-03-01T14:31:00", "yesterday", "2024-03-01T14:31:00.1234567890Z", "2024-13-01T00:00:00Z"])
def test_parse_rfc3339_rejects_bad_text(text):
    with pytest.raises(ValueError, match=r"expected an RFC-3339 timestamp"):
        parse_rfc3339_ns(text)


@given(st.integers(0, 4_102_444_800 * S))
def test_format_then_parse_round_trips(ns):
    assert parse_rfc3339_ns(format_rfc3339(ns)) == ns


def test_format_rfc3339_whole_seconds_have_no_fraction():
    assert format_rfc3339(1709303460 * S) == "2024-03-01T14:31:00Z"
    assert format_rfc3339(1709303460 * S + 5) == "2024-03-01T14:31:00.000000005Z"


# -- frames ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ("not json", r"expected a JSON frame, received invalid JSON"),
    ('{"T":"b"}', r"expected a JSON array frame, received dict"),
    ('[{"S":"AAPL"}]', r"expected every array item to be an object with a string 'T'"),
])
def test_decode_frame_rejects_malformed_frames(raw, message):
    with pytest.raises(ValueError, match=message):
        decode_frame(raw)


def test_parse_bar_reads_the_documented_example():
    msg = {"T": "b", "S": "SPY", "o": 388.985, "h": 389.13, "l": 388.975, "c": 389.12, "v": 49378,
           "n": 461, "vw": 389.062639, "t": "2021-02-22T19:15:00Z"}
    got = parse_bar(msg, 7, "bar")
    assert got == LiveBar("SPY", 1614021300 * S, 388.985, 389.13, 388.975, 389.12, 49378.0, 461, 389.062639, "bar", 7)


@pytest.mark.parametrize("patch, message", [
    ({"o": "1.0"}, r"expected a finite number in field 'o', received '1.0'"),
    ({"t": 5}, r"expected an RFC-3339 string in field 't', received 5"),
    ({"S": ""}, r"expected a symbol string in field 'S', received ''"),
    ({"n": 1.5}, r"expected an integer in field 'n', received 1.5"),
])
def test_parse_bar_names_the_bad_field(patch, message):
    msg = {"T": "b", "S": "X", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": "2024-03-01T14:31:00Z", **patch}
    with pytest.raises(ValueError, match=message):
        parse_bar(msg, 0, "bar")


def test_truncate_raw_cuts_long_frames():
    assert truncate_raw("x" * 600) == "x" * 500 + "...(truncated)"


# -- replay ------------------------------------------------------------------------------------

def test_served_interval_divides_the_stored_interval():
    assert served_interval(parse_interval("1m"), 60).label == "1s"
    assert served_interval(parse_interval("1d"), 1440).label == "1m"
    assert served_interval(parse_interval("1d"), 1).label == "1d"
    with pytest.raises(ValueError, match=r"expected --speed to turn 1m bars into 1s, 1m or 1d bars, received 7"):
        served_interval(parse_interval("1m"), 7)


@pytest.fixture(scope="module")
def replay(store):
    steps = load_steps(store, "1m", None, None)
    anchor = 1_800_000_000 * S + 300_000_000  # mid-second: the anchor floors to the second
    return Replay(steps, parse_interval("1s"), anchor, history_steps=3, updates=True)


def test_replay_restamps_steps_onto_the_wall_grid(replay):
    assert replay.anchor_ns == 1_800_000_000 * S
    assert replay.step_start_ns(0) == (1_800_000_000 - 3) * S
    assert replay.due_ns(3) == 1_800_000_001 * S
    assert replay.closed_steps(1_800_000_000 * S) == 3
    assert replay.closed_steps(1_800_000_001 * S - 1) == 3
    assert replay.closed_steps(1_800_000_001 * S) == 4
    assert [(b.symbol, b.open) for b in replay.step_bars(1)] == [("AAPL", stored_open("AAPL", 1)), ("MSFT", stored_open("MSFT", 1))]


def test_replay_skips_a_symbol_with_no_stored_bar(replay):
    assert [b.symbol for b in replay.step_bars(MSFT_MISSING_MINUTE)] == ["AAPL"]


def test_replay_rest_bars_are_closed_and_restated_after_half_an_interval(replay):
    now = replay.due_ns(4)  # steps 0..4 closed
    rows = replay.rest_bars("MSFT", 0, 10**30, now)
    assert [r.step for r in rows] == [0, 1, 2, 3, 4]
    # index 9 (step 4, MSFT) is restated; its restatement is due half an interval after it closes
    assert rows[4].close == stored_open("MSFT", 4) + 0.5
    later = replay.rest_bars("MSFT", 0, 10**30, now + S // 2)
    assert later[4].close == pytest.approx(stored_open("MSFT", 4) + 0.5 + 0.02)


# -- REST answer -------------------------------------------------------------------------------

def ask(replay, now, **params):
    return answer_bars(urllib.parse.urlencode(params), "k", "s", replay, now, credentials=("k", "s"))


def test_rest_paginates_by_symbol_then_time(replay):
    now = replay.due_ns(2)  # steps 0, 1, 2 closed
    pages, token = [], None
    while True:
        params = {"symbols": "MSFT,AAPL", "timeframe": "1Sec", "limit": 2}
        status, body = ask(replay, now, **params, **({"page_token": token} if token else {}))
        assert status == 200
        pages.append({s: [b["o"] for b in rows] for s, rows in body["bars"].items()})
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == [{"AAPL": [100.0, 101.0]}, {"AAPL": [102.0], "MSFT": [200.0]}, {"MSFT": [201.0, 202.0]}]


def test_rest_start_and_end_are_inclusive(replay):
    now = replay.due_ns(5)
    start = format_rfc3339(replay.step_start_ns(1))
    end = format_rfc3339(replay.step_start_ns(2))
    _, body = ask(replay, now, symbols="AAPL", timeframe="1Sec", start=start, end=end)
    assert [b["t"] for b in body["bars"]["AAPL"]] == [start, end]


def test_rest_refuses_bad_keys_and_parameters(replay):
    assert answer_bars("symbols=AAPL&timeframe=1Sec", "k", "wrong", replay, 0, credentials=("k", "s")) == (403, {"message": "forbidden"})
    status, body = ask(replay, 0, symbols="AAPL", timeframe="1Min")
    assert (status, body["message"]) == (422, "invalid parameter: timeframe '1Min' is not served (this server streams 1s bars: timeframe=1Sec)")
    status, body = ask(replay, 0, symbols="AAPL", timeframe="1Sec", limit=10001)
    assert (status, body["message"]) == (422, "invalid parameter: limit must be between 1 and 10000")


@pytest.mark.parametrize("folder, speed, timeframe, step_s", [("1m", 1, "1Min", 60), ("daily", 1, "1Day", 86400)])
def test_rest_serves_minute_and_daily_timeframes(store, folder, speed, timeframe, step_s):
    root = store / "daily" if folder == "daily" else store
    steps = load_steps(root, None if folder == "daily" else "1m", None, None)
    anchor = 1_800_000_000 * S
    rep = Replay(steps, served_interval(steps.interval, speed), anchor, history_steps=3)
    _, body = ask(rep, anchor, symbols="AAPL", timeframe=timeframe)
    starts = [parse_rfc3339_ns(b["t"]) for b in body["bars"]["AAPL"]]
    floor = anchor - anchor % (step_s * S)
    assert starts == [floor - 3 * step_s * S, floor - 2 * step_s * S, floor - step_s * S]
    assert not math.isnan(body["bars"]["AAPL"][0]["vw"])
