"""Prices for the report: each symbol's stored bars over the run's sessions, thinned for the page.

The sessions come from sessions.json (``open``/``close`` as "YYYY-MM-DD HH:MM:SS Zone/Name"), so
the bars drawn are exactly those of the sessions the run traded, in the exchange's local time.
Long runs are thinned to a coarser interval (`coarser_step`: the close of each bucket, buckets
counted from the session's open); a gap separates sessions so no line crosses a night.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from app.report.downsample import MAX_POINTS, bucket_last, coarser_step
from app.report.memory import hand_back_freed

__all__ = ["PriceLine", "SessionSpans", "local_labels", "price_line", "rangebreaks", "read_symbol_bars",
           "session_spans", "symbol_price_line"]

_NS = 1_000_000_000


@dataclass
class SessionSpans:
    """The run's sessions: open/close (ns UTC), their UTC offsets (s), and local open/close clock times."""

    open_ns: np.ndarray
    close_ns: np.ndarray
    offset_s: np.ndarray
    dates: list[str]


def _parse(text: str, zones: dict[str, ZoneInfo]) -> tuple[int, int]:
    # "2024-06-24 09:30:00 America/New_York" -> (ns UTC, UTC offset s)
    local = datetime.fromisoformat(text[:19])
    name = text[20:].strip() or "UTC"
    zone = zones.get(name)
    if zone is None:
        zone = zones[name] = ZoneInfo(name)
    aware = local.replace(tzinfo=zone)
    offset = aware.utcoffset()
    off_s = int(offset.total_seconds()) if offset is not None else 0
    return int(aware.timestamp()) * _NS, off_s


def session_spans(records: Iterable[Mapping[str, Any]]) -> SessionSpans | None:
    """Return the sessions' spans from sessions.json's records, None when they do not name them."""
    zones: dict[str, ZoneInfo] = {}
    opens, closes, offsets, dates = [], [], [], []
    try:
        for r in records:
            o, off = _parse(str(r["open"]), zones)
            c, _ = _parse(str(r["close"]), zones)
            opens.append(o)
            closes.append(c)
            offsets.append(off)
            dates.append(str(r.get("date", "")))
    except (KeyError, ValueError, LookupError):
        return None
    if not opens:
        return None
    order = np.argsort(np.asarray(opens, dtype=np.int64), kind="stable")
    return SessionSpans(np.asarray(opens, dtype=np.int64)[order], np.asarray(closes, dtype=np.int64)[order],
                        np.asarray(offsets, dtype=np.int64)[order], [dates[i] for i in order])


