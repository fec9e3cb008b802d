"""Tests for app.data.importer: counts, first bad line, rejected file, modes, daily dates, time zones."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.data.importer import import_bars
from app.errors import DataError
from app.store.bar import BarArrays, parse_interval
from app.store.files import read_bars_file, write_bars

S = 1_000_000_000
OPEN_2024_01_02 = 1_704_205_800 * S  # 09:30 New York = 14:30Z
M = 60 * S
HEADER = "Timestamp,Open,High,Low,Close,Volume"

# Line numbers are file lines: the header is line 1 and line 9 is blank.
MIXED = f"""{HEADER}
2024-01-02T09:30:00-05:00,10,11,9,10.5,100
2024-01-02T09:31:00-05:00,10,11,9,nan,100
2024-01-02T09:32:00-05:00,10,9,11,10.5,100
2024-01-02T09:33:00-05:00,10,11,9,10.5,100
2024-01-02T09:33:00-05:00,10,11,9,10.6,200
2024-01-02T09:32:00-05:00,10,11,9,10.5,100
2024-01-02T09:34:00-05:00,1x,11,9,10.5,100

2024-01-02T09:35:00-05:00,10,11,9,10.5
2024-01-02T16:05:00-05:00,10,11,9,10.5,100
2024-01-02T09:36:00-05:00,10,11,9,10.5,100
"""

MIXED_REJECTED = f"""line,reason,{HEADER}
3,NAN,2024-01-02T09:31:00-05:00,10,11,9,nan,100
4,HIGH_BELOW_LOW,2024-01-02T09:32:00-05:00,10,9,11,10.5,100
6,DUPLICATE,2024-01-02T09:33:00-05:00,10,11,9,10.6,200
7,OUT_OF_ORDER,2024-01-02T09:32:00-05:00,10,11,9,10.5,100
8,UNPARSEABLE,2024-01-02T09:34:00-05:00,1x,11,9,10.5,100
10,UNPARSEABLE,2024-01-02T09:35:00-05:00,10,11,9,10.5
11,OUTSIDE_SESSION,2024-01-02T16:05:00-05:00,10,11,9,10.5,100
"""


def _source(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _bars(starts, price):
    n = len(starts)
    p = np.full(n, float(price))
    return BarArrays(np.asarray(starts, dtype=np.int64), p, p + 1, p - 1, p, np.ones(n))


def test_mixed_file_counts_first_bad_line_and_rejected_rows(tmp_path):
    # Arrange
    store = tmp_path / "store"
    # Act
    report = import_bars(_source(tmp_path, MIXED), "AAPL", parse_interval("1m"), store)
    # Assert
    assert report.rows_read == 10
    assert report.accepted == 3
    assert report.rejected_by_reason == {
        "UNPARSEABLE": 2, "NAN": 1, "HIGH_BELOW_LOW": 1, "OUT_OF_ORDER": 1, "DUPLICATE": 1, "OUTSIDE_SESSION": 1,
    }
    assert list(report.rejected_by_reason) == [
        "UNPARSEABLE", "NAN", "HIGH_BELOW_LOW", "OUT_OF_ORDER", "DUPLICATE", "OUTSIDE_SESSION",
    ]
    assert (report.first_bad_line, report.first_bad_reason) == (3, "NAN")
    assert report.written == store / "1m" / "AAPL.parquet"
    assert report.rejected_file == store / "1m" / "AAPL.rejected.csv"
    assert report.rejected_file.read_text() == MIXED_REJECTED
    bars = read_bars_file(report.written)
    assert bars.start.tolist() == [OPEN_2024_01_02, OPEN_2024_01_02 + 3 * M, OPEN_2024_01_02 + 6 * M]


def test_summary_is_the_cli_line(tmp_path):
    report = import_bars(_source(tmp_path, MIXED), "AAPL", "1m", tmp_path)
    assert report.summary() == (
        f"imported 3 bars into {tmp_path}/1m/AAPL.parquet; rejected 7 (UNPARSEABLE: 2, NAN: 1, "
        "HIGH_BELOW_LOW: 1, OUT_OF_ORDER: 1, DUPLICATE: 1, OUTSIDE_SESSION: 1); first bad line 3: NAN; "
        f"rejected rows written to {tmp_path}/1m/AAPL.rejected.csv"
    )


def test_keep_extended_hours_accepts_bars_outside_the_session(tmp_path):
    # The 16:05 bar is kept, so the 09:36 bar after it is now out of order.
    report = import_bars(_source(tmp_path, MIXED), "AAPL", "1m", tmp_path, keep_extended_hours=True)
    assert report.accepted == 3
    assert report.rejected_by_reason == {
        "UNPARSEABLE": 2, "NAN": 1, "HIGH_BELOW_LOW": 1, "OUT_OF_ORDER": 2, "DUPLICATE": 1,
    }
    assert read_bars_file(report.written).start[-1] == OPEN_2024_01_02 + (6 * 60 + 35) * M
    assert report.rejected_file.read_text().splitlines()[-1].startswith("12,OUT_OF_ORDER,")


def test_clean_import_removes_a_stale_rejected_file(tmp_path):
    import_bars(_source(tmp_path, MIXED), "AAPL", "1m", tmp_path)
    clean = f"{HEADER}\n2024-01-02T14:30:00Z,10,11,9,10.5,100\n2024-01-02T14:31:00Z,10,11,9,10.5,100\n"
    report = import_bars(_source(tmp_path, clean), "AAPL", "1m", tmp_path, mode="replace")
    assert report.rejected_file is None and report.rejected_by_reason == {}
    assert (report.first_bad_line, report.first_bad_reason) == (None, None)
    assert not (tmp_path / "1m" / "AAPL.rejected.csv").exists()
    assert report.summary() == f"imported 2 bars into {tmp_path}/1m/AAPL.parquet; rejected 0"


def test_new_mode_refuses_an_existing_file(tmp_path):
    write_bars(tmp_path, parse_interval("1m"), "AAPL", _bars([OPEN_2024_01_02], 1))
    with pytest.raises(
        DataError, match=r"AAPL\.parquet: already exists; pass --merge to add these bars or --replace to overwrite it$"
    ):
        import_bars(_source(tmp_path, MIXED), "AAPL", "1m", tmp_path)


def test_merge_keeps_existing_bars_and_imported_rows_win(tmp_path):
    # Arrange: existing 14:30 and 14:31 at price 1; import 14:31 and 14:32 at price 2.
    write_bars(tmp_path, parse_interval("1m"), "AAPL", _bars([OPEN_2024_01_02, OPEN_2024_01_02 + M], 1))
    text = f"{HEADER}\n2024-01-02T14:31:00Z,2,3,1,2,1\n2024-01-02T14:32:00Z,2,3,1,2,1\n"
    # Act
    report = import_bars(_source(tmp_path, text), "AAPL", "1m", tmp_path, mode="merge")
    # Assert
    bars = read_bars_file(report.written)
    assert bars.start.tolist() == [OPEN_2024_01_02 + k * M for k in range(3)]
    assert bars.open.tolist() == [1.0, 2.0, 2.0]
    assert (report.accepted, report.file_rows) == (2, 3)
    assert "imported 2 bars into " in report.summary() and "(3 in the file after merging)" in report.summary()


def test_replace_drops_the_existing_bars(tmp_path):
    write_bars(tmp_path, parse_interval("1m"), "AAPL", _bars([OPEN_2024_01_02, OPEN_2024_01_02 + M], 1))
    text = f"{HEADER}\n2024-01-02T14:32:00Z,2,3,1,2,1\n"
    report = import_bars(_source(tmp_path, text), "AAPL", "1m", tmp_path, mode="replace")
    assert read_bars_file(report.written).start.tolist() == [OPEN_2024_01_02 + 2 * M]


def test_naive_timestamps_need_a_zone(tmp_path):
    text = f"{HEADER}\n2024-01-02 09:30:00,10,11,9,10.5,100\n"
    with pytest.raises(DataError, match=r"in\.csv:2: timestamp '2024-01-02 09:30:00' has no time zone; .*--tz"):
        import_bars(_source(tmp_path, text), "AAPL", "1m", tmp_path)
    report = import_bars(_source(tmp_path, text), "AAPL", "1m", tmp_path, tz="America/New_York")
    assert read_bars_file(report.written).start.tolist() == [OPEN_2024_01_02]


def test_daily_dates_and_local_midnights_map_to_the_session_open(tmp_path):
    # Arrange: a plain date, a New York midnight in UTC, the open itself, a Saturday, and the
    # 2024-11-29 early close (the open is still 14:30Z).
    text = (
        "date,open,high,low,close,volume\n"
        "2024-01-02,10,11,9,10.5,100\n"
        "2024-01-03T05:00:00Z,10,11,9,10.5,100\n"
        "2024-01-04T14:30:00Z,10,11,9,10.5,100\n"
        "2024-01-06,10,11,9,10.5,100\n"
        "2024-11-29,10,11,9,10.5,100\n"
    )
    # Act
    report = import_bars(_source(tmp_path, text), "SPY", "1d", tmp_path)
    # Assert
    day = 86_400 * S
    expected = [OPEN_2024_01_02, OPEN_2024_01_02 + day, OPEN_2024_01_02 + 2 * day, 1_732_890_600 * S]
    assert read_bars_file(report.written).start.tolist() == expected
    assert report.rejected_by_reason == {"OUTSIDE_SESSION": 1}
    assert report.first_bad_line == 5


def test_plain_date_is_unparseable_for_intraday(tmp_path):
    report = import_bars(_source(tmp_path, "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n"), "SPY", "1m", tmp_path)
    assert report.rejected_by_reason == {"UNPARSEABLE": 1}


def test_parquet_source_uses_row_numbers(tmp_path):
    path = tmp_path / "in.parquet"
    ts = pa.array([OPEN_2024_01_02, OPEN_2024_01_02 + M, OPEN_2024_01_02 + 2 * M], type=pa.timestamp("ns", tz="UTC"))
    price = pa.array([10.0, None, 10.0])
    pq.write_table(pa.table({"timestamp": ts, "open": price, "high": price, "low": price, "close": price, "volume": price}), path)
    report = import_bars(path, "AAPL", "1m", tmp_path)
    assert (report.accepted, report.first_bad_line, report.first_bad_reason) == (2, 2, "NAN")
    assert report.rejected_file.read_text().splitlines()[1] == f"2,NAN,{ts[1].as_py()},,,,,"


def test_one_second_bars_on_the_24_7_calendar(tmp_path):
    text = f"{HEADER}\n1710028800,10,11,9,10.5,1\n1710028801,10,11,9,10.5,1\n1710028801.5,10,11,9,10.5,1\n"
    report = import_bars(_source(tmp_path, text), "BTCUSD", "1s", tmp_path, calendar_code="24/7")
    assert report.accepted == 2 and report.rejected_by_reason == {"OUTSIDE_SESSION": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mode="upsert"), r"expected mode 'new', 'merge' or 'replace', received 'upsert'"),
        (dict(tz="Mars/Base"), r"expected an IANA time zone such as 'America/New_York', received 'Mars/Base'"),
        (dict(calendar_code="XNYZ"), r"unknown exchange calendar 'XNYZ'"),
        (dict(interval="2d"), r"expected '1d' for daily bars"),
        (dict(symbol="A/B"), r"expected a symbol of letters"),
    ],
)
def test_invalid_arguments_are_value_errors(tmp_path, kwargs, message):
    args = {"symbol": "AAPL", "interval": "1m", **kwargs}
    with pytest.raises(ValueError, match=message):
        import_bars(_source(tmp_path, MIXED), store=tmp_path, **args)


_row = st.sampled_from(
    [
        "2024-01-02T14:{m:02d}:00Z,10,11,9,10.5,100",
        "2024-01-02T14:{m:02d}:00Z,10,11,9,,100",
        "2024-01-02T14:{m:02d}:00Z,10,9,11,10.5,100",
        "2024-01-02T14:{m:02d}:00Z,x,11,9,10.5,100",
        "2024-01-02T14:{m:02d}:00Z,10,11,9",
        "2024-01-02T12:{m:02d}:00Z,10,11,9,10.5,100",
    ]
)


@settings(deadline=None, max_examples=25)
@given(rows=st.lists(st.tuples(_row, st.integers(30, 59)), max_size=30))
def test_every_row_is_accepted_or_written_to_the_rejected_file(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("imp")
    text = HEADER + "\n" + "".join(template.format(m=m) + "\n" for template, m in rows)
    report = import_bars(_source(tmp, text), "AAPL", "1m", tmp / "store")
    rejected_lines = report.rejected_file.read_text().splitlines()[1:] if report.rejected_file else []
    assert report.accepted + len(rejected_lines) == len(rows) == report.rows_read
    assert report.rejected == len(rejected_lines)
    assert len(read_bars_file(report.written)) == report.accepted
    assert sorted(int(line.split(",")[0]) for line in rejected_lines) == [int(line.split(",")[0]) for line in rejected_lines]
