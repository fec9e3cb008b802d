"""Tests for app.store.bar_store.BarStore: caching, range boundaries, sort repair, listing."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import DataError
from app.store.bar import BarArrays, parse_interval
from app.store.bar_store import BarStore
from app.store.files import write_bars

M1 = parse_interval("1m")
D1 = parse_interval("1d")
S = 1_000_000_000
T0 = 1_704_205_800 * S  # 2024-01-02T14:30:00Z


def _bars(starts, opens=None):
    n = len(starts)
    o = np.asarray(opens if opens is not None else np.arange(n), dtype=np.float64)
    return BarArrays(np.asarray(starts, dtype=np.int64), o, o + 1, o - 1, o, np.ones(n))


@pytest.fixture
def store(tmp_path):
    write_bars(tmp_path, M1, "AAPL", _bars([T0 + k * 60 * S for k in range(5)]))
    return BarStore(tmp_path)


def test_root_is_the_folder(tmp_path):
    assert BarStore(tmp_path).root == tmp_path


def test_load_reads_each_file_once(store, tmp_path):
    first = store.load("AAPL", M1)
    (tmp_path / "1m" / "AAPL.parquet").unlink()
    assert store.load("AAPL", M1) is first
    assert store.has("AAPL", M1)


def test_load_seconds_accumulates_file_reads_only(store):
    assert store.load_seconds == 0.0
    store.load("AAPL", M1)
    after_read = store.load_seconds
    store.load("AAPL", M1)
    assert after_read > 0.0
    assert store.load_seconds == after_read


def test_loaded_arrays_are_read_only(store):
    bars = store.load("AAPL", M1)
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


@pytest.mark.parametrize(
    ("lo", "hi", "expected_minutes"),
    [
        (T0, T0 + 5 * 60 * S, [0, 1, 2, 3, 4]),
        (T0 + 60 * S, T0 + 180 * S, [1, 2]),  # start included, end excluded
        (T0 + 60 * S + 1, T0 + 180 * S + 1, [2, 3]),
        (T0 - 10 * S, T0 + 1, [0]),
        (T0 + 4 * 60 * S, T0 + 10**15, [4]),
        (T0 + 5 * 60 * S, T0 + 10**15, []),
        (T0 - 10**15, T0, []),
        (T0 + 60 * S, T0 + 60 * S, []),
        (T0 + 180 * S, T0 + 60 * S, []),  # end before start
    ],
)
def test_range_is_start_inclusive_end_exclusive(store, lo, hi, expected_minutes):
    got = store.range("AAPL", M1, lo, hi)
    assert got.start.tolist() == [T0 + k * 60 * S for k in expected_minutes]
    assert got.open.tolist() == [float(k) for k in expected_minutes]


def test_range_returns_views_of_the_loaded_columns(store):
    whole = store.load("AAPL", M1)
    part = store.range("AAPL", M1, T0 + 60 * S, T0 + 180 * S)
    for full, view in zip(whole, part):
        assert np.shares_memory(full, view)


def test_unsorted_file_is_sorted_stably_and_the_repair_counted(tmp_path):
    # Arrange: starts 0, 120, 60a, 180, 60b (minutes/60) -> sorted 0, 60a, 60b, 120, 180.
    starts = [T0, T0 + 120 * S, T0 + 60 * S, T0 + 180 * S, T0 + 60 * S]
    write_bars(tmp_path, M1, "MSFT", _bars(starts, opens=[0, 1, 2, 3, 4]))
    store = BarStore(tmp_path)
    # Act
    bars = store.load("MSFT", M1)
    # Assert: rows 1..4 moved (only the first kept its place); the duplicate is kept.
    assert bars.start.tolist() == [T0, T0 + 60 * S, T0 + 60 * S, T0 + 120 * S, T0 + 180 * S]
    assert bars.open.tolist() == [0.0, 2.0, 4.0, 1.0, 3.0]
    assert store.repairs == {("MSFT", "1m"): 4}


def test_sorted_file_with_duplicates_needs_no_repair(tmp_path):
    write_bars(tmp_path, M1, "MSFT", _bars([T0, T0, T0 + 60 * S]))
    store = BarStore(tmp_path)
    assert len(store.load("MSFT", M1)) == 3
    assert store.repairs == {}


def test_has_and_symbols_list_only_bar_files(tmp_path):
    write_bars(tmp_path, M1, "SPY", _bars([T0]))
    write_bars(tmp_path, M1, "AAPL", _bars([T0]))
    write_bars(tmp_path, D1, "MSFT", _bars([T0]))
    (tmp_path / "1m" / "AAPL.rejected.csv").write_text("line,reason\n")
    (tmp_path / "1m" / ".SPY.parquet.123.tmp").write_text("")
    store = BarStore(tmp_path)
    assert store.symbols(M1) == ["AAPL", "SPY"]
    assert store.symbols(D1) == ["MSFT"]
    assert store.symbols(parse_interval("5m")) == []
    assert store.has("SPY", M1) and not store.has("MSFT", M1)


def test_load_of_missing_symbol_says_how_to_create_it(tmp_path):
    with pytest.raises(DataError, match=r"no bars for QQQ at interval 1m in .*`python -m app\.data sample --store "):
        BarStore(tmp_path).load("QQQ", M1)
