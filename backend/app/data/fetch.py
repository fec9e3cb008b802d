"""Download a history of bars into the store: which (symbol, trading day) pairs are missing, fetch, check, save.

`fetch_history` asks the client only for the trading days the store lacks (a day is held when the
store has at least one bar on that exchange-local date), in runs of consecutive missing days. Each
run's rows go through the import checks (`app.bars.checks.check_bars` with the calendar's expected
bar starts); accepted bars are added to ``<store>/<interval>/<SYMBOL>.parquet`` through the same
atomic writer as ``import`` (bars already held are never replaced: the fetched rows only fill days
the file did not have, and a symbol with nothing missing is not written at all); rejected rows are
appended verbatim to ``<SYMBOL>.rejected.csv``. Trading days that come back without a single
accepted bar are reported and remembered in ``<SYMBOL>.fetch.json`` so a resume does not ask for
them again (``refetch_empty`` does). Each run is saved before the next is asked for, so a failure
keeps every day saved before it.
"""

from __future__ import annotations

import collections
import csv
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from app.bars.checks import RejectReason, check_bars
from app.data.importer import UNPARSEABLE, rejected_path
from app.errors import AppError, DataError, FeedError
from app.feeds._alpaca_wire import TIMEFRAMES
from app.feeds.live import format_rfc3339, parse_rfc3339_ns
from app.store.bar import NS_PER_SECOND, BarArrays, Interval
from app.store.files import bar_path, read_bars_file, write_bars
from app.timing.time_manager import TimeManager

__all__ = [
    "REJECTED_HEADER",
    "BarsClient",
    "FetchError",
    "FetchReport",
    "FetchSettings",
    "SymbolResult",
    "fetch_history",
    "manifest_path",
    "parse_items",
]

REJECTED_HEADER: Final = ("reason", "t", "o", "h", "l", "c", "v", "raw")
"""Columns of ``<SYMBOL>.rejected.csv`` written by a fetch: the reason, the bar's fields as sent, its JSON."""
SETTLE_NS: Final = 15 * 60 * NS_PER_SECOND
"""A day is fetched once this long has passed since its close (Alpaca's free plan refuses SIP data younger)."""
_FIELDS: Final = ("o", "h", "l", "c", "v")
_ORDER: Final = (UNPARSEABLE, *(m.name for m in RejectReason if m.name != UNPARSEABLE))


class BarsClient(Protocol):
    """What `fetch_history` needs of a download client (`app.data.alpaca_history.HistoryClient`)."""

    endpoint: str

    def bars(self, symbol: str, timeframe: str, start: str, end: str) -> list[Any]: ...


class Progress(Protocol):
    """A progress display: `update` by a number of (symbol, day) pairs, `close` at the end."""

    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """What to download and where (see ``python -m app.data fetch --help``)."""

    symbols: tuple[str, ...]
    interval: Interval
    start: date
    end: date
    store: Path
    feed: str = "iex"
    adjustment: str = "raw"
    provider: str = "alpaca"
    keep_extended_hours: bool = False
    days_per_request: int = 5
    refetch_empty: bool = False


@dataclass(slots=True)
class SymbolResult:
    """What a fetch did for one symbol."""

    symbol: str
    trading_days: int = 0
    held_days: int = 0
    remembered_empty: int = 0
    not_closed: list[date] = field(default_factory=list)
    saved_days: list[date] = field(default_factory=list)
    bars_written: int = 0
    empty_days: list[date] = field(default_factory=list)
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)

    def line(self) -> str:
        """Return the one-line account of this symbol."""
        text = (
            f"{self.symbol}: {self.trading_days} trading days; {self.held_days} already stored"
            f"{f', {self.remembered_empty} known without bars' if self.remembered_empty else ''}; "
            f"fetched {len(self.saved_days)} ({self.bars_written:,} bars written)"
        )
        if self.rejected:
            reasons = ", ".join(f"{name}: {self.rejected[name]:,}" for name in _ORDER if self.rejected[name])
            text += f"; rejected {sum(self.rejected.values()):,} ({reasons})"
        if self.empty_days:
            n = len(self.empty_days)
            text += f"; {n} trading day{'s' if n != 1 else ''} without bars: {_days_text(self.empty_days)}"
            if not self.held_days and len(self.empty_days) == self.trading_days:
                text += " (no bars at all: check the symbol, the feed and the dates)"
        if self.not_closed:
            text += f"; {len(self.not_closed)} not closed yet, left for later: {_days_text(self.not_closed)}"
        return text


