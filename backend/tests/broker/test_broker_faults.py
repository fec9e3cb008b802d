"""The broker link under the trading server's faults: a dropped stream, a lost submit answer, a
restart, rejections, partial fills, repeated events, and the kill switch (real sockets)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from app.config import load_session_config
from app.runtime.run import run
from broker_support import KEY, SCRIPT_LOG, SECRET, broker_config, rest, servers, write_store_1s

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store_1s(tmp_path_factory.mktemp("store_1s"))


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BROKER_KEY", KEY)
    monkeypatch.setenv("TEST_BROKER_SECRET", SECRET)
    SCRIPT_LOG.clear()


def fills_csv(out: Path) -> list[dict[str, str]]:
    with (out / "fills.csv").open() as fh:
        return list(csv.DictReader(fh))


def orders_at(srv) -> list[dict]:
    return rest(srv, "/v2/orders?status=all&limit=500&direction=asc")


def positions_at(srv) -> dict[str, int]:
    return {p["symbol"]: int(p["qty"]) for p in rest(srv, "/v2/positions")}


def test_a_trade_updates_drop_mid_order_loses_no_fill_and_applies_none_twice(tmp_path, store):
    # Arrange: the stream drops after the order's first event and refuses re-dials for 2.5 s; the
    # fill comes 0.5 s after its bar (at most 1.5 s after the drop), inside the gap. No periodic
    # poll: only the reconnect's reconcile can find it.
    args = ("--drop-stream-after", "1", "--slot-busy", "2.5", "--fill-delay", "0.5")
    with servers(store, tmp_path, *args) as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, stop_after=8, broker={"poll_s": 600},
                            params={"orders": "AAPL:1:buy:5"})
        # Act
        result = run(load_session_config(cfg), tmp_path / "out")
        [order] = orders_at(srv)
        held = positions_at(srv)
    # Assert: one fill, learnt from REST after the reconnect, with the broker's price
    rows = fills_csv(tmp_path / "out")
    assert [(r["side"], int(r["quantity"]), float(r["price"])) for r in rows] == \
        [("buy", 5, float(order["filled_avg_price"]))]
    stats = result.summary["broker"]["stats"]
    assert stats["stream_disconnects"] >= 1 and stats["stream_connects"] >= 2
    assert (stats["fills_from_rest"], stats["fills_from_stream"]) == (1, 0)
    assert held == {"AAPL": 5} and result.summary["open_positions"]["AAPL"]["quantity"] == 5
    assert "trade_updates disconnected" in (tmp_path / "out" / "run.log").read_text()


def test_a_submit_timeout_is_retried_without_a_second_order(tmp_path, store):
    # Arrange: the first POST creates the order but its answer stalls 3 s; the client waits 0.5 s
    with servers(store, tmp_path, "--ghost-submit", "1", "--ghost-mode", "stall", "--ghost-stall", "3") as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, broker={"timeout_s": 0.5},
                            params={"orders": "AAPL:2:buy:4;AAPL:3:buy:1"})
        # Act
        result = run(load_session_config(cfg), tmp_path / "out")
        orders = orders_at(srv)
        held = positions_at(srv)
    # Assert: one order per client id, the first adopted after its lookup, both filled once
    run_id = result.summary["broker"]["run_id"]
    assert [o["client_order_id"] for o in orders] == [f"{run_id}-000001", f"{run_id}-000002"]
    assert [ok is not None for _, ok in SCRIPT_LOG] == [True, True]
    assert result.summary["broker"]["adopted_after_retry"] == 1
    assert sorted(int(r["quantity"]) for r in fills_csv(tmp_path / "out")) == [1, 4]
    assert held == {"AAPL": 5}
    assert "looking it up" in (tmp_path / "out" / "run.log").read_text()


def test_a_rejection_partial_fills_repeated_events_and_a_lost_cancel_race_are_reported(tmp_path, store):
    # Arrange: MSFT orders are rejected (accepted, then a rejected event); AAPL fills in 3 parts
    # on 3 bars; every new and fill event is sent twice; the AAPL order's cancel is accepted
    # (204) but loses the race: the order keeps filling
    args = ("--reject-symbols", "MSFT", "--partial-fills", "3", "--dup-events", "--cancel-race")
    with servers(store, tmp_path, *args) as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, stop_after=7,
                            params={"orders": "AAPL:1:buy:9;MSFT:1:buy:1;AAPL:2:cancel:1"})
        # Act
        result = run(load_session_config(cfg), tmp_path / "out")
        orders = orders_at(srv)
    # Assert: three AAPL fills of 3 at three bars' opens, each once; the MSFT rejection reported
    rows = fills_csv(tmp_path / "out")
    assert [(r["symbol"], int(r["quantity"])) for r in rows] == [("AAPL", 3)] * 3
    prices = [float(r["price"]) for r in rows]
    assert prices == sorted(set(prices))  # three bars, in order
    aapl = next(o for o in orders if o["symbol"] == "AAPL")
    average = float(aapl["filled_avg_price"])
    assert sum(3 * p for p in prices) == pytest.approx(9 * average)
    b = result.summary["broker"]
    assert b["stats"]["rejected_by_broker"] == 1 and b["stats"]["duplicate_events"] >= 1
    [session] = result.records
    assert session["trading"]["rejected_orders"] == 1
    assert session["trading"]["rejections"] == ["broker: rejected (trade_updates)"]
    log = (tmp_path / "out" / "run.log").read_text()
    assert "order rejected at fill by rule 'broker'" in log
    assert SCRIPT_LOG[-1] == ("AAPL:2:cancel:1", True)  # accepted, yet the order filled: the books say so
    assert "after its cancel was accepted: the cancel lost the race" in log
    assert result.summary["open_positions"]["AAPL"]["quantity"] == 9


def test_a_restart_mid_session_adopts_the_runs_orders_and_continues_its_ids(tmp_path, store):
    with servers(store, tmp_path, "--fill-delay", "2.5") as srv:
        # Arrange: the first process sends an order and stops before its fill, leaving it open
        first = broker_config(tmp_path / "first.yaml", srv, store, stop_after=3,
                              broker={"cancel_on_exit": False}, params={"orders": "AAPL:1:buy:5"})
        run(load_session_config(first), tmp_path / "out1")
        assert [o["status"] for o in orders_at(srv)] in (["new"], ["accepted"], ["filled"])
        # Act: the same session restarted; it sells what the first process bought
        second = broker_config(tmp_path / "second.yaml", srv, store, stop_after=8,
                               params={"orders": "AAPL:3:sell:5"})
        result = run(load_session_config(second), tmp_path / "out2")
        orders = orders_at(srv)
        held = positions_at(srv)
    # Assert: the earlier order adopted (its fill booked once), the new one numbered after it
    run_id = result.summary["broker"]["run_id"]
    assert [o["client_order_id"] for o in orders] == [f"{run_id}-000001", f"{run_id}-000002"]
    assert [o["status"] for o in orders] == ["filled", "filled"]
    b = result.summary["broker"]
    assert b["stats"]["adopted_from_earlier"] == 1 and b["foreign_positions"] == {}
    # the second process's books hold the run id's whole history, the adopted fill once (whether
    # the first process saw it before it stopped or not)
    assert [(r["side"], int(r["quantity"])) for r in fills_csv(tmp_path / "out2")] == [("buy", 5), ("sell", 5)]
    assert len(fills_csv(tmp_path / "out1")) <= 1
    assert held == {} and "AAPL" not in result.summary["open_positions"]


def test_the_kill_switch_cancels_flattens_and_refuses_new_orders(tmp_path, store):
    # Arrange: a short of 10 AAPL while the price climbs 1 a second: 15 of loss trips the switch
    with servers(store, tmp_path) as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, stop_after=8,
                            trading={"allow_short": True, "max_daily_loss": 15, "flatten_on_kill": True},
                            params={"orders": "AAPL:1:sell:10;MSFT:1:buy:1:1.00;AAPL:6:sell:1"})
        # Act
        result = run(load_session_config(cfg), tmp_path / "out")
        held = positions_at(srv)
        orders = orders_at(srv)
    # Assert: the limit order cancelled, the short covered, the later order refused
    kill = result.summary["broker"]["kill_switch"]
    assert kill is not None and kill["orders_cancelled"] == 1 and kill["flatten_orders"] == ["buy 10 AAPL market day"]
    assert [ok is None for _, ok in SCRIPT_LOG] == [False, False, True]
    assert held == {}
    assert [o["status"] for o in orders] == ["filled", "canceled", "filled"]
    [session] = result.records
    assert session["trading"]["rejections"][0].startswith("kill switch: equity")
    assert "kill switch" in (tmp_path / "out" / "report.txt").read_text().lower()
