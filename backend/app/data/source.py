"""Read a CSV or Parquet bar file into verbatim rows, then parse them into columns plus unparseable rows."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.errors import DataError
from app.store.bar import BAR_FIELDS, BarArrays

__all__ = ["PARQUET_SUFFIXES", "ROWS_PER_REPORT", "TIMESTAMP_NAMES", "ParsedRows", "RowProgress", "SourceRows",
           "parse_rows", "read_source"]

PARQUET_SUFFIXES: Final = (".parquet", ".pq")
TIMESTAMP_NAMES: Final = ("timestamp", "datetime", "date", "time", "t")
"""Accepted names of the bar-open column (case-insensitive), in order of preference."""

_SHORT_NAMES: Final = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_RE: Final = re.compile(r"^[+-]?\d+(\.\d*)?$")
_ISO_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$")
_SUB_MICRO_RE: Final = re.compile(r"\.\d{7,}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_INT64_MAX: Final = 2**63 - 1
ROWS_PER_REPORT: Final = 1 << 16
"""Rows between two calls of a `RowProgress` (a mask test per row: nothing next to parsing it)."""

RowProgress = Callable[[str, int, int | None], None]
"""``(pass, rows done in it, rows in all or None while reading)``, at the start (0 rows), every
`ROWS_PER_REPORT` rows and at the end of each pass (``"read"``, then ``"parse"``)."""

# Epoch magnitudes: below 1e11 is seconds (until year 5138), then ms, us, ns.
_EPOCH_UNITS: Final = ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3))


@dataclass(frozen=True, slots=True)
class SourceRows:
    """A source file's header and data rows, verbatim, with each row's line number (1-based)."""

    path: Path
    header: tuple[str, ...]
    rows: list[list[str]]
    lines: np.ndarray


@dataclass(frozen=True, slots=True)
class ParsedRows:
    """The rows that parsed, in file order, and the indices (into ``SourceRows.rows``) of those that did not.

    ``date_only[i]`` is True when row i gave a plain date (daily imports only); its start is then
    midnight UTC of that date, for the importer to map to the session open.
    """

    bars: BarArrays
    row_index: np.ndarray
    date_only: np.ndarray
    unparseable: np.ndarray


class _NaiveTimestampError(ValueError):
    pass


def read_source(path: Path, progress: RowProgress | None = None) -> SourceRows:
    """Return the header and rows of a CSV (any suffix but ``.parquet``/``.pq``) or Parquet file.

    `progress`, when given, is told the rows read so far (`RowProgress`, pass ``"read"``).

    Raises
    ------
    DataError
        If the file is missing, empty or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "expected an existing CSV or Parquet file, received a missing path")
    if progress is not None:
        progress("read", 0, None)
    source = _read_parquet(path) if path.suffix.lower() in PARQUET_SUFFIXES else _read_csv(path, progress)
    if progress is not None:
        progress("read", len(source.rows), None)
    return source


