"""client_order_id derivation and the order state logic of the Alpaca adapter (pure, no sockets)."""

from __future__ import annotations

from datetime import date

import pytest
from app.execution.alpaca_ids import client_order_id, default_run_id, sequence_of
from app.execution.alpaca_orders import order_body, order_from_wire, price_text
from app.execution.alpaca_state import OrderTracker
from app.execution.orders import Order, OrderSide, OrderType, TimeInForce
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

RUN_IDS = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)


# -- client_order_id --------------------------------------------------------------------------

def test_client_order_id_is_the_run_id_and_a_zero_padded_sequence():
    assert client_order_id("live_demo-20240102", 17) == "live_demo-20240102-000017"
    assert client_order_id("r", 1_234_567) == "r-1234567"


def test_the_default_run_id_is_the_session_name_and_date_cleaned():
    assert default_run_id("live demo/ä", date(2024, 1, 2)) == "live_demo-20240102"
    assert default_run_id("!!!", date(2024, 1, 2)) == "run-20240102"
    assert default_run_id("x" * 80, date(2024, 1, 2)) == "x" * 30 + "-20240102"


@pytest.mark.parametrize("seq", [0, -1, True, 1.0])
def test_a_sequence_number_below_one_is_refused(seq):
    with pytest.raises(ValueError, match="expected an order sequence number >= 1"):
        client_order_id("run", seq)


@pytest.mark.property
@given(RUN_IDS, st.integers(1, 10**9), st.integers(1, 10**9))
def test_ids_are_deterministic_distinct_and_read_back(run_id, a, b):
    cid = client_order_id(run_id, a)
    assert cid == client_order_id(run_id, a)  # the same order gets the same id: a retry cannot duplicate it
    assert len(cid) <= 128
    assert (cid == client_order_id(run_id, b)) == (a == b)
    assert sequence_of(cid, run_id) == a


@pytest.mark.property
@given(RUN_IDS, RUN_IDS, st.integers(1, 10**6))
def test_another_runs_ids_are_not_read_as_ours(mine, other, seq):
    cid = client_order_id(other, seq)
    got = sequence_of(cid, mine)
    if got is not None:  # only when the other id happens to be ours with another split ("a-1" + "-000002")
        assert client_order_id(mine, got) == cid


def test_sequence_of_refuses_foreign_and_malformed_ids():
    assert sequence_of("other-000001", "run") is None
    assert sequence_of("run-00000x", "run") is None
    assert sequence_of("run-", "run") is None
    assert sequence_of("run-0000001", "run") is None  # not how we would have written 1


# -- wire forms -------------------------------------------------------------------------------

def test_order_body_sends_decimals_as_strings_without_sub_penny():
    order = Order(3, "AAPL", OrderSide.BUY, 10, OrderType.LIMIT, 150.123456, 0, TimeInForce.GTC)
    assert order_body(order, "r-000003") == {
        "symbol": "AAPL", "qty": "10", "side": "buy", "type": "limit", "time_in_force": "gtc",
        "client_order_id": "r-000003", "limit_price": "150.12"}
    assert price_text(0.123456) == "0.1235"
    assert order_body(Order(1, "A", OrderSide.SELL, 1), "r-1", extended_hours=True)["extended_hours"] is True


def test_order_from_wire_takes_whole_share_market_and_limit_orders_only():
    wire = {"symbol": "MSFT", "qty": "5", "side": "sell", "type": "limit", "limit_price": "201.5",
            "time_in_force": "day"}
    assert order_from_wire(wire, -4, 7) == Order(-4, "MSFT", OrderSide.SELL, 5, OrderType.LIMIT, 201.5, 7)
    assert order_from_wire({**wire, "type": "stop"}, -4, 7) is None
    assert order_from_wire({**wire, "qty": "2.5"}, -4, 7) is None


# -- the tracker ------------------------------------------------------------------------------

def _wire(cum: int, avg: float | None, status: str = "partially_filled", cid: str = "r-000001") -> dict:
    return {"id": "b-1", "client_order_id": cid, "status": status, "qty": "10", "filled_qty": str(cum),
            "filled_avg_price": None if avg is None else str(avg)}


def test_a_fill_event_gives_its_own_price_and_a_repeat_gives_nothing():
    tracker = OrderTracker()
    tracker.register("r-000001")
    first = tracker.apply(_wire(4, 100.5), 1, source="stream", execution_id="e1", price="100.5", qty="4")
    again = tracker.apply(_wire(4, 100.5), 2, source="stream", execution_id="e1", price="100.5", qty="4")
    assert [(e.quantity, e.price) for e in first.executions] == [(4, 100.5)]
    assert again.executions == () and again.ended is None


def test_a_rest_snapshot_after_missed_events_gives_the_missing_shares_at_their_average():
    # Arrange: 4 at 100 seen on the stream; 6 more at 101 missed while it was down
    tracker = OrderTracker()
    tracker.register("r-000001")
    tracker.apply(_wire(4, 100.0), 1, source="stream", execution_id="e1", price="100", qty="4")
    # Act: the REST order says 10 filled at an average of 100.6
    update = tracker.apply(_wire(10, 100.6, "filled"), 2, source="rest")
    # Assert: the 6 missing shares, at the price that makes the average right
    assert [(e.quantity, round(e.price, 9), e.source) for e in update.executions] == [(6, 101.0, "rest")]
    assert update.ended == "filled"
    # the stream's late fill event for those shares changes nothing
    late = tracker.apply(_wire(10, 100.6, "filled"), 3, source="stream", execution_id="e2", price="101", qty="6")
    assert late.executions == () and late.ended is None


