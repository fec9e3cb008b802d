"""Pre-trade risk checks: each limit, the reason text, and the limits' own validation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.execution.orders import Order, OrderSide, OrderType
from app.execution.risk import (
    Limits,
    PortfolioSnapshot,
    check_order,
    estimate_buy_cost,
    estimate_commission,
)


def _limits(**overrides):
    fields = {
        "starting_cash": 100_000.0,
        "max_per_trade": 10_000.0,
        "max_per_symbol": 12_000.0,
        "max_open_positions": 2,
        **overrides,
    }
    return Limits(**fields)


def _buy(qty, symbol="AAPL", **kw):
    return Order(1, symbol, OrderSide.BUY, qty, **kw)


def _sell(qty, symbol="AAPL", **kw):
    return Order(2, symbol, OrderSide.SELL, qty, **kw)


RICH = PortfolioSnapshot(buying_power=1_000_000.0)


def test_order_within_every_limit_is_accepted():
    assert check_order(_buy(50), 100.0, RICH, _limits()) is None


def test_max_per_trade_names_notional_and_limit():
    reason = check_order(_buy(100), 123.45, RICH, _limits())
    assert reason == (
        "max_per_trade: order notional 12,345.00 exceeds 10,000.00 (buy 100 AAPL at 123.45)"
    )


def test_max_per_trade_allows_exactly_the_limit():
    assert check_order(_buy(100), 100.0, RICH, _limits()) is None


def test_max_per_symbol_counts_the_existing_position():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": 100})
    reason = check_order(_buy(50), 100.0, book, _limits())
    assert reason is not None
    assert reason.startswith(
        "max_per_symbol: AAPL position notional 15,000.00 after the order exceeds 12,000.00"
    )


def test_max_per_symbol_never_refuses_a_reducing_order():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": 200})  # 20,000 held, above the 12,000 limit
    assert check_order(_sell(50), 100.0, book, _limits()) is None


def test_max_per_symbol_applies_to_shorts():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": -100})
    reason = check_order(_sell(30), 100.0, book, _limits(allow_short=True))
    assert reason is not None
    assert reason.startswith("max_per_symbol: AAPL position notional 13,000.00")


def test_max_open_positions_refuses_a_new_symbol_only():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": 10, "MSFT": 10, "FLAT": 0})

    assert check_order(_buy(10, "NVDA"), 100.0, book, _limits()) == (
        "max_open_positions: opening NVDA would make 3 open positions, limit 2"
    )
    assert check_order(_buy(10, "AAPL"), 100.0, book, _limits()) is None


def test_insufficient_cash_includes_commission():
    book = PortfolioSnapshot(1_000.0)
    limits = _limits(commission_min=1.0, commission_per_share=0.005)

    assert check_order(_buy(10), 100.0, book, limits) == (
        "insufficient cash: buy 10 AAPL needs 1,001.00 including commission 1.00, "
        "available 1,000.00"
    )
    assert check_order(_buy(9), 100.0, book, limits) is None


def test_insufficient_cash_prices_a_market_buy_with_slippage():
    book = PortfolioSnapshot(1_000.0)
    # 10 x 99.95 x 1.001 = 1,000.4995 > 1,000
    reason = check_order(_buy(10), 99.95, book, _limits(slippage_bps=10.0))
    assert reason is not None and reason.startswith("insufficient cash: buy 10 AAPL needs 1,000.50")


def test_limit_buy_is_priced_at_its_limit():
    order = _buy(10, type=OrderType.LIMIT, limit_price=90.0)
    assert estimate_buy_cost(order, 100.0, _limits(slippage_bps=50.0)) == 900.0
    assert check_order(order, 100.0, PortfolioSnapshot(900.0), _limits()) is None


def test_no_shorting_when_selling_more_than_held():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": 100})
    assert check_order(_sell(150), 50.0, book, _limits()) == (
        "no shorting: sell 150 AAPL exceeds position 100 (allow_short is false)"
    )
    assert check_order(_sell(100), 50.0, book, _limits()) is None


def test_shorting_allowed_when_configured():
    book = PortfolioSnapshot(1_000_000.0, {"AAPL": 100})
    assert check_order(_sell(150), 50.0, book, _limits(allow_short=True)) is None


def test_max_per_trade_is_checked_before_the_other_limits():
    # Also short and unaffordable: the first rule in the documented order wins.
    reason = check_order(_sell(200), 100.0, PortfolioSnapshot(0.0), _limits())
    assert reason is not None and reason.startswith("max_per_trade:")


def test_sells_need_no_cash():
    book = PortfolioSnapshot(0.0, {"AAPL": 10})
    assert estimate_buy_cost(_sell(10), 100.0, _limits()) == 0.0
    assert check_order(_sell(10), 100.0, book, _limits(commission_min=5.0)) is None


def test_commission_is_the_larger_of_minimum_and_per_share():
    limits = _limits(commission_per_share=0.005, commission_min=1.0)
    assert estimate_commission(100, limits) == 1.0
    assert estimate_commission(1_000, limits) == pytest.approx(5.0)


def test_any_object_with_the_limit_fields_is_accepted():
    @dataclass(frozen=True)
    class TradingLimits:  # stands in for the config package's class
        starting_cash: float = 100_000.0
        max_per_trade: float = 1_000.0
        max_per_symbol: float = 5_000.0
        max_open_positions: int = 3
        commission_per_share: float = 0.0
        commission_min: float = 0.0
        slippage_bps: float = 0.0
        allow_short: bool = False

    reason = check_order(_buy(20), 100.0, RICH, TradingLimits())
    assert reason is not None
    assert reason.startswith("max_per_trade: order notional 2,000.00 exceeds 1,000.00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("starting_cash", 0.0, r"starting_cash: expected a number > 0, received 0.0"),
        ("max_per_trade", -1.0, r"max_per_trade: expected a number > 0, received -1.0"),
        ("max_per_symbol", float("inf"), r"max_per_symbol: expected a number > 0, received inf"),
        (
            "commission_per_share",
            -0.01,
            r"commission_per_share: expected a number >= 0, received -0.01",
        ),
        ("commission_min", "1", r"commission_min: expected a number >= 0, received '1'"),
        ("slippage_bps", -3, r"slippage_bps: expected a number >= 0, received -3"),
        ("max_open_positions", 0, r"max_open_positions: expected an int >= 1, received 0"),
        ("max_open_positions", 2.0, r"max_open_positions: expected an int >= 1, received 2.0"),
    ],
)
def test_limits_reject_out_of_range_fields(field, value, message):
    with pytest.raises(ValueError, match=rf"^Limits\.{message}$"):
        _limits(**{field: value})
