"""Tests for app.store.files: layout, atomic writes, round trips and read errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import DataError
from app.store.bar import BarArrays, parse_interval
from app.store.files import bar_path, check_symbol, read_bars_file, write_bars

M1 = parse_interval("1m")
T0 = 1_704_205_800_000_000_000  # 2024-01-02T14:30:00Z


def _bars(starts, price=10.0):
    n = len(starts)
    p = np.full(n, price)
    return BarArrays(np.asarray(starts, dtype=np.int64), p, p + 1, p - 1, p + 0.5, np.arange(n, dtype=np.float64))


def _table(**columns):
    return pa.table(columns)


def test_bar_path_is_store_interval_symbol(tmp_path):
    assert bar_path(tmp_path, M1, "BRK.B") == tmp_path / "1m" / "BRK.B.parquet"


@pytest.mark.parametrize("symbol", ["", "A/B", "..", ".hidden", "-X", "A B", "A\\B"])
def test_check_symbol_refuses_unsafe_file_names(symbol):
    with pytest.raises(ValueError, match=r"expected a symbol of letters, digits and '\. - _ \^ =' .*received"):
        check_symbol(symbol)


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "^GSPC", "BTC-USD", "ES=F", "X_1"])
def test_check_symbol_accepts_common_tickers(symbol):
    assert check_symbol(symbol) == symbol


_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def _bar_arrays(draw):
    n = draw(st.integers(0, 40))
    starts = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    cols = [draw(st.lists(_floats, min_size=n, max_size=n)) for _ in range(5)]
    return BarArrays(np.array(starts, dtype=np.int64), *(np.array(c, dtype=np.float64) for c in cols))


@settings(deadline=None, max_examples=40)
@given(bars=_bar_arrays())
def test_write_then_read_returns_identical_bytes(tmp_path_factory, bars):
    store = tmp_path_factory.mktemp("store")
    path = write_bars(store, M1, "AAPL", bars)
    back = read_bars_file(path)
    assert path == store / "1m" / "AAPL.parquet"
    for written, read in zip(bars, back):
        assert read.dtype == written.dtype
        assert read.tobytes() == written.tobytes()


def test_written_file_has_the_contract_schema(tmp_path):
    path = write_bars(tmp_path, M1, "AAPL", _bars([T0, T0 + 60_000_000_000]))
    schema = pq.read_schema(path)
    assert schema.names == ["timestamp", "open", "high", "low", "close", "volume"]
    assert schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")
    assert all(schema.field(n).type == pa.float64() for n in schema.names[1:])


def test_write_replaces_existing_file_and_leaves_no_temporary(tmp_path):
    write_bars(tmp_path, M1, "AAPL", _bars([T0, T0 + 60_000_000_000]))
    path = write_bars(tmp_path, M1, "AAPL", _bars([T0], price=20.0))
    assert read_bars_file(path).open.tolist() == [20.0]
    assert sorted(p.name for p in (tmp_path / "1m").iterdir()) == ["AAPL.parquet"]


def test_write_refuses_columns_of_unequal_length(tmp_path):
    bars = BarArrays(*_bars([T0, T0 + 1])[:5], np.zeros(1))
    with pytest.raises(ValueError, match=r"expected columns of equal length, received lengths \[1, 2\] for AAPL"):
        write_bars(tmp_path, M1, "AAPL", bars)


def test_missing_file_error_says_how_to_create_the_bars(tmp_path):
    path = tmp_path / "1m" / "MSFT.parquet"
    with pytest.raises(DataError) as info:
        read_bars_file(path)
    assert str(info.value) == (
        f"{path}: no bars for MSFT at interval 1m in {tmp_path}; create them with "
        f"`python -m app.data sample --store {tmp_path}` or "
        f"`python -m app.data import FILE --symbol MSFT --interval 1m --store {tmp_path}`"
    )


def test_unreadable_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "1m" / "AAPL.parquet"
    path.parent.mkdir()
    path.write_bytes(b"timestamp,open\n1,2\n")
    with pytest.raises(DataError, match=r"AAPL\.parquet: expected a readable Parquet file, received an error: "):
        read_bars_file(path)


def test_missing_column_is_named_with_the_expected_list(tmp_path):
    path = tmp_path / "x.parquet"
    ts = pa.array([T0], type=pa.timestamp("ns", tz="UTC"))
    one = pa.array([1.0])
    pq.write_table(_table(timestamp=ts, open=one, high=one, low=one, volume=one), path)
    with pytest.raises(
        DataError,
        match=r"x\.parquet: missing column 'close'; expected columns timestamp, open, high, low, close, volume, "
        r"received timestamp, open, high, low, volume$",
    ):
        read_bars_file(path)


def test_price_column_of_wrong_type_is_named(tmp_path):
    path = tmp_path / "x.parquet"
    ts = pa.array([T0], type=pa.timestamp("ns", tz="UTC"))
    one = pa.array([1.0])
    pq.write_table(_table(timestamp=ts, open=one, high=one, low=one, close=pa.array(["1.0"]), volume=one), path)
    with pytest.raises(DataError, match=r"column 'close': expected type double \(float64\), received string$"):
        read_bars_file(path)


def test_naive_timestamp_column_is_a_wrong_type(tmp_path):
    path = tmp_path / "x.parquet"
    one = pa.array([1.0])
    ts = pa.array([T0], type=pa.timestamp("ns"))
    pq.write_table(_table(timestamp=ts, open=one, high=one, low=one, close=one, volume=one), path)
    with pytest.raises(
        DataError, match=r"column 'timestamp': expected type timestamp\[ns, tz=UTC\], received timestamp\[ns\]$"
    ):
        read_bars_file(path)


def test_empty_timestamp_is_a_data_error(tmp_path):
    path = tmp_path / "x.parquet"
    one = pa.array([1.0, 1.0])
    ts = pa.array([T0, None], type=pa.timestamp("ns", tz="UTC"))
    pq.write_table(_table(timestamp=ts, open=one, high=one, low=one, close=one, volume=one), path)
    with pytest.raises(DataError, match=r"column 'timestamp': expected no empty values, received 1$"):
        read_bars_file(path)


def test_other_units_zones_and_numeric_types_are_converted(tmp_path):
    # Arrange: microsecond timestamps in New York time, integer volume, a null price.
    path = tmp_path / "x.parquet"
    ts = pa.array([T0 // 1000], type=pa.timestamp("us", tz="America/New_York"))
    one = pa.array([1.5])
    table = _table(
        timestamp=ts, open=one, high=pa.array([2], type=pa.int32()), low=one,
        close=pa.array([None], type=pa.float64()), volume=pa.array([7], type=pa.int64()),
    )
    pq.write_table(table, path)
    # Act
    bars = read_bars_file(path)
    # Assert
    assert bars.start.tolist() == [T0]
    assert bars.high.dtype == np.float64 and bars.high.tolist() == [2.0]
    assert bars.volume.tolist() == [7.0]
    assert np.isnan(bars.close[0])


def test_rows_keep_file_order(tmp_path):
    starts = [T0 + 120_000_000_000, T0, T0 + 60_000_000_000]
    path = write_bars(tmp_path, M1, "AAPL", _bars(starts))
    assert read_bars_file(path).start.tolist() == starts


def test_empty_bars_round_trip(tmp_path):
    path = write_bars(tmp_path, M1, "AAPL", _bars([]))
    assert len(read_bars_file(path)) == 0
    assert Path(path).is_file()