@dataclass(slots=True)
class FetchReport:
    """What a fetch did: per symbol, and where it wrote."""

    store: Path
    interval: Interval
    results: list[SymbolResult]

    def lines(self) -> list[str]:
        """Return the account the CLI prints: one line per symbol, then where rejected rows went."""
        out = [r.line() for r in self.results]
        rejected = [r.symbol for r in self.results if r.rejected]
        if rejected:
            folder = self.store / self.interval.label
            out.append(f"rejected rows written to {', '.join(f'{folder}/{s}.rejected.csv' for s in rejected)}")
        return out


class FetchError(AppError):
    """A download stopped (the server failed past the retries): says what was saved before it."""

    def __init__(self, cause: str, symbol: str, days: Sequence[date], report: FetchReport) -> None:
        saved = ", ".join(
            f"{r.symbol} {len(r.saved_days)} days" + (f" ({_days_text(r.saved_days)})" if r.saved_days else "")
            for r in report.results
        )
        super().__init__(
            f"{cause}; stopped while fetching {symbol} {_days_text(list(days))}; saved by this run "
            f"into {report.store / report.interval.label}: {saved}; run the same command again to fetch the rest"
        )
        self.report = report


def manifest_path(store: Path, interval: Interval, symbol: str) -> Path:
    """Return the file that remembers how `symbol` was fetched and which trading days had no bars."""
    return bar_path(store, interval, symbol).with_name(f"{symbol}.fetch.json")


def fetch_history(
    settings: FetchSettings,
    client: BarsClient,
    time_manager: TimeManager,
    progress: Callable[[int, int], Progress],
) -> FetchReport:
    """Fetch every (symbol, trading day) of `settings` the store lacks; return what was done.

    `progress(total, done)` makes the display over symbols x trading days, `done` of them
    already stored. The days come from `time_manager`'s calendar; its clock says which days
    have closed (a day is fetched `SETTLE_NS` after its close).

    Raises
    ------
    FetchError
        If the client gives up on a request; everything saved before stays in the store.
    FeedError
        If the server refuses the request (bad keys, bad parameters).
    DataError
        If a symbol's ``.fetch.json`` says it was fetched with another feed or adjustment, or a
        stored file is unreadable.
    ValueError
        If the interval has no Alpaca timeframe or the dates lie outside the calendar.
    """
    interval = settings.interval
    if interval.label not in TIMEFRAMES:
        raise ValueError(f"expected --interval 1m or 1d (Alpaca timeframes), received {interval.label!r}")
    days = time_manager.trading_days(settings.start, settings.end)
    report = FetchReport(settings.store, interval, [SymbolResult(s, trading_days=len(days)) for s in settings.symbols])
    plans = [_plan(settings, time_manager, days, result) for result in report.results]
    total = len(days) * len(settings.symbols)
    bar = progress(total, total - sum(len(p.missing) for p in plans))
    try:
        for plan in plans:
            for run in _runs(plan.missing, days, settings.days_per_request):
                try:
                    _fetch_run(settings, client, time_manager, plan, run)
                except FeedError as e:
                    if e.fatal:
                        raise
                    raise FetchError(e.detail, plan.result.symbol, run, report) from None
                bar.update(len(run))
    finally:
        bar.close()
    return report


@dataclass(slots=True)
class _Plan:
    result: SymbolResult
    missing: list[date]
    bars: BarArrays
    manifest: dict[str, Any]