def _read_csv(path: Path, progress: RowProgress | None = None) -> SourceRows:
    header: list[str] | None = None
    every = ROWS_PER_REPORT - 1
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue
                if header is None:
                    header = [f.strip() for f in fields]
                    continue
                rows.append(fields)
                lines.append(reader.line_num)
                if progress is not None and not len(rows) & every:
                    progress("read", len(rows), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(str(path), f"expected a readable UTF-8 CSV file, received an error: {e}") from e
    if header is None:
        raise DataError(
            str(path), "expected a header line (timestamp, open, high, low, close, volume), received an empty file"
        )
    return SourceRows(path, tuple(header), rows, np.asarray(lines, dtype=np.int64))


def _read_parquet(path: Path) -> SourceRows:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(str(path), f"expected a readable Parquet file, received an error: {e}") from e
    columns = [[_cell_text(v) for v in table.column(i).to_pylist()] for i in range(table.num_columns)]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    # Parquet has no lines: a row's "line" is its 1-based row number.
    return SourceRows(path, tuple(table.column_names), rows, np.arange(1, len(rows) + 1, dtype=np.int64))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _column_index(source: SourceRows) -> tuple[list[int], list[int]]:
    names = {name.strip().lower(): i for i, name in reversed(list(enumerate(source.header)))}
    if "timestamp" not in names and "datetime" not in names and "date" in names and "time" in names:
        ts_cols = [names["date"], names["time"]]
    else:
        ts_cols = [names[n] for n in TIMESTAMP_NAMES if n in names][:1]
    missing = [] if ts_cols else ["timestamp"]
    value_cols: list[int] = []
    for field in BAR_FIELDS:
        index = names.get(field, names.get(_SHORT_NAMES[field]))
        if index is None:
            missing.append(field)
        else:
            value_cols.append(index)
    if missing:
        raise DataError(
            str(source.path),
            f"missing column {missing[0]!r}; expected a header with timestamp (or datetime, date, time, t), "
            f"open, high, low, close, volume (any case), received {_header_text(source.header)}",
        )
    return ts_cols, value_cols


def _header_text(header: tuple[str, ...]) -> str:
    # One line whatever the file holds: odd names (newlines, NULs) escaped, a long header cut.
    text = ", ".join(name if name.isprintable() else repr(name) for name in header)
    return text if len(text) <= 200 else text[:197] + "..."


def parse_rows(source: SourceRows, tz: tzinfo | None, daily: bool, progress: RowProgress | None = None) -> ParsedRows:
    """Parse timestamps and numbers; rows with a bad value or the wrong field count are unparseable.

    Timestamps may be epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
    size), or ISO-8601; a naive one is read in `tz`. A plain date is accepted only when `daily`.
    An empty number is NaN (for the bar checks to count), not unparseable. `progress`, when
    given, is told the rows parsed so far (`RowProgress`, pass ``"parse"``).

    Raises
    ------
    DataError
        If a column is missing, or a timestamp has no time zone and `tz` is None (names the line).
    """
    ts_cols, value_cols = _column_index(source)
    width = len(source.header)
    starts: list[int] = []
    values: list[list[float]] = []
    kept: list[int] = []
    dates: list[bool] = []
    bad: list[int] = []
    total, every = len(source.rows), ROWS_PER_REPORT - 1
    if progress is not None:
        progress("parse", 0, total)
    for k, fields in enumerate(source.rows):
        if progress is not None and not k & every and k:
            progress("parse", k, total)
        if len(fields) != width:
            bad.append(k)
            continue
        try:
            start_ns, is_date = _parse_timestamp(" ".join(fields[c].strip() for c in ts_cols), tz, daily)
            row = [_parse_number(fields[c]) for c in value_cols]
            if not -_INT64_MAX <= start_ns <= _INT64_MAX:
                raise ValueError("timestamp out of the int64 nanosecond range")
        except _NaiveTimestampError as e:
            raise DataError(f"{source.path}:{source.lines[k]}", str(e)) from None
        except (ValueError, OverflowError, InvalidOperation):
            bad.append(k)
            continue
        starts.append(start_ns)
        values.append(row)
        kept.append(k)
        dates.append(is_date)
    if progress is not None:
        progress("parse", total, total)
    cols = np.asarray(values, dtype=np.float64).reshape(len(values), len(BAR_FIELDS))
    bars = BarArrays(
        np.asarray(starts, dtype=np.int64), *(np.ascontiguousarray(cols[:, j]) for j in range(cols.shape[1]))
    )
    return ParsedRows(
        bars, np.asarray(kept, dtype=np.int64), np.asarray(dates, dtype=bool), np.asarray(bad, dtype=np.int64)
    )


def _parse_number(text: str) -> float:
    text = text.strip()
    return float("nan") if not text else float(text)


def _parse_timestamp(text: str, tz: tzinfo | None, daily: bool) -> tuple[int, bool]:
    text = text.strip()
    if _NUMBER_RE.match(text):
        return _parse_epoch(text), False
    if _DATE_RE.match(text):
        if not daily:
            raise ValueError("a date without a time for an intraday interval")
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return (moment - _EPOCH) // _MICROSECOND * 1000, True
    if not _ISO_RE.match(text):
        raise ValueError(f"not an epoch number or ISO-8601 timestamp: {text!r}")
    if _SUB_MICRO_RE.search(text):
        stamp = pd.Timestamp(text)  # fromisoformat would drop digits past microseconds
        moment, extra_ns = stamp.to_pydatetime(warn=False), stamp.nanosecond
    else:
        moment, extra_ns = datetime.fromisoformat(text), 0
    if moment.tzinfo is None:
        if tz is None:
            raise _NaiveTimestampError(
                f"timestamp {text!r} has no time zone; expected an offset such as "
                "2024-01-02T09:30:00-05:00 or Z, or pass --tz (for example --tz America/New_York)"
            )
        moment = moment.replace(tzinfo=tz)
    return (moment - _EPOCH) // _MICROSECOND * 1000 + extra_ns, False


def _parse_epoch(text: str) -> int:
    value = Decimal(text)
    scale = 1
    for limit, factor in _EPOCH_UNITS:
        if abs(value) < limit:
            scale = factor
            break
    return int(value * scale)

