"""Fuzzed CSV imports never produce a traceback: rows are imported or rejected, or one DataError names the file.

CSV files are drawn from near-valid bars of one session, then damaged: headers renamed,
reordered, duplicated or missing; rows with the wrong field count, junk numbers, timestamps in
every accepted form and many that are not; quoting, blank lines, NULs and embedded newlines;
the text encoded as UTF-8 (with or without BOM), UTF-16, Latin-1, or cut into random bytes; empty
files. Each goes through ``import_bars`` in-process (a few milliseconds) and, in a second test,
through the CLI's ``main()``; a few files then go through the real ``python -m app.data import``.
"""

from __future__ import annotations

import atexit
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.data.__main__ import main as data_main
from app.data.importer import ImportReport, import_bars
from app.errors import DataError
from app.store.files import read_bars_file

REPO = Path(__file__).resolve().parents[3]
BACKEND = REPO / "backend"
OPEN = datetime(2024, 7, 1, 13, 30, tzinfo=UTC)  # 09:30 New York, a regular session
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
_DIR = Path(tempfile.mkdtemp(prefix="fuzz-csv-"))  # shared by the examples (fixtures are per test, not per example)
atexit.register(shutil.rmtree, _DIR, True)

HEADERS = [
    ["timestamp", "open", "high", "low", "close", "volume"],
    ["Timestamp", "Open", "High", "Low", "Close", "Volume"],
    ["t", "o", "h", "l", "c", "v"],
    ["date", "time", "open", "high", "low", "close", "volume"],
    ["datetime", "open", "high", "low", "close", "volume", "vwap"],
    ["timestamp", "open", "high", "low", "close"],
    ["timestamp", "open", "open", "high", "low", "close", "volume"],
    ["volume", "close", "low", "high", "open", "timestamp"],
    [" timestamp ", " open", "high ", "LOW", "close", "volume"],
    ["", "", ""],
    ["timestamp;open;high;low;close;volume"],
]
JUNK_CELLS = [
    "", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e-400", "-5", "0", "-0", "abc", "1_000", "0x10",
    "  7 ", "\uff11\uff12", "1,5", '"', '""', "'", "\x00", "\n", "\r", "\t", "9" * 40, "-" + "9" * 40, "1.2.3",
    "2024-07-01", "2024-07-01T09:30:00", "2024-07-01T09:30:00Z", "2024-07-01 09:30:00-04:00", "2024-13-01T00:00:00Z",
    "2024-02-30T09:30:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999+14:00", "1719840600",
    "1719840600000", "1719840600000000", "1719840600000000000", "99999999999999999999999", "1e30", "-1719840600",
    "2024-07-01T09:30:00.123456789-04:00", "2024-07-01T09:30:00+25:00", "2024-07-01T24:00:00Z", "\u00e9t\u00e9",
    "\ud7ff", "\ufeff", "\u2028",
]


def _timestamp(minute: int, form: str) -> str:
    moment = OPEN + timedelta(minutes=minute)
    seconds = int(moment.timestamp())
    return {
        "iso_offset": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "iso_local": (moment - timedelta(hours=4)).replace(tzinfo=None).isoformat() + "-04:00",
        "naive": (moment - timedelta(hours=4)).replace(tzinfo=None).isoformat(sep=" "),
        "epoch_s": str(seconds),
        "epoch_ms": str(seconds * 1000),
        "epoch_us": str(seconds * 1_000_000),
        "epoch_ns": str(seconds * 1_000_000_000),
        "date": moment.date().isoformat(),
    }[form]


_FORMS = st.sampled_from(["iso_offset", "iso_local", "naive", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns", "date"])
_moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))]))
_FAR_STAMPS = st.one_of(  # any year, any zone, any unit: far outside the calendar and the int64 ns range
    _moments.map(lambda m: m.isoformat()),
    _moments.map(lambda m: m.date().isoformat()),
    _moments.map(lambda m: m.replace(tzinfo=None).isoformat(sep=" ")),
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)
_price = st.floats(min_value=0.01, max_value=1e6, allow_nan=False).map(lambda x: f"{x:.4f}")


@st.composite
def _row(draw, width: int) -> list[str]:
    minute = draw(st.integers(-30, 420))  # some before the open or after the close
    stamp = draw(st.one_of(st.just(None), st.just(None), st.just(None), _FAR_STAMPS))
    cells = [stamp or _timestamp(minute, draw(_FORMS)), *[draw(_price) for _ in range(4)],
             str(draw(st.integers(0, 10**7)))]
    cells += [draw(_price) for _ in range(max(0, width - len(cells)))]
    for _ in range(draw(st.integers(0, 2))):  # damage a few cells
        i = draw(st.integers(0, len(cells) - 1))
        cells[i] = draw(st.one_of(st.sampled_from(JUNK_CELLS), st.text(max_size=8)))
    change = draw(st.sampled_from([0, 0, 0, 0, -1, 1, -3]))  # sometimes the wrong number of fields
    return cells[:change] if change < 0 else cells + ["x"] * change


