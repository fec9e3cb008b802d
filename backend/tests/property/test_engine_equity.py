"""The engine's equity points from the account's changes equal `account` step by step (issue 7).

A one-symbol batch on the paper broker computes its equity points after the loop, from the
(cash, quantity) the account holds from each fill on (`execution/ledger.equity_points`). They
must be the floats `Ledger.account` gives when asked at every step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app.config import load_session_config
from app.execution.ledger import Ledger, equity_points
from app.execution.orders import BUY, LIMIT, MARKET, SELL, Order
from app.execution.paper import SimulatedBroker
from app.execution.risk import Limits
from app.runtime.run import run
from app.store.bar import Bar
from hypothesis import given, settings
from hypothesis import strategies as st
from support.runs import make_store, write_config

PRICE = st.floats(min_value=0.01, max_value=5_000, allow_nan=False, allow_infinity=False)
CLOSE = st.one_of(PRICE, st.floats(-5_000, 0.0, allow_nan=False))  # any float: flat stays cash + 0.0


@pytest.mark.property
@given(steps=st.lists(st.tuples(CLOSE, st.one_of(st.none(), st.tuples(st.integers(-500, 500), PRICE,
                                                                        st.floats(0, 5)))),
                      min_size=0, max_size=60),
       cash=st.one_of(st.just(-0.0), st.floats(-1e6, 1e7, allow_nan=False)))
def test_equity_from_the_changes_equals_account_at_every_step(steps, cash) -> None:
    ledger = Ledger(cash)
    expected_eq, expected_cash = [], []
    at, cashes, qtys = [0], [cash], [0]
    for k, (close, fill) in enumerate(steps):
        if fill is not None and fill[0] != 0:  # a fill at this bar's mark, before its point
            qty, price, commission = fill
            ledger.apply("X", qty, price, commission, k)
            held = ledger.holding("X")
            assert held is not None
            at.append(k)
            cashes.append(held[0])
            qtys.append(held[1])
        equity, money = ledger.account({"X": close})
        expected_eq.append(equity)
        expected_cash.append(money)
    eq, money = equity_points(at, cashes, qtys, np.array([c for c, _ in steps], dtype=np.float64))
    assert eq.tolist() == expected_eq  # bit for bit (== on floats; no NaN here)
    assert money.tolist() == expected_cash
    assert np.signbit(eq).tolist() == np.signbit(np.array(expected_eq, dtype=np.float64)).tolist()


@pytest.mark.unit
def test_holding_is_none_once_another_symbol_is_held() -> None:
    ledger = Ledger(1_000.0)
    assert ledger.holding("X") == (1_000.0, 0)
    ledger.apply("X", 5, 10.0, 1.0, 0)
    assert ledger.holding("X") == (949.0, 5)
    ledger.apply("Y", 1, 10.0, 0.0, 1)
    assert ledger.holding("X") is None
    ledger.apply("Y", -1, 10.0, 0.0, 2)
    assert ledger.holding("X") == (949.0, 5)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), symbols=("AAPL",))


@pytest.mark.threads
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_a_random_trader_gets_the_same_fills_and_equity_either_way(store, tmp_path_factory, seed) -> None:
    # The batch path (equity worked out after the loop) against the step-by-step one (the paper
    # broker told it is not steady between fills): the same outputs, byte for byte.
    cfg = load_session_config(write_config(
        tmp_path_factory.mktemp("cfg") / "s.yaml", store, symbols=["AAPL"], streams=["1m"],
        backtest={"start_date": "2024-07-01", "end_date": "2024-07-03", "speed_multiplier": 0},
        strategy={"class": "support.probes:RandomTrader", "params": {"seed": seed, "rate": 0.08}},
        trading={"starting_cash": 50_000, "max_per_trade": 40_000, "max_per_symbol": 45_000,
                 "max_open_positions": 1, "commission_per_share": 0.005, "slippage_bps": 2,
                 "allow_short": True}))
    fast = run(cfg, tmp_path_factory.mktemp("fast")).out_dir
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SimulatedBroker, "steady_between_fills", False)
        slow = run(cfg, tmp_path_factory.mktemp("slow")).out_dir
    for name in ("fills.csv", "equity.csv"):
        assert (fast / name).read_bytes() == (slow / name).read_bytes(), name
    records = [json.loads((out / "sessions.json").read_text()) for out in (fast, slow)]
    for record in (*records[0], *records[1]):
        del record["metrics"]  # timings
    assert records[0] == records[1]
    assert len((fast / "fills.csv").read_text().splitlines()) > 3  # it did trade


_SYMS = ("A", "B", "C")
_STEP = st.lists(st.tuples(st.floats(10, 200, allow_nan=False), st.floats(0, 0.05), st.floats(0, 0.05)),
                 min_size=3, max_size=3)  # per symbol: close, how far high and low reach


@pytest.mark.property
@given(steps=st.lists(st.tuples(_STEP, st.lists(st.tuples(st.sampled_from(_SYMS), st.booleans(),
                                                           st.integers(1, 400), st.booleans()), max_size=3)),
                      min_size=1, max_size=25))
def test_marking_a_step_at_once_equals_marking_its_bars_one_by_one(steps) -> None:
    # `SimulatedBroker.mark_all` (a step's bars, one dict update when nothing is pending for
    # them) against `mark` bar by bar: the same fills, rejections, marks and account, shorts included.
    limits = Limits(starting_cash=100_000, max_per_trade=60_000, max_per_symbol=60_000, max_open_positions=2,
                    commission_per_share=0.005, slippage_bps=2, allow_short=True)
    at_once, one_by_one = SimulatedBroker(limits), SimulatedBroker(limits)
    oid = 0
    for k, (prices, orders) in enumerate(steps):
        bars = [Bar(s, k * 60, c, c * (1 + up), c * (1 - down), c, 100.0)
                for s, (c, up, down) in zip(_SYMS, prices, strict=True)]
        at_once.mark_all(bars)
        for bar in bars:
            one_by_one.mark(bar)
        for symbol, buy, qty, limit in orders:  # placed after the step: they may fill on the next one
            oid += 1
            price = one_by_one.last_price(symbol)
            assert price is not None
            for broker in (at_once, one_by_one):
                broker.submit(Order(oid, symbol, BUY if buy else SELL, qty, LIMIT if limit else MARKET,
                                    round(price, 2) if limit else None, k * 60 + 1), price)
    for got, want in ((at_once.fills, one_by_one.fills), (at_once.rejections, one_by_one.rejections)):
        assert got == want
    assert [at_once.last_price(s) for s in _SYMS] == [one_by_one.last_price(s) for s in _SYMS]
    assert at_once.account() == one_by_one.account()