def local_labels(local_ns: np.ndarray) -> list[str]:
    """Return plotly date strings ("YYYY-MM-DD HH:MM:SS") for local-time ns."""
    text = (local_ns // _NS).astype("datetime64[s]").astype(str)
    return [t.replace("T", " ") for t in text.tolist()]


@dataclass
class PriceLine:
    """One symbol's drawn closes: x labels (local), y (None between sessions) and the drawn step."""

    x: list[str]
    y: list[float | None]
    step_s: int
    bars: int


def price_line(starts: np.ndarray, closes: np.ndarray, spans: SessionSpans, base_s: int,
               max_points: int = MAX_POINTS) -> PriceLine:
    """Thin one symbol's bars (``starts`` ns UTC, sorted) to at most about `max_points` closes.

    Bars outside every session are left out. Each kept point is the close of a bucket of
    ``step`` seconds counted from its session's open, labelled with the bucket's start.
    """
    inside = _inside(starts, spans)
    n = inside[0].shape[0]
    step = coarser_step(n, base_s, max_points)
    return _assemble(_Buckets.of(starts, closes, spans, step, inside), spans, step, base_s, n)


def symbol_price_line(store: Path, interval_label: str, symbol: str, spans: SessionSpans, base_s: int,
                      max_points: int = MAX_POINTS, groups_at_once: int = 8) -> PriceLine:
    """`price_line` of `symbol`'s stored bars over the run's sessions, the file read a few row
    groups at a time (at most `groups_at_once`, in chunks of even sizes; the store writes 16,384
    rows a group, a year of one-minute bars is 7 groups), so that memory does not grow with the
    run's length (a file of one chunk is read once).

    Two passes over the file's timestamps and closes: the bars in the sessions are counted
    first (the count sets the drawn step, as in `price_line`), then each chunk's buckets are
    taken and joined (a bucket cut by a chunk's end keeps its first bar and the next chunk's
    last close). The same line as `price_line(*read_symbol_bars(...))`; a file of another shape,
    or whose rows are not in time order, is read whole that way.

    The pages the reads freed are handed back to the system once the line is made
    (`app.report.memory.hand_back_freed`): kept by the allocators, they grew the process by
    about the size of each file read.

    Raises
    ------
    As `read_symbol_bars`.
    """
    try:
        return _symbol_price_line(store, interval_label, symbol, spans, base_s, max_points, groups_at_once)
    finally:
        hand_back_freed()


def _symbol_price_line(store: Path, interval_label: str, symbol: str, spans: SessionSpans, base_s: int,
                       max_points: int, groups_at_once: int) -> PriceLine:
    from app.store.bar import parse_interval
    from app.store.files import TIMESTAMP_TYPE, bar_path
    from app.store.parquet_file import ParquetFile

    path = bar_path(store, parse_interval(interval_label), symbol)
    try:
        with ParquetFile(path) as parquet:
            schema = parquet.schema_arrow
            names = schema.names
            if ("timestamp" in names and "close" in names and schema.field("timestamp").type == TIMESTAMP_TYPE
                    and schema.field("close").type == pa.float64()):
                groups = list(range(parquet.metadata.num_row_groups))
                chunks = _even_chunks(groups, groups_at_once)
                line = _chunked_line(parquet, chunks, spans, base_s, max_points)
                if line is not None:
                    return line
    except (OSError, pa.ArrowException, KeyError):
        pass  # read_symbol_bars says what is wrong with the file
    starts, closes = read_symbol_bars(store, interval_label, symbol, spans)
    return price_line(starts, closes, spans, base_s, max_points)


def _even_chunks(groups: list[int], most: int) -> list[list[int]]:
    # As few chunks as hold at most `most` groups each, of even sizes (19 groups by 8: 7, 6, 6):
    # a longer file is read in more chunks, none larger than a shorter file's.
    if not groups:
        return []
    count = -(-len(groups) // max(1, most))
    size = -(-len(groups) // count)
    return [groups[i:i + size] for i in range(0, len(groups), size)]


def _chunked_line(parquet: Any, chunks: list[list[int]], spans: SessionSpans, base_s: int,
                  max_points: int) -> PriceLine | None:
    # None: a null, or rows out of time order (the whole read sorts them).
    if len(chunks) <= 1:  # one chunk (most files of a year or less): one read, one pass
        return _one_chunk_line(parquet, chunks[0] if chunks else [], spans, base_s, max_points)
    n, last = 0, None
    for chunk in chunks:
        table = parquet.read_row_groups(chunk, ["timestamp"], use_threads=False)
        ts = table.column("timestamp")
        if ts.null_count:
            return None
        starts = _int64s(ts)
        if starts.shape[0] and ((last is not None and int(starts[0]) < last)
                                or bool((starts[1:] < starts[:-1]).any())):
            return None
        if starts.shape[0]:
            last = int(starts[-1])
        n += _inside(starts, spans)[0].shape[0]
    step = coarser_step(n, base_s, max_points)
    parts: list[_Buckets] = []
    for chunk in chunks:
        table = parquet.read_row_groups(chunk, ["timestamp", "close"], use_threads=False)
        px = table.column("close")
        if px.null_count:
            return None
        part = _Buckets.of(_int64s(table.column("timestamp")), _buffer_floats(px), spans, step)
        if parts and part.keys.shape[0] and part.keys[0] == parts[-1].keys[-1]:
            parts[-1].last_close[-1] = part.last_close[0]  # the bucket goes on: its close is the later one
            part = part.tail()
        if part.keys.shape[0]:  # (the last part kept holds the bucket the next chunk may go on with)
            parts.append(part)
    return _assemble(_Buckets.join(parts), spans, step, base_s, n)


def _one_chunk_line(parquet: Any, groups: list[int], spans: SessionSpans, base_s: int,
                    max_points: int) -> PriceLine | None:
    table = parquet.read_row_groups(groups, ["timestamp", "close"], use_threads=False)
    ts, px = table.column("timestamp"), table.column("close")
    if ts.null_count or px.null_count:
        return None
    starts = _int64s(ts)
    if bool((starts[1:] < starts[:-1]).any()):
        return None
    return price_line(starts, _buffer_floats(px), spans, base_s, max_points)


def _inside(starts: np.ndarray, spans: SessionSpans) -> tuple[np.ndarray, np.ndarray]:
    # The bars within a session: their rows in `starts` and their session's index.
    sess = np.searchsorted(spans.open_ns, starts, side="right") - 1
    inside = (sess >= 0)
    inside &= starts < spans.close_ns[np.clip(sess, 0, None)]
    rows = np.flatnonzero(inside)
    return rows, sess[rows]


@dataclass
class _Buckets:
    """Per bucket of ``step`` seconds from its session's open: its key, first bar and last close."""

    keys: np.ndarray
    first_start: np.ndarray
    sess: np.ndarray
    rel: np.ndarray
    last_close: np.ndarray

    @classmethod
    def of(cls, starts: np.ndarray, closes: np.ndarray, spans: SessionSpans, step: int,
           inside: tuple[np.ndarray, np.ndarray] | None = None) -> _Buckets:
        # `inside`: `_inside(starts, spans)` when the caller has it already.
        rows, sess = inside if inside is not None else _inside(starts, spans)
        starts, closes = starts[rows], closes[rows]
        rel = (starts - spans.open_ns[sess]) // (step * _NS)
        keys = sess.astype(np.int64) * (1 << 32) + rel
        first, last_close = bucket_last(keys, closes)
        return cls(keys[first], starts[first], sess[first], rel[first], np.array(last_close, dtype=np.float64))

    def tail(self) -> _Buckets:
        return _Buckets(self.keys[1:], self.first_start[1:], self.sess[1:], self.rel[1:], self.last_close[1:])

    @classmethod
    def join(cls, parts: list[_Buckets]) -> _Buckets:
        if not parts:
            none = np.empty(0, dtype=np.int64)
            return cls(none, none, none, none, np.empty(0, dtype=np.float64))
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("keys", "first_start", "sess", "rel", "last_close")))


def _assemble(b: _Buckets, spans: SessionSpans, step: int, base_s: int, n: int) -> PriceLine:
    # The drawn line from the buckets: labels in local time, a None between sessions.
    step_ns = step * _NS
    label_ns = spans.open_ns[b.sess] + b.rel * step_ns + spans.offset_s[b.sess] * _NS
    if step == base_s:
        label_ns = b.first_start + spans.offset_s[b.sess] * _NS
    x = local_labels(label_ns)
    y: list[float | None] = b.last_close.tolist()  # a NaN close is drawn as a gap
    # A None between sessions: the line stops at a close and starts again at the next open.
    breaks = np.flatnonzero(b.sess[1:] != b.sess[:-1]) + 1
    for at in breaks[::-1].tolist():
        x.insert(at, x[at - 1])
        y.insert(at, None)
    return PriceLine(x, y, step, n)


def read_symbol_bars(store: Path, interval_label: str, symbol: str, spans: SessionSpans
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Read `symbol`'s bars at `interval_label` within the run's sessions: (starts ns UTC, closes).

    Reads the two columns the chart needs (a store file is written by `app.store.files.write_bars`:
    ``timestamp`` as ns UTC); a file of another shape goes through `read_bars_file`, which checks it.

    Raises
    ------
    app.errors.DataError
        If the file is missing or unreadable (the message names it).
    ValueError
        If the interval label or symbol is not valid.
    """
    from app.store.bar import parse_interval
    from app.store.files import TIMESTAMP_TYPE, bar_path, read_bars_file
    from app.store.parquet_file import ParquetFile

    path = bar_path(store, parse_interval(interval_label), symbol)
    lo, hi = int(spans.open_ns[0]), int(spans.close_ns[-1])
    start = close = None
    try:
        with ParquetFile(path) as parquet:
            table = parquet.read(["timestamp", "close"], use_threads=False)  # (as run_files)
        ts, px = table.column("timestamp"), table.column("close")
        if ts.type == TIMESTAMP_TYPE and ts.null_count == 0 and px.type == pa.float64() and px.null_count == 0:
            start, close = _int64s(ts), _buffer_floats(px)
    except (OSError, pa.ArrowException, KeyError):
        start = None  # read_bars_file says what is wrong with the file
    if start is None or close is None:
        bars = read_bars_file(path, lo, hi)
        start, close = bars.start, bars.close
    if start.shape[0] > 1 and bool((start[1:] < start[:-1]).any()):
        order = np.argsort(start, kind="stable")
        start, close = start[order], close[order]
    a, b = np.searchsorted(start, [lo, hi])
    return start[a:b], close[a:b]


def _int64s(column: pa.ChunkedArray) -> np.ndarray:
    parts = [np.frombuffer(c.buffers()[1], dtype=np.int64)[c.offset: c.offset + len(c)] for c in column.chunks]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _buffer_floats(column: pa.ChunkedArray) -> np.ndarray:
    parts = [np.frombuffer(c.buffers()[1], dtype=np.float64)[c.offset: c.offset + len(c)] for c in column.chunks]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def rangebreaks(spans: SessionSpans, limit: int = 2_000) -> list[dict[str, Any]]:
    """Return plotly x-axis rangebreaks hiding the time between sessions (nights, weekends, holidays).

    One break per gap from a session's close to the next one's open (local times), so early
    closes and holidays need no calendar here. None beyond `limit` sessions (the axis then
    shows the nights: a page stays quick to draw).
    """
    n = int(spans.open_ns.shape[0])
    if n < 2 or n > limit:
        return []
    close = spans.close_ns[:-1] + spans.offset_s[:-1] * _NS
    nxt = spans.open_ns[1:] + spans.offset_s[1:] * _NS
    keep = nxt > close
    lo, hi = local_labels(close[keep]), local_labels(nxt[keep])
    return [{"bounds": [a, b]} for a, b in zip(lo, hi, strict=True)]
