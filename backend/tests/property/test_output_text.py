"""Column-built CSV text and numpy-indented JSON equal Python's own formatting, byte for byte."""

from __future__ import annotations

import json
from functools import cache

import hypothesis.strategies as st
import numpy as np
from hypothesis import given

from app.metrics.json_text import to_json
from app.runtime.text_columns import fixed_decimals, iso_local, join_rows, text_column
from app.timing.time_manager import TimeManager


def _lines(column: np.ndarray) -> list[str]:
    return join_rows([column, "\n"]).decode("ascii").splitlines()


# Prices and cash as the broker makes them (cents, 1 bp slippage, half-cent commissions: many
# exact ties at the fifth decimal), plus anything a float can be.
_money = st.builds(lambda cents, bp: cents / 100 * (1 + bp / 10_000),
                   st.integers(-10**9, 10**9), st.integers(-3, 3))
_edges = st.sampled_from([0.0, -0.0, 0.00005, -0.00005, 0.03125, 9.99995])
_any_float = st.floats(allow_nan=True, allow_infinity=True)


@given(st.lists(st.one_of(_money, _any_float, _edges), max_size=60), st.integers(1, 4))
def test_fixed_decimals_equal_python_formatting(values, decimals):
    got = _lines(fixed_decimals(values, decimals)) if values else []

    assert got == [f"{v:.{decimals}f}" for v in values]


@cache
def _tm(code: str) -> TimeManager:
    return TimeManager(code)


@given(st.sampled_from(("XNYS", "XLON", "XTKS", "XHKG", "24/7")),
       st.lists(st.integers(-2_000_000_000, 4_000_000_000), max_size=40), st.booleans())
def test_iso_local_equals_isoformat_in_the_exchange_timezone(code, seconds, ordered):
    tm = _tm(code)
    ns = np.array(sorted(seconds) if ordered else seconds, dtype=np.int64) * 1_000_000_000

    got = _lines(iso_local(ns, tm.utc_offsets_s(ns)))

    assert got == [tm.to_local(int(t)).isoformat() for t in ns]


def test_join_rows_puts_columns_and_literals_side_by_side_without_padding():
    rows = join_rows([text_column(["a", "bcd", ""]), ",", fixed_decimals([1.5, -2.0, 10.0]), "\n"])

    assert rows == b"a,1.5000\nbcd,-2.0000\n,10.0000\n"


_text = st.text(alphabet=st.sampled_from('ab "\\{}[],:\n\u00e9\u2603'), max_size=6)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
              st.floats(allow_nan=False, allow_infinity=False), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=30,
)


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 6) + 0.0
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


@given(_json)
def test_to_json_equals_the_stdlib_indented_encoding(obj):
    got = to_json(obj)

    assert got == json.dumps(_rounded(obj), sort_keys=True, indent=2, allow_nan=False)


@given(st.lists(_json, max_size=6))
def test_sessions_json_written_in_chunks_equals_the_whole_document(tmp_path_factory, items):
    import app.runtime.journal as journal

    path = tmp_path_factory.mktemp("json") / "list.json"
    journal.write_sessions_json(path, iter(items))
    assert path.read_text(encoding="utf-8") == to_json(items) + "\n"
    for chunk in (1, 2, 3, 8):  # as the output writer process writes them (8), and odd splits
        writer = journal.SessionsJsonWriter(path, chunk=chunk)
        for item in items:
            writer.add(item)
        writer.close()
        assert path.read_text(encoding="utf-8") == to_json(items) + "\n"


@given(st.lists(st.tuples(st.sampled_from(["AAPL", "BRK.B", "A,B", 'Q"X']), st.sampled_from(["BUY", "SELL"]),
                          st.integers(1, 10**6), _money, _money, st.integers(1_500_000_000, 2_000_000_000)),
                max_size=40),
       st.sampled_from(["XNYS", "XLON", "XTKS"]))
def test_fills_formatted_by_python_equal_the_column_path(rows, calendar):
    from app.execution.orders import Fill, OrderSide
    from app.runtime.journal import fill_rows

    tm = _tm(calendar)
    fills = [Fill(i, symbol, OrderSide[side], qty, price, commission, secs * 1_000_000_000)
             for i, (symbol, side, qty, price, commission, secs) in enumerate(rows)]

    def stamps(ts_ns):
        return iso_local(ts_ns, tm.utc_offsets_s(ts_ns))

    assert fill_rows(fills, stamps, tm.uncached.tz) == fill_rows(fills, stamps)


# Around New York's and London's 2023 clock changes, and Lord Howe's half-hour one (UTC seconds).
_DST_EDGES = [1678604400 + d for d in (-1, 0, 1, 3599, 3600)] + [1699164000 + d for d in (-1, 0, 1, 7200)] \
    + [1679792400 + d for d in (-1, 0, 1)] + [1680363000 + d for d in (-1, 0, 1, 1800)]


@given(st.lists(st.one_of(_money, _any_float, _edges), max_size=60), st.integers(1, 4))
def test_printed_values_equal_parsing_the_printed_text(values, decimals):
    from app.runtime.text_columns import printed_values

    got = printed_values(values, decimals).tolist() if values else []

    assert [repr(v) for v in got] == [repr(float(f"{v:.{decimals}f}")) for v in values]


@given(st.lists(st.integers(1_500_000_000, 2_000_000_000) | st.sampled_from(_DST_EDGES), min_size=1, max_size=60),
       st.sampled_from(["America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_cached_local_seconds_equal_datetime_isoformat(seconds, zone):
    # One cache over many calls (as the journal keeps it), days with an offset change included.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app.runtime.journal import LocalSeconds

    tz = ZoneInfo(zone)
    local = LocalSeconds(tz)
    for sec in seconds:
        assert local(sec) == datetime.fromtimestamp(sec, tz).isoformat()


# Long columns of runs of one value (cash between fills, equity while flat): formatted a run at a
# time (text_columns.RUNS_FROM), the same text and values; -0.0 and 0.0, and NaNs, are not merged.
_runs = st.lists(st.tuples(st.one_of(_money, _any_float, _edges), st.integers(1, 900)), min_size=1, max_size=30)


def _long_column(runs: list[tuple[float, int]]) -> list[float]:
    from app.runtime.text_columns import RUNS_FROM

    values = [v for v, n in runs for _ in range(n)]
    return values * (RUNS_FROM // len(values) + 1)  # long enough to be taken by runs


@given(_runs, st.integers(1, 4))
def test_long_columns_of_runs_equal_python_formatting(runs, decimals):
    from app.runtime.text_columns import printed_values

    values = _long_column(runs)

    text = _lines(fixed_decimals(values, decimals))
    parsed = printed_values(values, decimals).tolist()

    assert text == [f"{v:.{decimals}f}" for v in values]
    assert [repr(v) for v in parsed] == [repr(float(f"{v:.{decimals}f}")) for v in values]


def test_a_strided_column_of_runs_is_formatted_as_its_values():
    # As equity.csv's columns are read: fields of the journal's structured points.
    from app.runtime.text_columns import RUNS_FROM

    points = np.zeros(RUNS_FROM * 2, dtype=[("ns", "<i8"), ("equity", "<f8")])
    points["equity"][::3] = -0.0
    points["equity"][RUNS_FROM:] = 1234.56785

    assert _lines(fixed_decimals(points["equity"])) == [f"{v:.4f}" for v in points["equity"].tolist()]