def _plan(settings: FetchSettings, tm: TimeManager, days: list[date], result: SymbolResult) -> _Plan:
    symbol, interval = result.symbol, settings.interval
    manifest = _read_manifest(settings, symbol)
    path = bar_path(settings.store, interval, symbol)
    bars = read_bars_file(path) if path.is_file() else _empty_bars()
    starts = np.sort(bars.start)
    empty = set() if settings.refetch_empty else {date.fromisoformat(d) for d in manifest["empty_days"]}
    ready_ns = tm.now_ns() - SETTLE_NS
    missing: list[date] = []
    for d in days:
        lo, hi = _day_bounds(tm, d)
        if np.searchsorted(starts, hi, "left") > np.searchsorted(starts, lo, "left"):
            result.held_days += 1
        elif d in empty:
            result.remembered_empty += 1
        elif (hi if settings.keep_extended_hours else tm.session_bounds_ns(d)[1]) > ready_ns:
            result.not_closed.append(d)
        else:
            missing.append(d)
    return _Plan(result, missing, bars, manifest)


def _runs(missing: list[date], days: list[date], size: int) -> list[list[date]]:
    # Consecutive trading days (no held day between them), at most `size` per request.
    position = {d: i for i, d in enumerate(days)}
    runs: list[list[date]] = []
    for d in missing:
        if runs and len(runs[-1]) < size and position[runs[-1][-1]] + 1 == position[d]:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def _fetch_run(settings: FetchSettings, client: BarsClient, tm: TimeManager, plan: _Plan, run: list[date]) -> None:
    interval, symbol = settings.interval, plan.result.symbol
    lo, hi = _day_bounds(tm, run[0])[0], _day_bounds(tm, run[-1])[1]
    items = client.bars(symbol, TIMEFRAMES[interval.label], format_rfc3339(lo), format_rfc3339(hi - NS_PER_SECOND))
    bars, row_index, bad = parse_items(items)
    if interval.is_daily:
        bars = _daily_opens(tm, bars)
    allowed = None
    if not settings.keep_extended_hours:
        allowed = np.concatenate([tm.expected_bar_starts(d, interval) for d in run])
    result = check_bars(bars, allowed)
    accepted = result.accepted
    keep = ~np.isin(accepted.start, plan.bars.start)  # a bar already held always wins
    new = BarArrays(*(np.asarray(col)[keep] for col in accepted))
    if len(new):
        merged = BarArrays(*(np.concatenate([old, add]) for old, add in zip(plan.bars, new, strict=True)))
        order = np.argsort(merged.start, kind="stable")
        plan.bars = BarArrays(*(np.ascontiguousarray(col[order]) for col in merged))
        write_bars(settings.store, interval, symbol, plan.bars)
    reasons = {int(k): UNPARSEABLE for k in bad}
    for i, r in zip(result.rejected_index, result.rejected_reason, strict=True):
        reasons[int(row_index[i])] = RejectReason(int(r)).name
    _append_rejected(rejected_path(settings.store, interval, symbol), items, dict(sorted(reasons.items())))
    empty = [d for d in run if not _has_bar(new.start, *_day_bounds(tm, d))]
    res = plan.result
    res.saved_days.extend(run)
    res.bars_written += len(new)
    res.empty_days.extend(empty)
    res.rejected.update(reasons.values())
    if empty or not manifest_path(settings.store, interval, symbol).exists():
        plan.manifest["empty_days"] = sorted({*plan.manifest["empty_days"], *(d.isoformat() for d in empty)})
        _write_json(manifest_path(settings.store, interval, symbol), plan.manifest)


