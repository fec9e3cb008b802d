"""Run and session statistics, with hand-computed expectations."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from app.execution.orders import OrderSide
from app.metrics.stats import (
    compute_run_summary,
    compute_session_stats,
    max_drawdown_pct,
    open_positions,
    profit_factor,
    sharpe_ratio,
    symbol_pnl,
    win_rate_pct,
)


def _trades(*pnls):
    return [SimpleNamespace(pnl=p) for p in pnls]


def test_max_drawdown_is_the_largest_fall_from_a_running_peak():
    # peaks 100, 110, 110, 120, 120 -> falls 0, 0, 10 %, 0, 25 %
    assert max_drawdown_pct(np.array([110.0, 99.0, 120.0, 90.0]), 100.0) == pytest.approx(25.0)


def test_max_drawdown_counts_a_fall_from_the_starting_cash():
    assert max_drawdown_pct(np.array([80.0, 90.0]), 100.0) == pytest.approx(20.0)


def test_max_drawdown_of_rising_or_empty_equity_is_zero():
    assert max_drawdown_pct(np.array([100.0, 101.0, 105.0]), 100.0) == 0.0
    assert max_drawdown_pct(np.array([]), 100.0) == 0.0


def test_max_drawdown_needs_positive_starting_cash():
    with pytest.raises(ValueError, match=r"expected starting_cash > 0, received 0.0"):
        max_drawdown_pct(np.array([1.0]), 0.0)


def test_sharpe_of_two_daily_returns():
    # returns +2 %, -1 %: mean 0.005, std (ddof 1) 0.015 * sqrt(2)
    # -> 0.005 / (0.015 sqrt 2) * sqrt(252) = sqrt(126) / 3
    assert sharpe_ratio([102.0, 100.98], 100.0) == pytest.approx(math.sqrt(126) / 3)


def test_sharpe_is_zero_for_one_session_or_constant_returns():
    assert sharpe_ratio([150.0], 100.0) == 0.0
    assert sharpe_ratio([], 100.0) == 0.0
    assert sharpe_ratio([100.0, 100.0, 100.0], 100.0) == 0.0


def test_win_rate_and_profit_factor():
    trades = _trades(100.0, -50.0, 30.0, -10.0, 0.0)

    assert win_rate_pct(trades) == pytest.approx(40.0)
    assert profit_factor(trades) == pytest.approx(130.0 / 60.0)


def test_win_rate_and_profit_factor_without_losses_or_trades():
    assert profit_factor(_trades(5.0, 0.0)) is None
    assert profit_factor([]) is None
    assert win_rate_pct([]) is None


def test_compute_run_summary_worked_example():
    # Arrange: 2 sessions, one winning and one losing trade, 1,000 bars
    equity_ns = np.array([1, 2, 3, 4], dtype=np.int64)
    equity = np.array([100_500.0, 99_000.0, 101_000.0, 102_000.0])

    # Act
    out = compute_run_summary(
        equity_ns, equity, [99_000.0, 102_000.0], _trades(2_500.0, -500.0), 100_000.0,
        fills_count=4, bars_processed=1_000, rejected_orders=1,
    )

    # Assert: returns -1 % then 102/99 - 1; drawdown 100,500 -> 99,000
    returns = [-0.01, 102_000.0 / 99_000.0 - 1.0]
    mean = sum(returns) / 2
    std = math.sqrt(sum((r - mean) ** 2 for r in returns))
    assert out == {
        "sessions": 2,
        "bars_processed": 1_000,
        "trading": {
            "starting_cash": 100_000.0,
            "final_equity": 102_000.0,
            "pnl": 2_000.0,
            "total_return_pct": pytest.approx(2.0),
            "sharpe": pytest.approx(mean / std * math.sqrt(252)),
            "max_drawdown_pct": pytest.approx(1_500.0 / 100_500.0 * 100.0),
            "win_rate_pct": 50.0,
            "profit_factor": 5.0,
            "trades": 2,
            "fills": 4,
            "rejected_orders": 1,
        },
    }


def test_compute_run_summary_without_equity_has_no_timings():
    out = compute_run_summary(np.array([]), np.array([]), [], [], 1_000.0, 0, 0)

    assert out["sessions"] == 0
    assert out["trading"]["final_equity"] == 1_000.0
    assert out["trading"]["win_rate_pct"] is None
    assert "metrics" not in out  # wall-clock figures come from RunMetrics.run_report


def test_compute_run_summary_refuses_mismatched_series():
    message = r"expected equity_ns and equity of equal length, received 2 and 1"
    with pytest.raises(ValueError, match=message):
        compute_run_summary(np.array([1, 2]), np.array([1.0]), [], [], 1.0, 0, 0)


def test_compute_session_stats():
    out = compute_session_stats(
        "2024-01-02", 100_000.0, 99_750.0, 3, _trades(50.0, -300.0),
        rejected_orders=2, bars_processed=780,
    )

    assert out == {
        "date": "2024-01-02",
        "bars_processed": 780,
        "trading": {
            "equity_start": 100_000.0,
            "equity_end": 99_750.0,
            "pnl": -250.0,
            "return_pct": pytest.approx(-0.25),
            "fills": 3,
            "trades": 2,
            "wins": 1,
            "rejected_orders": 2,
        },
    }


def _fill(symbol, side, quantity, price, commission=1.0):
    return SimpleNamespace(symbol=symbol, side=side, quantity=quantity, price=price, commission=commission)


def test_symbol_pnl_is_cash_flow_plus_the_change_in_position_value():
    # Arrange: AAPL held 10 @ 100 into the session (marked 101), bought 10 more at 102, closes at 105;
    # MSFT bought 5 at 200 and sold at 210; SPY untouched and flat.
    start = {"AAPL": (10, 100.0, 101.0), "SPY": (0, 0.0, 50.0)}
    end = {"AAPL": (20, 101.0, 105.0), "MSFT": (0, 0.0, 210.0), "SPY": (0, 0.0, 51.0)}
    fills = [_fill("AAPL", OrderSide.BUY, 10, 102.0), _fill("MSFT", OrderSide.BUY, 5, 200.0),
             _fill("MSFT", OrderSide.SELL, 5, 210.0)]

    # Act
    out = symbol_pnl(fills, start, end)

    # Assert: AAPL -1,020 - 1 + 20 * 105 - 10 * 101 = 69; MSFT -1,000 - 1 + 1,050 - 1 = 48
    assert out == {"AAPL": {"pnl": pytest.approx(69.0), "fills": 1},
                   "MSFT": {"pnl": pytest.approx(48.0), "fills": 2}}
    assert list(out) == ["AAPL", "MSFT"]


def test_symbol_pnl_of_a_position_held_through_a_session_without_fills():
    assert symbol_pnl([], {"AAPL": (-10, 100.0, 99.0)}, {"AAPL": (-10, 100.0, 97.0)}) == {
        "AAPL": {"pnl": pytest.approx(20.0), "fills": 0}}


def test_open_positions_carry_mark_and_unrealised_pnl_and_skip_flat_symbols():
    books = {"MSFT": (-10, 410.0, 425.0), "AAPL": (50, 126.87, 127.79), "SPY": (0, 0.0, 500.0)}

    assert open_positions(books) == {
        "AAPL": {"quantity": 50, "avg_price": 126.87, "mark": 127.79, "unrealized_pnl": pytest.approx(46.0)},
        "MSFT": {"quantity": -10, "avg_price": 410.0, "mark": 425.0, "unrealized_pnl": pytest.approx(-150.0)},
    }
    assert open_positions({}) == {}
