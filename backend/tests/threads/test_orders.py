"""The order API through the real threads (issue 8): cancel, open orders, time in force, fractional
quantities, rejections logged and counted at submission and at fill, Reg T on shorts."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from app.config import load_session_config
from app.errors import SessionAborted
from app.runtime.run import run
from support import probes
from support.runs import make_store, write_config

RICH = {"starting_cash": 100_000, "max_per_trade": 100_000, "max_per_symbol": 100_000, "max_open_positions": 3}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), symbols=("AAPL", "MSFT", "SPY"))


@pytest.fixture(autouse=True)
def _clear():
    probes.ORDERS.clear()
    yield
    probes.ORDERS.clear()


def _run(tmp_path: Path, strategy: str, store: Path, **overrides):
    cfg = write_config(tmp_path / "s.yaml", store, strategy={"class": f"support.probes:{strategy}", "params": {}},
                       **overrides)
    return run(load_session_config(cfg), tmp_path / "out")


def _rejection_lines(out: Path) -> list[str]:
    return [line for line in (out / "run.log").read_text().splitlines() if "order rejected" in line]


def test_day_orders_expire_at_the_close_gtc_orders_carry_and_cancel_takes_them_off(store, tmp_path):
    # Act: sessions 2024-07-01, 07-02, 07-03
    result = _run(tmp_path, "OrderLifecycle", store=store,
                  backtest={"start_date": "2024-07-01", "end_date": "2024-07-03"})

    # Assert: ids come back, are listed as open, and cancel takes one off (once)
    start1, placed, cancel, start2, start3 = probes.ORDERS
    ids = placed["ids"]
    assert all(isinstance(i, int) for i in ids.values())
    assert placed["open"] == [ids["day"], ids["gtc"], ids["cancelled"]] and placed["open_spy"] == []
    assert cancel == {"event": "cancel", "first": True, "again": False, "unknown": False,
                      "open": [ids["day"], ids["gtc"]]}
    # The day limit expired at the first close; the market day order placed at that close was
    # for the next session (open at its start, filled at its open); the gtc limit carried on.
    at_close = start1["at_close"]
    assert start2["open"] == [(ids["gtc"], "gtc"), (at_close, "day")]
    assert start3["open"] == [(ids["gtc"], "gtc")]
    day1, day2, day3 = result.records
    assert day1["trading"]["orders_expired"] == 1
    [expired] = day1["trading"]["expired"]
    assert re.fullmatch(rf"buy 10 AAPL limit [\d.,]+ day \(order {ids['day']}, placed 2024-07-01 09:31:00 "
                        r"America/New_York\)", expired)
    assert day2["trading"]["expired"] == [] and day3["trading"]["expired"] == []
    with (tmp_path / "out" / "fills.csv").open() as f:
        fills = list(csv.DictReader(f))
    assert [(r["timestamp"][:16], r["side"], r["quantity"]) for r in fills] == [("2024-07-02T09:30", "buy", "1")]
    log = (tmp_path / "out" / "run.log").read_text()
    assert f"order expired at 2024-07-01 16:00:00 America/New_York (time in force day): {expired}" in log
    assert f"order {ids['cancelled']} cancelled at 2024-07-01 09:31:00 America/New_York" in log


def test_a_sell_covered_only_by_a_pending_buy_is_refused_logged_and_counted(store, tmp_path):
    result = _run(tmp_path, "PendingBuyThenSell", store=store,
                  backtest={"start_date": "2024-07-01", "end_date": "2024-07-01"})

    [placed] = probes.ORDERS
    assert isinstance(placed["buy"], int) and placed["sell"] is None
    [session] = result.records
    reason = "no shorting: sell 10 AAPL exceeds position 0 (allow_short is false)"
    assert session["trading"]["rejections"] == [reason]
    assert session["trading"]["rejected_orders"] == 1
    [line] = _rejection_lines(tmp_path / "out")
    assert (" WARNING " in line and "order rejected at submission by rule 'no shorting' at "
            f"2024-07-01 09:31:00 America/New_York: sell 10 AAPL (order 2): {reason}" in line)


def test_rejections_at_fill_are_logged_and_counted(store, tmp_path):
    # Arrange: one symbol, all-in at each close: a session opening higher refuses the fill.
    result = _run(tmp_path, "AllIn", store=store, symbols=["AAPL"], trading=RICH,
                  backtest={"start_date": "2024-06-25", "end_date": "2024-07-09"})

    rejections = [r for s in result.records for r in s["trading"]["rejections"]]
    at_fill = [r for r in rejections if r.startswith("insufficient cash at fill: buy ")]
    assert len(at_fill) >= 2 and len(at_fill) == len(rejections)
    assert sum(s["trading"]["rejected_orders"] for s in result.records) == len(rejections)
    lines = _rejection_lines(tmp_path / "out")
    assert len(lines) == len(rejections)  # every rejection logged once, as a warning naming the rule
    assert all(" WARNING " in line and "order rejected at fill by rule 'insufficient cash' at " in line
               and " 09:30:00 America/New_York: buy " in line for line in lines)


def test_a_session_logs_its_first_rejections_per_rule_then_one_line_with_the_rest(store, tmp_path):
    # Arrange: a sell on every AAPL bar while flat: every order refused by 'no shorting'.
    result = _run(tmp_path, "SellsWhatItLacks", store=store, symbols=["AAPL"],
                  backtest={"start_date": "2024-07-01", "end_date": "2024-07-02"})

    day1, day2 = result.records
    log = (tmp_path / "out" / "run.log").read_text().splitlines()
    for day in (day1, day2):
        refused = day["trading"]["rejected_orders"]
        assert refused == day["bars_processed"] > 20  # one per bar, each in sessions.json
        assert len(day["trading"]["rejections"]) == refused
        logged = [line for line in log if "order rejected at submission by rule 'no shorting' at "
                  f"{day['date']} " in line]
        assert len(logged) == 10
        [rest] = [line for line in log if f"orders rejected by rule 'no shorting' in session {day['date']}" in line]
        assert " WARNING " in rest and f" {refused - 10} more orders rejected" in rest


def test_a_session_stopped_by_a_failure_still_logs_how_many_rejections_it_left_out(store, tmp_path):
    # Arrange: 24 refused sells, then the strategy raises: the session never reaches its end.
    with pytest.raises(SessionAborted):
        _run(tmp_path, "SellsWhatItLacksThenFails", store=store, symbols=["AAPL"],
             backtest={"start_date": "2024-07-01", "end_date": "2024-07-01"})

    log = (tmp_path / "out" / "run.log").read_text().splitlines()
    assert len(_rejection_lines(tmp_path / "out")) == 10  # the first 10 one by one
    [rest] = [line for line in log if "orders rejected by rule 'no shorting' in session 2024-07-01" in line]
    assert " WARNING " in rest and " 14 more orders rejected" in rest
    assert "the session stopped before its end, so it has no record in sessions.json" in rest


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"quantity": 2.5}, "cannot buy 2.5 AAPL at 2024-07-01 09:31:00 America/New_York: expected a whole "
                            "number of shares > 0, received 2.5 (fractional shares are not supported)"),
        ({"quantity": 0}, "cannot buy 0 AAPL at 2024-07-01 09:31:00 America/New_York: expected a whole "
                          "number of shares > 0, received 0"),
        ({"quantity": 5, "tif": "ioc"}, "cannot buy 5 AAPL at 2024-07-01 09:31:00 America/New_York: "
                                        "expected tif 'day' or 'gtc', received 'ioc'"),
    ],
)
def test_a_malformed_order_stops_the_run_with_a_clear_error(store, tmp_path, params, message):
    # A fractional quantity is refused, never truncated to whole shares.
    cfg = write_config(tmp_path / "s.yaml", store, backtest={"start_date": "2024-07-01", "end_date": "2024-07-01"},
                       strategy={"class": "support.probes:BadOrder", "params": params})
    with pytest.raises(SessionAborted, match=re.escape(f"ValueError: {message}")):
        run(load_session_config(cfg), tmp_path / "out")
    assert (tmp_path / "out" / "fills.csv").read_text().splitlines()[1:] == []  # nothing traded


def test_short_proceeds_are_not_buying_power_reg_t_holds_150_percent(store, tmp_path):
    # Act
    result = _run(tmp_path, "Shorter", store=store, symbols=["AAPL", "MSFT", "SPY"],
                  backtest={"start_date": "2024-07-01", "end_date": "2024-07-01"},
                  trading={**RICH, "allow_short": True})

    # Assert: after the short, cash holds its proceeds but buying power is cash - 150% of its value
    [state] = probes.ORDERS
    assert isinstance(state["short"], int)
    assert state["cash"] > 100_000 + 0.95 * state["short_value"]  # the proceeds are in cash ...
    assert state["buying_power"] == pytest.approx(state["cash"] - 1.5 * state["short_value"])
    assert state["buying_power"] < 100_000 - 0.45 * state["short_value"]  # ... but not buying power
    assert state["spy_big"] is None and isinstance(state["spy_small"], int) and state["short_more"] is None
    [session] = result.records
    reasons = session["trading"]["rejections"]
    assert [r.split(":")[0] for r in reasons] == ["insufficient cash", "short margin"]
    assert "Reg T holds 150% of its value" in reasons[1]
    assert [line.split("by rule ")[1].split(" at ")[0] for line in _rejection_lines(tmp_path / "out")] == [
        "'insufficient cash'", "'short margin'"]