def parse_items(items: Sequence[Any]) -> tuple[BarArrays, np.ndarray, np.ndarray]:
    """Parse REST bar objects into columns, like ``import`` parses rows.

    Returns the bars that parsed (in order), the position in `items` of each, and the positions
    of the unparseable ones (not an object, no RFC-3339 ``t``, a price or volume that is not a
    number). A null number is NaN, for the checks to reject, as an empty CSV cell is.
    """
    starts: list[int] = []
    values: list[list[float]] = []
    kept: list[int] = []
    bad: list[int] = []
    for k, item in enumerate(items):
        try:
            if not isinstance(item, dict) or not isinstance(item.get("t"), str):
                raise ValueError("no timestamp")
            start = parse_rfc3339_ns(item["t"])
            row = [_number(item.get(name, "missing")) for name in _FIELDS]
        except (ValueError, OverflowError):
            bad.append(k)
            continue
        starts.append(start)
        values.append(row)
        kept.append(k)
    cols = np.asarray(values, dtype=np.float64).reshape(len(values), len(_FIELDS))
    bars = BarArrays(np.asarray(starts, dtype=np.int64), *(np.ascontiguousarray(cols[:, j]) for j in range(5)))
    return bars, np.asarray(kept, dtype=np.int64), np.asarray(bad, dtype=np.int64)


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _daily_opens(tm: TimeManager, bars: BarArrays) -> BarArrays:
    # Alpaca stamps a daily bar at midnight exchange time; the store keeps it at the session open.
    starts = bars.start.copy()
    for i, ns in enumerate(starts):
        local = tm.to_local(int(ns))
        if local.hour == local.minute == local.second == 0 and tm.is_trading_day(local.date()):
            starts[i] = tm.session_bounds_ns(local.date())[0]
    return BarArrays(starts, *bars[1:])


def _day_bounds(tm: TimeManager, d: date) -> tuple[int, int]:
    # [local midnight, next local midnight) of the exchange-local date d, ns UTC.
    zone = tm.uncached.tz
    lo = datetime(d.year, d.month, d.day, tzinfo=zone)
    nxt = d + timedelta(days=1)
    hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return int(lo.timestamp()) * NS_PER_SECOND, int(hi.timestamp()) * NS_PER_SECOND


def _has_bar(starts: np.ndarray, lo: int, hi: int) -> bool:
    return bool(np.any((starts >= lo) & (starts < hi)))


def _empty_bars() -> BarArrays:
    return BarArrays(np.empty(0, dtype=np.int64), *(np.empty(0, dtype=np.float64) for _ in range(5)))


def _read_manifest(settings: FetchSettings, symbol: str) -> dict[str, Any]:
    path = manifest_path(settings.store, settings.interval, symbol)
    wanted = {"provider": settings.provider, "feed": settings.feed, "adjustment": settings.adjustment}
    if not path.exists():
        return {**wanted, "empty_days": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("empty_days"), list):
            raise ValueError("expected an object with a list 'empty_days'")
        for d in data["empty_days"]:
            date.fromisoformat(d)
    except (OSError, ValueError, TypeError) as e:
        raise DataError(str(path), f"expected the fetch record this command writes, received an error: {e}") from None
    for name, value in wanted.items():
        if data.get(name) != value:
            raise DataError(
                str(path),
                f"{symbol} was fetched with {name} {data.get(name)!r}, this run asks {value!r}; mixing them would "
                "mix different bars in one file: pass the same option or use another --store",
            )
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _append_rejected(path: Path, items: Sequence[Any], reasons: dict[int, str]) -> None:
    # Appends: a resume adds to what earlier runs rejected. A file with another header (an
    # import's, describing that import) is replaced, as a new import replaces it.
    if not reasons:
        return
    fresh = True
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            fresh = next(csv.reader(handle), None) != list(REJECTED_HEADER)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if fresh else "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if fresh:
            writer.writerow(REJECTED_HEADER)
        for k, reason in reasons.items():
            item = items[k]
            fields = [_cell(item.get(name, "")) for name in ("t", *_FIELDS)] if isinstance(item, dict) else [""] * 6
            writer.writerow([reason, *fields, json.dumps(item, separators=(",", ":"))])


def _days_text(days: list[date]) -> str:
    if len(days) <= 3:
        return ", ".join(d.isoformat() for d in days)
    return f"{days[0].isoformat()}..{days[-1].isoformat()}"