@st.composite
def csv_files(draw) -> tuple[bytes, dict]:
    """Return (file bytes, import options) for a damaged CSV of one symbol's bars."""
    header = draw(st.one_of(st.sampled_from(HEADERS), st.lists(st.text(max_size=6), min_size=1, max_size=7)))
    rows = draw(st.lists(_row(len(header)), max_size=25))
    buffer = io.StringIO()
    if draw(st.booleans()):
        writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:  # written by hand: stray quotes and separators are not escaped
        text = "\n".join(",".join(r) for r in [header, *rows])
    if draw(st.booleans()):
        lines = text.split("\n")
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["", " ", ",,,,,", "#comment", '"unterminated', "\x00\x00"])))
        text = "\n".join(lines)
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(["", "\n", "\n\n  \n", ",,,\n", "timestamp,open,high,low,close,volume\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 4)) == 0:  # cut, or bytes spliced in
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=6)) if draw(st.booleans()) else raw[:at]
    options = {
        "interval": draw(st.sampled_from(["1m", "1m", "5m", "1d"])),
        "tz": draw(st.sampled_from([None, "America/New_York", "UTC"])),
        "mode": draw(st.sampled_from(["replace", "merge", "new"])),
        "keep_extended_hours": draw(st.booleans()),
        "suffix": draw(st.sampled_from([".csv", ".csv", ".txt", ".parquet"])),
        "existing": draw(st.booleans()),  # the store already holds bars of the symbol (merge, new)
    }
    return raw, options


GOOD = (b"timestamp,open,high,low,close,volume\n"
        b"2024-07-01T13:30:00Z,1,2,0.5,1.5,10\n2024-07-01T13:35:00Z,1,2,0.5,1.5,10\n")


def _fresh_store(name: str, symbol: str, existing: bool) -> Path:
    # Every example starts from the same store, so its outcome depends on its own draw only.
    store = _DIR / name
    shutil.rmtree(store, ignore_errors=True)
    if existing:
        import_bars(_write(GOOD, ".csv", "good"), symbol, "1m", store)
        import_bars(_write(GOOD, ".csv", "good"), symbol, "5m", store)
        import_bars(_write(GOOD.replace(b"T13:30:00Z", b"").replace(b"\n2024-07-01T13:35:00Z,1,2,0.5,1.5,10", b""),
                           ".csv", "good"), symbol, "1d", store)
    return store


def _write(raw: bytes, suffix: str, stem: str = "bars") -> Path:
    path = _DIR / f"{stem}{suffix}"
    path.write_bytes(raw)
    return path


def _check_report(report: ImportReport) -> None:
    assert report.accepted + report.rejected == report.rows_read
    assert report.file_rows >= report.accepted
    assert len(read_bars_file(report.written)) == report.file_rows
    if report.rejected:
        with report.rejected_file.open(newline="", encoding="utf-8") as handle:
            assert sum(1 for _ in csv.reader(handle)) == report.rejected + 1  # the header
        assert "\n" not in report.summary()


@FUZZ
@given(csv_files())
def test_imported_csv_rows_are_accepted_or_rejected_or_the_file_is_named(case):
    # Arrange
    raw, options = case
    store = _fresh_store("store", "AAPL", options.pop("existing"))
    source = _write(raw, options.pop("suffix"))
    note(f"{options} {raw[:400]!r}")
    # Act / Assert: an ImportReport that adds up, or one DataError line naming the file.
    try:
        report = import_bars(source, "AAPL", options.pop("interval"), store, "XNYS", **options)
    except DataError as e:
        message = str(e)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith((str(source), str(store))), message
        return
    _check_report(report)


@FUZZ
@given(csv_files())
def test_the_data_cli_on_fuzzed_csv_exits_0_or_1_with_at_most_one_line(case):
    # Arrange
    raw, options = case
    store = _fresh_store("cli-store", "MSFT", options["existing"])
    source = _write(raw, options["suffix"])
    argv = ["import", str(source), "--symbol", "MSFT", "--interval", options["interval"], "--store", str(store)]
    argv += ["--tz", options["tz"]] if options["tz"] else []
    argv += {"replace": ["--replace"], "merge": ["--merge"], "new": []}[options["mode"]]
    argv += ["--keep-extended-hours"] if options["keep_extended_hours"] else []
    note(f"{argv} {raw[:400]!r}")
    err = io.StringIO()
    # Act
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = data_main(argv)
    # Assert: never an internal error (an unexpected exception), never more than one line.
    stderr = err.getvalue()
    assert code in (0, 1), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    if code == 0:
        assert stderr == ""
    else:
        assert stderr.startswith((f"error: {source}", f"error: {store}")) and stderr.count("\n") == 1, stderr


CLI_FILES = {
    "empty.csv": b"",
    "blank_lines.csv": b"\n\n  \n",
    "utf16.csv": "timestamp,open,high,low,close,volume\n2024-07-01T13:30:00Z,1,2,0.5,1.5,10\n".encode("utf-16"),
    "binary.csv": bytes(range(256)),
    "no_timestamp.csv": b"open,high,low,close,volume\n1,2,0.5,1.5,10\n",
    "junk.parquet": b"PAR1 not really",
}


@pytest.mark.parametrize("name", sorted(CLI_FILES))
def test_the_real_data_cli_reports_a_bad_file_on_one_line(tmp_path, name):
    # Arrange
    source = tmp_path / name
    source.write_bytes(CLI_FILES[name])
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    # Act
    proc = subprocess.run([sys.executable, "-m", "app.data", "import", str(source), "--symbol", "AAPL",
                           "--interval", "1m", "--store", str(tmp_path / "store")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    # Assert
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {source}: ") and proc.stderr.count("\n") == 1, proc.stderr
