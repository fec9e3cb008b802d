"""Tests for app.data.source: reading CSV/Parquet rows and parsing timestamps and numbers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.data.source import parse_rows, read_source
from app.errors import DataError

NY = ZoneInfo("America/New_York")
T0 = 1_704_205_800_000_000_000  # 2024-01-02T14:30:00Z = 09:30 New York


def _csv(tmp_path, text, name="bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return read_source(path)


def _parse(tmp_path, text, tz=None, daily=False):
    return parse_rows(_csv(tmp_path, text), tz, daily)


@pytest.mark.parametrize(
    "stamp",
    [
        "1704205800",
        "1704205800.0",
        "1704205800000",
        "1704205800000000",
        "1704205800000000000",
        "2024-01-02T14:30:00Z",
        "2024-01-02 14:30:00+00:00",
        "2024-01-02T09:30:00-05:00",
        "2024-01-02T14:30:00.000000000Z",
        "2024-01-02T14:30Z",
    ],
)
def test_timestamp_forms_all_mean_the_same_instant(tmp_path, stamp):
    parsed = _parse(tmp_path, f"timestamp,open,high,low,close,volume\n{stamp},1,2,0.5,1.5,10\n")
    assert parsed.bars.start.tolist() == [T0]
    assert parsed.unparseable.tolist() == []


def test_nanosecond_fraction_is_kept(tmp_path):
    parsed = _parse(tmp_path, "t,o,h,l,c,v\n2024-01-02T14:30:00.000000123Z,1,2,0.5,1.5,10\n")
    assert parsed.bars.start.tolist() == [T0 + 123]


def test_naive_timestamp_is_read_in_the_given_zone(tmp_path):
    parsed = _parse(tmp_path, "Datetime,Open,High,Low,Close,Volume\n2024-01-02 09:30:00,1,2,0.5,1.5,10\n", tz=NY)
    assert parsed.bars.start.tolist() == [T0]


def test_naive_timestamp_without_zone_names_file_and_line(tmp_path):
    text = "timestamp,open,high,low,close,volume\n\n2024-01-02T14:30:00Z,1,2,0.5,1.5,10\n2024-01-02 09:31:00,1,2,0.5,1.5,10\n"
    with pytest.raises(
        DataError,
        match=r"bars\.csv:4: timestamp '2024-01-02 09:31:00' has no time zone; expected an offset such as "
        r"2024-01-02T09:30:00-05:00 or Z, or pass --tz \(for example --tz America/New_York\)$",
    ):
        _parse(tmp_path, text)


def test_header_is_case_insensitive_and_extra_columns_are_ignored(tmp_path):
    parsed = _parse(tmp_path, "VWAP,CLOSE,Volume,TIME,low,High,open\n9,1.5,10,2024-01-02T14:30:00Z,0.5,2,1\n")
    bars = parsed.bars
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]) == (1, 2, 0.5, 1.5, 10)


def test_separate_date_and_time_columns_are_joined(tmp_path):
    parsed = _parse(tmp_path, "Date,Time,Open,High,Low,Close,Volume\n2024-01-02,09:30,1,2,0.5,1.5,10\n", tz=NY)
    assert parsed.bars.start.tolist() == [T0]


def test_plain_date_is_flagged_for_daily_and_unparseable_intraday(tmp_path):
    text = "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n"
    daily = _parse(tmp_path, text, daily=True)
    assert daily.bars.start.tolist() == [1_704_153_600_000_000_000]  # midnight UTC
    assert daily.date_only.tolist() == [True]
    assert _parse(tmp_path, text).unparseable.tolist() == [0]


def test_unparseable_rows_are_listed_and_the_rest_kept_in_order(tmp_path):
    # Arrange: data rows 0..6; rows 1, 2, 3, 5 cannot be parsed.
    text = (
        "timestamp,open,high,low,close,volume\n"
        "2024-01-02T14:30:00Z,1,2,0.5,1.5,10\n"
        "2024-01-02T14:31:00Z,1x,2,0.5,1.5,10\n"
        "yesterday,1,2,0.5,1.5,10\n"
        "2024-01-02T14:33:00Z,1,2,0.5,1.5\n"
        "2024-01-02T14:34:00Z,,2,nan,1.5,10\n"
        "now,1,2,0.5,1.5,10\n"
        "2024-01-02T14:36:00Z,1,2,0.5,1.5,10\n"
    )
    # Act
    parsed = _parse(tmp_path, text)
    # Assert: empty and "nan" numbers parse as NaN (the checks count them), they are not unparseable.
    assert parsed.unparseable.tolist() == [1, 2, 3, 5]
    assert parsed.row_index.tolist() == [0, 4, 6]
    assert parsed.bars.start.tolist() == [T0, T0 + 240_000_000_000, T0 + 360_000_000_000]
    assert np.isnan(parsed.bars.open[1]) and np.isnan(parsed.bars.low[1])


def test_line_numbers_count_blank_lines_and_the_header(tmp_path):
    rows = _csv(tmp_path, "\ntimestamp,open,high,low,close,volume\n\n1,1,1,1,1,1\n\n2,1,1,1,1,1\n")
    assert rows.lines.tolist() == [4, 6]
    assert rows.header == ("timestamp", "open", "high", "low", "close", "volume")


def test_missing_column_lists_what_was_received(tmp_path):
    with pytest.raises(
        DataError,
        match=r"bars\.csv: missing column 'volume'; expected a header with timestamp \(or datetime, date, time, t\), "
        r"open, high, low, close, volume \(any case\), received Date, open, high, low, close$",
    ):
        _parse(tmp_path, "Date,open,high,low,close\n")


def test_missing_timestamp_column_is_reported_first(tmp_path):
    with pytest.raises(DataError, match=r"missing column 'timestamp'; "):
        _parse(tmp_path, "open,high,low,close\n")


def test_empty_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"bars\.csv: expected a header line .*, received an empty file$"):
        _csv(tmp_path, "\n\n")


def test_missing_source_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: expected an existing CSV or Parquet file, received a missing path$"):
        read_source(tmp_path / "nope.csv")


def test_parquet_source_rows_are_numbered_from_one(tmp_path):
    path = tmp_path / "bars.parquet"
    ts = pa.array([T0, T0 + 60_000_000_000], type=pa.timestamp("ns", tz="UTC"))
    one = pa.array([1.0, None])
    pq.write_table(pa.table({"Timestamp": ts, "Open": one, "High": one, "Low": one, "Close": one, "Volume": one}), path)
    rows = read_source(path)
    parsed = parse_rows(rows, None, False)
    assert rows.lines.tolist() == [1, 2]
    assert parsed.bars.start.tolist() == [T0, T0 + 60_000_000_000]
    assert np.isnan(parsed.bars.open[1])


def test_unreadable_parquet_source_is_a_data_error(tmp_path):
    path = tmp_path / "bars.parquet"
    path.write_text("not parquet")
    with pytest.raises(DataError, match=r"bars\.parquet: expected a readable Parquet file, received an error: "):
        read_source(path)
