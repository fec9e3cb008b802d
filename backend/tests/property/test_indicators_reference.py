"""Indicators against deliberately naive pure-Python references (loops over lists)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import series_bars

from app.indicators.registry import SESSION_INDICATORS, compute_indicator

NAN = float("nan")


def ref_sma(xs, p):
    return [sum(xs[i - p + 1 : i + 1]) / p if i + 1 >= p else NAN for i in range(len(xs))]


def ref_ema(xs, p):
    out, e, a = [], None, 2 / (p + 1)
    for i, x in enumerate(xs):
        if i + 1 < p:
            out.append(NAN)
            continue
        e = sum(xs[:p]) / p if i + 1 == p else a * x + (1 - a) * e
        out.append(e)
    return out


def ref_wilder(values, p, first_row):
    """Wilder smoothing of `values`, whose element 0 belongs to row `first_row`."""
    out, avg = [], None
    for j, v in enumerate(values):
        if j + 1 < p:
            out.append(NAN)
            continue
        avg = sum(values[:p]) / p if j + 1 == p else (avg * (p - 1) + v) / p
        out.append(avg)
    return [NAN] * first_row + out


def ref_rsi(xs, p):
    changes = [xs[i] - xs[i - 1] for i in range(1, len(xs))]
    ag = ref_wilder([max(c, 0.0) for c in changes], p, 1)
    al = ref_wilder([max(-c, 0.0) for c in changes], p, 1)
    out = []
    for i in range(len(xs)):
        if i < len(ag) and not math.isnan(ag[i]):
            g, lo = ag[i], al[i]
            out.append(50.0 if g == lo == 0 else (100.0 if lo == 0 else 100 - 100 / (1 + g / lo)))
        else:
            out.append(NAN)
    return out


def ref_atr(h, lo, c, p):
    if not h:
        return []
    tr = [h[0] - lo[0]]
    for i in range(1, len(h)):
        tr.append(max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])))
    return ref_wilder(tr, p, 0)[: len(h)]


def ref_vwap(h, lo, c, v):
    out, pv, vol = [], 0.0, 0.0
    for i in range(len(h)):
        pv += (h[i] + lo[i] + c[i]) / 3 * v[i]
        vol += v[i]
        out.append(pv / vol if vol > 0 else NAN)
    return out


def ref_bbands(xs, p, k, sign):
    out = []
    for i in range(len(xs)):
        if i + 1 < p:
            out.append(NAN)
            continue
        w = xs[i - p + 1 : i + 1]
        mean = sum(w) / p
        out.append(mean + sign * k * math.sqrt(sum((x - mean) ** 2 for x in w) / p))
    return out


def reference(name, bars, period, field, num_std):
    xs = getattr(bars, field).tolist()
    h, lo, c, v = bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), bars.volume.tolist()
    return {
        "sma": lambda: ref_sma(xs, period),
        "ema": lambda: ref_ema(xs, period),
        "rsi": lambda: ref_rsi(xs, period),
        "atr": lambda: ref_atr(h, lo, c, period),
        "vwap": lambda: ref_vwap(h, lo, c, v),
        "bbands_upper": lambda: ref_bbands(xs, period, num_std, 1),
        "bbands_lower": lambda: ref_bbands(xs, period, num_std, -1),
    }[name]()


@pytest.mark.parametrize("name", SESSION_INDICATORS)
@settings(deadline=None)
@given(
    bars=series_bars(max_size=50),
    period=st.integers(1, 12),
    field=st.sampled_from(["close", "open", "volume"]),
    num_std=st.sampled_from([0.0, 1.5, 2.0]),
)
def test_indicator_matches_naive_reference(name, bars, period, field, num_std):
    params = {"num_std": num_std} if name.startswith("bbands") else {}
    got = compute_indicator(name, bars, period, field, params)
    want = np.array(reference(name, bars, period, field, num_std), dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    scale = max(1.0, float(np.nanmax(np.abs(want), initial=0)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)
