"""Import bars from a CSV or Parquet file into the store: parse, check, merge, and keep every rejected row."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from app.bars.checks import RejectReason, check_bars
from app.data.source import ParsedRows, RowProgress, SourceRows, parse_rows, read_source
from app.errors import DataError, InvariantError
from app.store.bar import BarArrays, Interval, parse_interval
from app.store.files import bar_path, read_bars_file, write_bars
from app.timing.calendar import TradingCalendar

__all__ = ["IMPORT_MODES", "UNPARSEABLE", "ImportMode", "ImportReport", "import_bars", "rejected_path"]

ImportMode = Literal["merge", "replace", "new"]
IMPORT_MODES: Final = ("merge", "replace", "new")
UNPARSEABLE: Final = "UNPARSEABLE"
"""Reason of rows with a bad number, a bad timestamp or the wrong field count."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did.

    Parameters
    ----------
    rows_read : int
        Data rows in the source (blank lines and the header excluded).
    accepted : int
        Rows written to the store; ``accepted + rejected == rows_read``.
    rejected_by_reason : Mapping[str, int]
        Rejected rows per reason name (``UNPARSEABLE`` first, then `RejectReason` order).
    first_bad_line : int or None
        Line of the first rejected row (1-based; the row number for Parquet sources).
    first_bad_reason : str or None
        Reason of that row.
    rejected_file : Path or None
        CSV holding every rejected row verbatim with its line and reason; None when none.
    written : Path
        The bar file written.
    file_rows : int
        Bars in the written file (more than `accepted` after a merge).
    """

    rows_read: int
    accepted: int
    rejected_by_reason: Mapping[str, int]
    first_bad_line: int | None
    first_bad_reason: str | None
    rejected_file: Path | None
    written: Path
    file_rows: int

    @property
    def rejected(self) -> int:
        """Total rejected rows."""
        return sum(self.rejected_by_reason.values())

    def summary(self) -> str:
        """Return the one-line account the CLI prints."""
        text = f"imported {self.accepted:,} bars into {self.written}"
        if self.file_rows != self.accepted:
            text += f" ({self.file_rows:,} in the file after merging)"
        text += f"; rejected {self.rejected:,}"
        if self.rejected:
            reasons = ", ".join(f"{name}: {count:,}" for name, count in self.rejected_by_reason.items())
            text += f" ({reasons}); first bad line {self.first_bad_line}: {self.first_bad_reason}"
            text += f"; rejected rows written to {self.rejected_file}"
        return text


def rejected_path(store: Path, interval: Interval, symbol: str) -> Path:
    """Return where an import of `symbol` at `interval` writes its rejected rows."""
    path = bar_path(store, interval, symbol)
    return path.with_name(f"{symbol}.rejected.csv")


def import_bars(
    source: Path,
    symbol: str,
    interval: Interval | str,
    store: Path,
    calendar_code: str = "XNYS",
    tz: str | None = None,
    mode: ImportMode = "new",
    *,
    keep_extended_hours: bool = False,
    progress: RowProgress | None = None,
) -> ImportReport:
    """Import the bars of one symbol from a CSV or Parquet file into `store`.

    Rows that cannot be parsed are rejected as ``UNPARSEABLE``; the rest go through
    `app.bars.checks.check_bars`, with the expected bar starts of the calendar's regular
    sessions (unless `keep_extended_hours`), so bars outside them are rejected as
    ``OUTSIDE_SESSION``. Daily rows holding a plain date, or a time of exactly midnight in the
    calendar's time zone, are moved to that session's open. Every rejected row is written
    verbatim, with its line number and reason, to `rejected_path`; a stale rejected file of an
    earlier import is removed when there are none.

    Parameters
    ----------
    source : Path
        CSV (header names case-insensitive; timestamp column named timestamp, datetime, date,
        time or t) or Parquet (``.parquet`` / ``.pq``) file.
    symbol, interval, store
        Where the bars go: ``<store>/<interval>/<symbol>.parquet``.
    calendar_code : str
        exchange_calendars code of the sessions the bars belong to.
    tz : str or None
        IANA zone for timestamps without an offset; None makes such timestamps an error.
    mode : {"new", "merge", "replace"}
        ``new`` refuses an existing file; ``merge`` keeps existing bars whose start is not
        imported (imported rows win); ``replace`` overwrites.
    keep_extended_hours : bool
        Accept bars outside the regular sessions.
    progress : RowProgress or None
        Told the rows read, then parsed, so far (`app.data.source.RowProgress`; the CLI's bar).

    Raises
    ------
    DataError
        If the source is missing, unreadable, lacks a column, has a naive timestamp and no
        `tz`, or the target exists in ``new`` mode.
    ValueError
        If `symbol`, `interval`, `calendar_code`, `tz` or `mode` is not valid.
    """
    interval = interval if isinstance(interval, Interval) else parse_interval(interval)
    if mode not in IMPORT_MODES:
        raise ValueError(f"expected mode 'new', 'merge' or 'replace', received {mode!r}")
    zone = _zone(tz)
    calendar = TradingCalendar(calendar_code)
    target = bar_path(store, interval, symbol)
    if mode == "new" and target.exists():
        raise DataError(
            str(target), "already exists; pass --merge to add these bars or --replace to overwrite it"
        )
    rows = read_source(Path(source), progress)
    parsed = parse_rows(rows, zone, interval.is_daily, progress)
    bars = _map_daily_dates(calendar, parsed) if interval.is_daily else parsed.bars
    allowed = None if keep_extended_hours else _expected_starts(calendar, bars.start, interval)
    result = check_bars(bars, allowed)
    reasons = _reasons(parsed, result.rejected_index, result.rejected_reason, len(rows.rows))
    accepted = _sorted(result.accepted)
    if mode == "merge" and target.exists():
        accepted = _merge(read_bars_file(target), accepted)
    written = write_bars(store, interval, symbol, accepted)
    rejected_file = _write_rejected(rows, reasons, rejected_path(store, interval, symbol))
    return _report(rows, reasons, len(result.accepted), rejected_file, written, len(accepted))


def _zone(tz: str | None) -> tzinfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as 'America/New_York', received {tz!r}") from None


def _local_dates(starts: np.ndarray, zone: tzinfo) -> pd.DatetimeIndex:
    return pd.to_datetime(starts, unit="ns", utc=True).tz_convert(str(zone))


def _session_open(calendar: TradingCalendar, day: date) -> int | None:
    if not calendar.first_session <= day <= calendar.last_session or not calendar.is_session(day):
        return None
    return calendar.session_bounds_ns(day)[0]


def _map_daily_dates(calendar: TradingCalendar, parsed: ParsedRows) -> BarArrays:
    starts = parsed.bars.start.copy()
    local = _local_dates(starts, calendar.tz)
    at_midnight = np.asarray(local == local.normalize(), dtype=bool)
    utc_days = pd.to_datetime(starts, unit="ns", utc=True).date
    local_days = local.date
    for i in np.flatnonzero(parsed.date_only | at_midnight):
        day = utc_days[i] if parsed.date_only[i] else local_days[i]
        open_ns = _session_open(calendar, day)
        if open_ns is not None:
            starts[i] = open_ns
        elif parsed.date_only[i]:
            # Not a session: midnight in the calendar's zone, which the session check rejects.
            starts[i] = pd.Timestamp(day).tz_localize(str(calendar.tz)).value
    return BarArrays(starts, *parsed.bars[1:])  # not _replace: BarArrays overrides __len__


def _expected_starts(calendar: TradingCalendar, starts: np.ndarray, interval: Interval) -> np.ndarray:
    if starts.size == 0:
        return np.empty(0, dtype=np.int64)
    days = set(_local_dates(np.unique(starts), calendar.tz).date)
    candidates = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)})
    parts = [
        calendar.bar_starts(d, interval.ns, interval.is_daily)
        for d in candidates
        if calendar.first_session <= d <= calendar.last_session and calendar.is_session(d)
    ]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


def _reasons(parsed: ParsedRows, index: np.ndarray, reason: np.ndarray, n_rows: int) -> dict[int, str]:
    by_row = {int(k): UNPARSEABLE for k in parsed.unparseable}
    for i, r in zip(np.asarray(index, dtype=np.int64), reason, strict=True):
        by_row[int(parsed.row_index[i])] = RejectReason(int(r)).name
    if len(by_row) > n_rows:
        raise InvariantError("more rejected rows than rows read")
    return dict(sorted(by_row.items()))


def _sorted(bars: BarArrays) -> BarArrays:
    order = np.argsort(bars.start, kind="stable")
    return BarArrays(*(np.ascontiguousarray(col[order]) for col in bars))


def _merge(existing: BarArrays, imported: BarArrays) -> BarArrays:
    keep = ~np.isin(existing.start, imported.start)
    both = BarArrays(*(np.concatenate([old[keep], new]) for old, new in zip(existing, imported, strict=True)))
    return _sorted(both)


def _write_rejected(rows: SourceRows, reasons: dict[int, str], path: Path) -> Path | None:
    if not reasons:
        path.unlink(missing_ok=True)
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["line", "reason", *rows.header])
            for k, reason in reasons.items():
                writer.writerow([int(rows.lines[k]), reason, *rows.rows[k]])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _report(
    rows: SourceRows, reasons: dict[int, str], accepted: int, rejected_file: Path | None, written: Path, file_rows: int
) -> ImportReport:
    order = [UNPARSEABLE, *(m.name for m in RejectReason if m.name != UNPARSEABLE)]
    counts = dict.fromkeys(order, 0)
    for name in reasons.values():
        counts[name] = counts.get(name, 0) + 1
    first = next(iter(reasons), None)
    report = ImportReport(
        rows_read=len(rows.rows),
        accepted=accepted,
        rejected_by_reason={name: n for name, n in counts.items() if n},
        first_bad_line=None if first is None else int(rows.lines[first]),
        first_bad_reason=None if first is None else reasons[first],
        rejected_file=rejected_file,
        written=written,
        file_rows=file_rows,
    )
    if report.accepted + report.rejected != report.rows_read:
        raise InvariantError(f"import lost rows: {report.accepted} + {report.rejected} != {report.rows_read}")
    return report
