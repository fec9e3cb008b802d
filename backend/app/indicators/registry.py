"""The indicator names a session config may use, and how to build and compute each one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from app.indicators.base import IndicatorState
from app.indicators.recursive import AtrState, EmaState, RsiState, VwapState
from app.indicators.window import BollingerState, SmaState
from app.store.bar import BarArrays

__all__ = [
    "HISTORICAL_INDICATORS",
    "SESSION_INDICATORS",
    "compute_historical",
    "compute_indicator",
    "indicator_key",
    "make_indicator",
]

SESSION_INDICATORS: Final = ("sma", "ema", "rsi", "atr", "vwap", "bbands_upper", "bbands_lower")
HISTORICAL_INDICATORS: Final = ("avg_volume", "avg_range", "high", "low", "avg_close")

_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "bbands_upper": ("num_std",),
    "bbands_lower": ("num_std",),
}


def indicator_key(name: str, period: int, interval: str) -> str:
    """Return an indicator's unique name: ``sma_20_5m``, or ``vwap_1m`` when `period` is 0."""
    return f"{name}_{period}_{interval}" if period else f"{name}_{interval}"


def make_indicator(
    name: str, period: int, field: str = "close", params: Mapping[str, object] | None = None
) -> IndicatorState:
    """Return a fresh incremental state for a real-time indicator.

    Parameters
    ----------
    name : str
        One of `SESSION_INDICATORS`.
    period : int
        Window or smoothing length (>= 1; ignored by ``vwap``).
    field : str
        Bar column read by sma, ema, rsi and bbands (default ``close``).
    params : Mapping or None
        Extra settings: ``num_std`` (default 2) for the Bollinger bands; none for the others.

    Raises
    ------
    ValueError
        If the name, period, field or a parameter is not valid.
    """
    params = dict(params or {})
    allowed = _PARAMS.get(name, ())
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        known = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"expected params of {name!r} among ({known}), received {unknown[0]!r}")
    if name in ("bbands_upper", "bbands_lower"):
        num_std = params.get("num_std", 2.0)
        if isinstance(num_std, bool) or not isinstance(num_std, int | float):
            raise ValueError(f"expected params.num_std to be a number >= 0, received {num_std!r}")
        return BollingerState(period, field, float(num_std), upper=name == "bbands_upper")
    classes: dict[str, type[IndicatorState]] = {
        "sma": SmaState, "ema": EmaState, "rsi": RsiState, "atr": AtrState, "vwap": VwapState,
    }
    if name not in classes:
        raise ValueError(
            f"expected an indicator among ({', '.join(SESSION_INDICATORS)}), received {name!r}"
        )
    return classes[name](period, field)


def compute_indicator(
    name: str,
    bars: BarArrays,
    period: int,
    field: str = "close",
    params: Mapping[str, object] | None = None,
    lo: int = 0,
) -> np.ndarray:
    """Return the values of rows ``[lo, len(bars))``, with rows before `lo` as warm-up.

    `bars` starts at the beginning of the series (for VWAP, the session open). This is the
    stateless twin of `make_indicator` + `IndicatorState.update`: it builds a fresh state and
    feeds it the rows before `lo` that matter (all of them for recursive indicators, the
    last ``period - 1`` for window ones), then rows ``[lo, len)``. Cost O(len(bars)) for
    recursive indicators; streaming callers keep a state instead.

    Raises
    ------
    ValueError
        As `make_indicator`, or if `lo` is not within ``[0, len(bars)]``.
    """
    n = len(bars)
    if not 0 <= lo <= n:
        raise ValueError(f"expected lo within [0, {n}], received {lo}")
    state = make_indicator(name, period, field, params)
    first = 0 if state.lookback is None else max(0, lo - state.lookback)
    state.update(bars.slice(first, lo))
    return state.update(bars.slice(lo, n))


def compute_historical(name: str, daily: BarArrays, period: int) -> float:
    """Return a context indicator over the last ``min(period, len(daily))`` bars.

    Parameters
    ----------
    name : str
        ``avg_volume`` (mean volume), ``avg_range`` (mean high - low), ``high`` (max high),
        ``low`` (min low) or ``avg_close`` (mean close).
    daily : BarArrays
        Trailing bars in time order (normally daily bars, one per session).
    period : int
        How many of the newest bars to use (>= 1); fewer when fewer exist.

    Returns
    -------
    float
        NaN when `daily` is empty.

    Raises
    ------
    ValueError
        If `name` is unknown or `period` < 1.
    """
    if name not in HISTORICAL_INDICATORS:
        raise ValueError(
            f"expected a historical indicator among ({', '.join(HISTORICAL_INDICATORS)}), "
            f"received {name!r}"
        )
    if isinstance(period, bool) or int(period) < 1:
        raise ValueError(f"expected a period >= 1 for {name!r}, received {period!r}")
    n = len(daily)
    if n == 0:
        return float("nan")
    tail = daily.slice(max(0, n - int(period)), n)
    if name == "avg_volume":
        return float(tail.volume.mean())
    if name == "avg_range":
        return float((tail.high - tail.low).mean())
    if name == "high":
        return float(tail.high.max())
    if name == "low":
        return float(tail.low.min())
    return float(tail.close.mean())