def test_a_terminal_status_never_reopens_but_a_crossing_fill_still_counts():
    tracker = OrderTracker()
    tracker.register("r-000001")
    assert tracker.apply(_wire(0, None, "canceled"), 1, source="stream").ended == "canceled"
    late = tracker.apply(_wire(3, 99.0, "new"), 2, source="rest")  # a fill crossed the cancel
    assert [(e.quantity, e.price) for e in late.executions] == [(3, 99.0)]
    assert late.ended is None and tracker.get("r-000001").status == "canceled"
    assert tracker.open_ids() == []


def test_orders_not_tracked_are_not_ours():
    assert OrderTracker().apply(_wire(1, 1.0), 1, source="stream") is None


@st.composite
def fill_histories(draw):
    """A broker's executions of one 100-share order, then the messages a client may receive about them."""
    sizes = draw(st.lists(st.integers(1, 20), min_size=1, max_size=8))
    prices = draw(st.lists(st.integers(9_000, 11_000), min_size=len(sizes), max_size=len(sizes)))
    states = []  # after each execution: (cum, avg, exec id, exec qty, exec price)
    cum, notional = 0, 0.0
    for k, (size, cents) in enumerate(zip(sizes, prices, strict=True)):
        price = cents / 100
        cum += size
        notional += size * price
        states.append((cum, notional / cum, f"e{k}", size, price))
    # Messages: each execution's event (maybe lost, maybe repeated), REST snapshots at any point
    messages = []
    for k, state in enumerate(states):
        if not draw(st.booleans()) or (k == len(states) - 1 and draw(st.booleans())):
            messages.append(("event", state))
        if draw(st.booleans()):
            messages.append(("event", state))  # a resent event
        if draw(st.integers(0, 3)) == 0:
            messages.append(("rest", state))
    messages.append(("rest", states[-1]))  # the reconcile after the last reconnect
    order = draw(st.permutations(range(len(messages))))  # arrival order is not guaranteed...
    shuffled = [messages[i] for i in order]
    return states, shuffled if draw(st.booleans()) else messages


@pytest.mark.property
@given(fill_histories())
def test_every_share_is_applied_once_whatever_arrives_twice_late_or_not_at_all(history):
    states, messages = history
    tracker = OrderTracker()
    tracker.register("r-000001")
    applied = []
    for kind, (cum, avg, exec_id, qty, price) in messages:
        wire = _wire(cum, avg, "filled" if cum == states[-1][0] else "partially_filled")
        if kind == "event":
            update = tracker.apply(wire, 0, source="stream", execution_id=exec_id, price=str(price), qty=str(qty))
        else:
            update = tracker.apply(wire, 0, source="rest")
        applied.extend(update.executions)
        # applying the same message again changes nothing
        if kind == "event":
            assert tracker.apply(wire, 0, source="stream", execution_id=exec_id, price=str(price),
                                 qty=str(qty)).executions == ()
        else:
            assert tracker.apply(wire, 0, source="rest").executions == ()
    final_cum, final_avg = states[-1][0], states[-1][1]
    assert sum(e.quantity for e in applied) == final_cum
    assert all(e.quantity > 0 for e in applied)
    assert sum(e.quantity * e.price for e in applied) == pytest.approx(final_cum * final_avg, rel=1e-9)
    assert tracker.get("r-000001").ended


# -- positions --------------------------------------------------------------------------------

def test_positions_beyond_the_runs_own_are_foreign_and_later_differences_mismatches():
    from app.execution.alpaca_positions import broker_positions, foreign_positions, position_mismatches

    held = broker_positions([{"symbol": "AAPL", "qty": "5"}, {"symbol": "MSFT", "qty": "-3"}, {"qty": "1"}])
    assert held == {"AAPL": 5, "MSFT": -3}
    assert foreign_positions(held, {"AAPL": 5, "SPY": 2}) == {"MSFT": -3, "SPY": -2}
    assert position_mismatches(held, {"AAPL": 5}, {"MSFT": -3}) == {}
    assert position_mismatches({"MSFT": -3}, {"AAPL": 5}, {"MSFT": -3}) == {"AAPL": (0, 5)}


def test_the_kill_switch_trips_once_per_session_below_its_first_reading():
    from app.execution.kill_switch import KillSwitch

    ks = KillSwitch(100.0)
    assert [ks.check(e) for e in (1_000.0, 950.0, 900.0)] == [None, None, None]  # 100 below: not beyond
    reason = ks.check(899.0)
    assert reason == ("kill switch: equity 899.00 is 101.00 below the session's start 1,000.00 "
                      "(trading.max_daily_loss 100.00); no new orders this session")
    assert ks.check(500.0) is None and ks.reason == reason  # trips once
    ks.new_session()
    assert ks.reason is None and ks.check(500.0) is None and ks.start == 500.0
    assert KillSwitch(None).check(0.0) is None
