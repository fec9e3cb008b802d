"""Properties of the pure order book under random submits, bars, cancels, delays and market switches.

After every step: cash and positions equal what the executions imply; each order's filled_qty is
the sum of its executions and never exceeds qty; a filled order's parts sum to its qty; statuses
never go backwards and terminal ones never change; each order's events run new -> partial_fill*
-> one terminal event; limit fills respect the limit; market fills are at a bar open.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from app.broker.server.book import Book
from app.broker.server.orders import STATUS_RANK, TERMINAL_STATUSES, ApiError, Bar, OrderRequest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.property

SYMBOLS = ("AAA", "BBB")
prices = st.integers(min_value=50, max_value=150).map(Decimal)

submit = st.tuples(st.just("submit"), st.sampled_from(SYMBOLS), st.sampled_from(("buy", "sell")),
                   st.integers(1, 30), st.one_of(st.none(), prices), st.sampled_from(("day", "gtc")))
bar = st.tuples(st.just("bar"), st.sampled_from(SYMBOLS), prices, st.integers(0, 20), st.integers(0, 20))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
replace = st.tuples(st.just("replace"), st.integers(0, 50), st.integers(1, 30))
other = st.sampled_from([("advance",), ("close",), ("open",), ("end_of_day",)])
operations = st.lists(st.one_of(submit, submit, bar, bar, bar, cancel, replace, other), max_size=40)


def _check(book: Book, initial: Decimal, ranks: dict[str, int], terminal: dict[str, str]) -> None:
    signed = defaultdict(Decimal)
    cash = initial
    per_order: dict[str, list] = defaultdict(list)
    for ex in book.executions:
        s = ex.qty if ex.side == "buy" else -ex.qty
        signed[ex.symbol] += s
        cash -= s * ex.price
        per_order[ex.order_id].append(ex)
    assert book.cash == cash
    assert {s: q for s, q in signed.items() if q != 0} == {s: p.qty for s, p in book.positions.items()}
    for order in book.orders.values():
        parts = per_order.get(order.id, [])
        assert order.filled_qty == sum((e.qty for e in parts), Decimal(0)) <= order.qty
        assert order.filled_value == sum((e.qty * e.price for e in parts), Decimal(0))
        assert len(parts) <= book.partial_fills
        if order.status == "filled":
            assert order.filled_qty == order.qty
        if order.limit_price is not None:
            assert all(e.price <= order.limit_price if order.side == "buy" else e.price >= order.limit_price
                       for e in parts)
        assert STATUS_RANK[order.status] >= ranks.get(order.id, 0)
        ranks[order.id] = STATUS_RANK[order.status]
        if order.id in terminal:
            assert order.status == terminal[order.id]
        if order.status in TERMINAL_STATUSES:
            terminal[order.id] = order.status


def _check_events(events: list) -> None:
    by_order: dict[str, list] = defaultdict(list)
    for e in events:
        by_order[e.order.id].append(e)
    for evs in by_order.values():
        names = [e.event for e in evs]
        # an order canceled or expired while `accepted` (market closed) never had a `new`
        assert names[0] in ("new", "rejected", "canceled", "expired"), names
        assert names.count("new") <= 1
        terminal = [n for n in names if n in ("fill", "canceled", "expired", "rejected", "replaced")]
        assert len(terminal) <= 1 and (not terminal or names[-1] == terminal[0]), names
        assert all(n == "partial_fill" for n in names[1:len(names) - len(terminal)]), names
        filled = [e.order.filled_qty for e in evs]
        assert filled == sorted(filled)
        for e in evs:
            if e.event in ("fill", "partial_fill"):
                assert e.qty is not None and e.qty > 0 and e.price is not None


def _cancel(book: Book, op: tuple, now: int) -> list:
    ids = sorted(book.orders)
    if not ids:
        return []
    target = ids[op[1] % len(ids)]
    try:
        return book.cancel(target, now)
    except ApiError as e:
        assert (e.status, e.code) == (422, 42210000) and not book.orders[target].is_open
        return []


def _replace(book: Book, op: tuple, now: int) -> list:
    ids = sorted(book.orders)
    if not ids:
        return []
    target = ids[op[1] % len(ids)]
    try:
        new, evs = book.replace(target, {"qty": Decimal(op[2])}, now)
    except ApiError as e:
        assert e.status in (403, 422)
        return []
    assert book.orders[target].status == "replaced" and new.replaces == target
    return evs


def _step(book: Book, op: tuple, now: int, opens: dict[tuple[str, int], Decimal]) -> tuple[list, int]:
    kind = op[0]
    if kind == "submit":
        _, symbol, side, qty, limit, tif = op
        req = OrderRequest(symbol, Decimal(qty), side, "limit" if limit is not None else "market", tif, limit)
        answer, evs = book.submit(req, now)
        assert answer.status in ("accepted", "new")
        return evs, now
    if kind == "bar":
        _, symbol, o, up, down = op
        opens[(symbol, now)] = o
        return book.on_bar(Bar(symbol, now, now, o, o + up, o - down, o), now), now
    if kind == "cancel":
        return _cancel(book, op, now), now
    if kind == "replace":
        return _replace(book, op, now), now
    if kind == "advance":
        return book.advance(now + 5), now + 5
    if kind in ("open", "close"):
        return book.set_market_open(kind == "open", now), now
    return book.expire_day_orders(now), now


@settings(max_examples=150, deadline=None)
@given(operations, st.integers(1, 4), st.sampled_from((0, 5)), st.booleans())
def test_book_invariants_hold_after_every_step(ops, partial_fills, delay, start_closed):
    initial = Decimal(1_000_000)
    book = Book(initial, partial_fills=partial_fills, fill_delay_ns=delay, market_open=not start_closed)
    now = 0
    ranks: dict[str, int] = {}
    terminal: dict[str, str] = {}
    events: list = []
    opens: dict[tuple[str, int], Decimal] = {}
    for op in ops:
        evs, now = _step(book, op, now + 1, opens)
        events += evs
        _check(book, initial, ranks, terminal)
    _check_events(events)
    for ex in book.executions:
        if book.orders[ex.order_id].type == "market":
            assert ex.price in {p for (s, _t), p in opens.items() if s == ex.symbol}


@given(st.integers(1, 500), st.integers(1, 6))
def test_partial_fills_sum_to_the_order_qty(qty, parts):
    book = Book(Decimal(10**9), partial_fills=parts)
    order, _ = book.submit(OrderRequest("AAA", Decimal(qty), "buy", "market", "day"), 0)
    sizes = []
    for t in range(1, parts + 2):
        for e in book.on_bar(Bar("AAA", t, t, Decimal(10), Decimal(10), Decimal(10), Decimal(10)), t):
            sizes.append(e.qty)
    assert sum(sizes) == qty and len(sizes) == min(parts, qty) and all(s >= 1 for s in sizes)
    assert book.orders[order.id].status == "filled"


def test_an_order_fills_on_the_bar_in_progress_when_it_was_sent_not_on_an_earlier_one():
    book = Book()
    book.submit(OrderRequest("AAA", Decimal(1), "buy", "market", "day"), 1_000)
    assert book.on_bar(Bar("AAA", 0, 1_000, Decimal(99), Decimal(99), Decimal(99), Decimal(99)), 1_500) == []
    [fill] = book.on_bar(Bar("AAA", 1_000, 2_000, Decimal(100), Decimal(101), Decimal(99), Decimal(100)), 2_100)
    assert (fill.event, fill.price) == ("fill", Decimal(100))


def test_a_buy_beyond_buying_power_is_refused_with_403():
    book = Book(Decimal(1000))
    with pytest.raises(ApiError) as info:
        book.submit(OrderRequest("AAA", Decimal(11), "buy", "limit", "day", Decimal(100)), 0)
    assert (info.value.status, info.value.code, info.value.message) == (403, 40310000, "insufficient buying power")
    assert info.value.body()["buying_power"] == "1000"
