"""Real-time and historical indicators on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.indicators.recursive import VwapState
from app.indicators.registry import (
    HISTORICAL_INDICATORS,
    SESSION_INDICATORS,
    compute_historical,
    compute_indicator,
    make_indicator,
)
from app.indicators.window import SmaState
from app.store.bar import BarArrays, empty_bars

NAN = float("nan")


def closes(*values, volume=10.0):
    c = np.array(values, np.float64)
    start = np.arange(len(values), dtype=np.int64)
    return BarArrays(start, c, c, c, c, np.full(len(values), volume))


def ohlcv(*rows):
    cols = list(zip(*rows, strict=True))
    return BarArrays(np.arange(len(rows), dtype=np.int64), *(np.array(c, np.float64) for c in cols))


def check(got, want):
    np.testing.assert_allclose(got, np.array(want, np.float64), rtol=1e-12, equal_nan=True)


def test_names():
    assert SESSION_INDICATORS == (
        "sma", "ema", "rsi", "atr", "vwap", "bbands_upper", "bbands_lower"
    )
    assert HISTORICAL_INDICATORS == ("avg_volume", "avg_range", "high", "low", "avg_close")


def test_sma():
    check(compute_indicator("sma", closes(1, 2, 3, 4, 5), 3), [NAN, NAN, 2, 3, 4])
    check(compute_indicator("sma", closes(1, 2, 3, 4, 5), 3, "volume"), [NAN, NAN, 10, 10, 10])


def test_ema_is_seeded_with_the_sma_of_the_first_period_values():
    # alpha = 2 / (3 + 1) = 0.5; seed mean(1, 2, 3) = 2; then 0.5*4 + 0.5*2 = 3, 0.5*8 + 0.5*3 = 5.5
    check(compute_indicator("ema", closes(1, 2, 3, 4, 8), 3), [NAN, NAN, 2, 3, 5.5])


def test_rsi_wilder():
    # changes +1, +1, -1: seed gains (1+1)/2 = 1, losses 0 -> 100; then gain 0.5, loss 0.5 -> 50
    check(compute_indicator("rsi", closes(1, 2, 3, 2), 2), [NAN, NAN, 100, 50])
    # a price that never moves
    check(compute_indicator("rsi", closes(5, 5, 5), 1), [NAN, 50, 50])
    # changes -2, +1: gains 0, 1 -> 0.5; losses 2, 0 -> 1.0; RS = 0.5 -> 100 - 100/1.5
    check(compute_indicator("rsi", closes(4, 2, 3), 2), [NAN, NAN, 100 - 100 / 1.5])


def test_atr_wilder_with_true_range():
    bars = ohlcv(
        (1.5, 2.0, 1.0, 1.5, 1),
        (2.5, 3.0, 2.0, 2.5, 1),
        (2.5, 2.6, 2.4, 2.5, 1),
        (4.0, 4.0, 3.5, 3.8, 1),
    )
    # TR: 1.0 (first bar: high - low), max(1, 1.5, 0.5) = 1.5, 0.2, max(0.5, 1.5, 1.0) = 1.5
    # ATR(2): seed (1 + 1.5)/2 = 1.25; (1.25 + 0.2)/2 = 0.725; (0.725 + 1.5)/2 = 1.1125
    check(compute_indicator("atr", bars, 2), [NAN, 1.25, 0.725, 1.1125])


def test_vwap_is_cumulative_typical_price_weighted_by_volume():
    bars = ohlcv((1, 2.0, 1.0, 1.5, 0), (1, 2.0, 1.0, 1.5, 10), (2, 3.0, 2.0, 2.5, 30))
    # no volume yet -> NaN; 1.5; (1.5*10 + 2.5*30) / 40 = 2.25
    check(compute_indicator("vwap", bars, 0), [NAN, 1.5, 2.25])


def test_bollinger_bands_population_std():
    # window (1, 3): mean 2, population std 1
    check(compute_indicator("bbands_upper", closes(1, 3), 2), [NAN, 4.0])
    check(compute_indicator("bbands_lower", closes(1, 3), 2), [NAN, 0.0])
    check(compute_indicator("bbands_upper", closes(1, 3), 2, params={"num_std": 1.5}), [NAN, 3.5])
    check(compute_indicator("bbands_lower", closes(7, 7, 7), 3), [NAN, NAN, 7.0])


def test_compute_from_lo_uses_earlier_rows_as_warm_up():
    check(compute_indicator("sma", closes(1, 2, 3, 4, 5), 3, lo=3), [3, 4])
    check(compute_indicator("ema", closes(1, 2, 3, 4, 8), 3, lo=4), [5.5])
    assert compute_indicator("sma", closes(1, 2), 3, lo=2).shape == (0,)


def test_state_updates_one_bar_at_a_time_and_counts_rows():
    state = make_indicator("ema", 3)
    got = [state.update(closes(v)) for v in (1, 2, 3, 4, 8)]
    check(np.concatenate(got), [NAN, NAN, 2, 3, 5.5])
    assert state.rows_seen == 5
    assert state.update(empty_bars()).shape == (0,)
    assert "rows_seen=5" in repr(state)


def test_warm_up_fills_windows_but_vwap_starts_at_the_session():
    sma = SmaState(3)
    sma.warm_up(closes(1, 2))
    check(sma.update(closes(3, 6)), [2, 11 / 3])
    assert sma.rows_seen == 2
    vwap = VwapState()
    vwap.warm_up(closes(100.0))
    check(vwap.update(closes(1.0)), [1.0])


@pytest.mark.parametrize(
    ("name", "period", "field", "params", "message"),
    [
        ("macd", 3, "close", None,
         r"expected an indicator among \(sma, ema, rsi, atr, vwap, bbands_upper, bbands_lower\), "
         r"received 'macd'"),
        ("sma", 0, "close", None, r"expected a period >= 1 for 'sma', received 0"),
        ("rsi", -2, "close", None, r"expected a period >= 1 for 'rsi', received -2"),
        ("ema", 0, "close", None, r"expected a period >= 1 for 'ema', received 0"),
        ("atr", 0, "close", None, r"expected a period >= 1 for 'atr', received 0"),
        ("bbands_upper", 0, "close", None, r"expected a period >= 1 for 'bbands', received 0"),
        ("sma", 3, "vwap", None,
         r"expected field to be one of open, high, low, close, volume, received 'vwap'"),
        ("sma", 3, "close", {"num_std": 2},
         r"expected params of 'sma' among \(none\), received 'num_std'"),
        ("bbands_upper", 3, "close", {"k": 2},
         r"expected params of 'bbands_upper' among \(num_std\), received 'k'"),
        ("bbands_lower", 3, "close", {"num_std": "2"},
         r"expected params.num_std to be a number >= 0, received '2'"),
        ("bbands_lower", 3, "close", {"num_std": -1.0},
         r"expected params.num_std to be a number >= 0, received -1.0"),
    ],
)
def test_invalid_indicator_settings(name, period, field, params, message):
    with pytest.raises(ValueError, match=message):
        make_indicator(name, period, field, params)


def test_lo_outside_the_bars_is_an_error():
    with pytest.raises(ValueError, match=r"expected lo within \[0, 2\], received 3"):
        compute_indicator("sma", closes(1, 2), 1, lo=3)


def test_historical_indicators_over_the_last_period_bars():
    daily = ohlcv((1, 10.0, 8.0, 9.0, 100), (1, 12.0, 9.0, 11.0, 300), (1, 13.0, 10.0, 12.0, 500))
    assert compute_historical("avg_volume", daily, 2) == 400.0
    assert compute_historical("avg_range", daily, 2) == 3.0
    assert compute_historical("high", daily, 2) == 13.0
    assert compute_historical("low", daily, 2) == 9.0
    assert compute_historical("avg_close", daily, 2) == 11.5
    # fewer bars than the period: use what exists
    assert compute_historical("low", daily, 10) == 8.0
    assert compute_historical("avg_volume", daily, 10) == 300.0
    assert math.isnan(compute_historical("high", empty_bars(), 5))


def test_historical_errors():
    message = (
        r"expected a historical indicator among \(avg_volume, avg_range, high, low, avg_close\), "
        r"received 'atr_daily'"
    )
    with pytest.raises(ValueError, match=message):
        compute_historical("atr_daily", closes(1), 1)
    with pytest.raises(ValueError, match=r"expected a period >= 1 for 'high', received 0"):
        compute_historical("high", closes(1), 0)


def long_series(n=5_000, seed=7):
    rng = np.random.default_rng(seed)
    c = 100 + rng.normal(0, 0.05, n).cumsum()
    o = np.concatenate(([c[0]], c[:-1]))
    spread = rng.uniform(0, 0.05, n)
    high, low = np.maximum(o, c) + spread, np.minimum(o, c) - spread
    volume = rng.integers(0, 5_000, n).astype(np.float64)
    return BarArrays(np.arange(n, dtype=np.int64), o, high, low, c, volume)


@pytest.mark.parametrize("name", SESSION_INDICATORS)
def test_long_session_in_uneven_chunks_is_bit_identical(name):
    # Arrange: chunk sizes 1, 2, ..., like a stream whose batches vary
    bars = long_series()
    state = make_indicator(name, 20)
    cuts = np.cumsum(np.arange(1, 200))
    cuts = [0, *cuts[cuts < len(bars)].tolist(), len(bars)]
    # Act
    chunked = np.concatenate([state.update(bars.slice(a, b)) for a, b in zip(cuts, cuts[1:])])
    # Assert
    np.testing.assert_array_equal(chunked, compute_indicator(name, bars, 20))


@pytest.mark.parametrize("name", ["sma", "bbands_upper"])
def test_window_blocks_do_not_change_values(name, monkeypatch):
    bars = long_series(n=500)
    whole = compute_indicator(name, bars, 7)
    monkeypatch.setattr("app.indicators.window._BLOCK_ELEMENTS", 20)
    np.testing.assert_array_equal(compute_indicator(name, bars, 7), whole)
