"""Read a recording (Parquet once finished, the IPC streams of a run still going or killed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.errors import AppError
from app.feeds.base import HistoryLoad
from app.recording.schema import SCHEMAS, TABLES
from app.recording.writer import META, read_stream
from app.store.bar import BarArrays, empty_bars

__all__ = ["FINAL_OUTCOMES", "Recording", "RecordingError", "SessionSpan", "load_recording"]

FINAL_OUTCOMES = frozenset({"in_step", "late", "correction", "duplicate", "after_decision"})
"""Received bars a store holds after the session (the latest version of each bar wins)."""


class RecordingError(AppError):
    """A folder that is not a readable recording (names the file and what was expected)."""


@dataclass(frozen=True)
class SessionSpan:
    """A recorded session: its bounds and the span its steps were streamed over."""

    session: date
    open_ns: int
    close_ns: int
    stream_start_ns: int
    stream_end_ns: int
    finished: bool


def _bars(rows: dict[str, list[Any]], index: list[int] | np.ndarray) -> BarArrays:
    idx = np.asarray(index, dtype=np.int64)
    if not idx.shape[0]:
        return empty_bars()
    start = np.asarray(rows["start_ns"], dtype=np.int64)[idx]
    order = np.argsort(start, kind="stable")
    cols = [start[order]] + [np.asarray(rows[c], dtype=np.float64)[idx][order]
                             for c in ("open", "high", "low", "close", "volume")]
    return BarArrays(*cols)


@dataclass
class Recording:
    """A recording's tables (as Python columns) and the views the replay and the parity need."""

    folder: Path
    meta: dict[str, Any]
    tables: dict[str, dict[str, list[Any]]]
    _spans: list[SessionSpan] = field(default_factory=list)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.meta["symbols"])

    def rows(self, table: str) -> dict[str, list[Any]]:
        return self.tables[table]

    def sessions(self) -> list[SessionSpan]:
        """The recorded sessions in order; a session a killed run left unfinished ends at its last step."""
        if self._spans:
            return self._spans
        rows = self.tables["sessions"]
        last: dict[date, int] = {}
        for i, d in enumerate(rows["session"]):
            last[d] = i
        steps = self.tables["steps"]
        for d, i in sorted(last.items()):
            end = rows["stream_end_ns"][i]
            if end < 0 or not rows["finished"][i]:
                ends = [e for s, e in zip(steps["session"], steps["end_ns"], strict=True) if s == d]
                end = max(ends) if ends and end < 0 else end if end >= 0 else rows["stream_start_ns"][i]
            self._spans.append(SessionSpan(d, rows["open_ns"][i], rows["close_ns"][i], rows["stream_start_ns"][i],
                                           end, bool(rows["finished"][i])))
        return self._spans

    def step_bars(self, session: date) -> dict[str, BarArrays]:
        """Each symbol's bars as the steps held them (the rows of its base series)."""
        b = self.tables["bars"]
        out: dict[str, list[int]] = {s: [] for s in self.symbols}
        for i, (d, k) in enumerate(zip(b["session"], b["step"], strict=True)):
            if d == session and k >= 0:
                out[b["symbol"][i]].append(i)
        return {s: _bars(b, idx) for s, idx in out.items()}

    def final_bars(self, span: SessionSpan) -> dict[str, BarArrays]:
        """Each symbol's bars as a store would hold them after the session: every bar received over
        the streamed span that is shown, late, a correction or a REST fill, the latest version winning."""
        b = self.tables["bars"]
        latest: dict[tuple[str, int], tuple[int, int, int]] = {}
        for i, (d, outcome) in enumerate(zip(b["session"], b["outcome"], strict=True)):
            start = b["start_ns"][i]
            if d != span.session or outcome not in FINAL_OUTCOMES:
                continue
            if not span.stream_start_ns <= start < span.stream_end_ns:
                continue
            key = (b["symbol"][i], start)
            rank = (b["received_ns"][i], b["id"][i], i)
            if key not in latest or rank > latest[key]:
                latest[key] = rank
        out: dict[str, list[int]] = {s: [] for s in self.symbols}
        for (symbol, _), rank in latest.items():
            out[symbol].append(rank[2])
        return {s: _bars(b, idx) for s, idx in out.items()}

    def history(self, session: date, symbol: str, interval: str) -> HistoryLoad | None:
        """The history load recorded for (session, symbol, interval), or None when none was."""
        loads = self.tables["history_loads"]
        match = [i for i, (d, s, iv) in enumerate(zip(loads["session"], loads["symbol"], loads["interval"],
                                                        strict=True)) if (d, s, iv) == (session, symbol, interval)]
        if not match:
            return None
        i = match[-1]
        h = self.tables["history"]
        idx = [j for j, (d, s, iv, part) in enumerate(zip(h["session"], h["symbol"], h["interval"], h["part"],
                                                           strict=True))
               if (d, s, iv, part) == (session, symbol, interval, "history")]
        per_day = tuple((int(a), int(b)) for a, b in loads["per_day"][i])
        return HistoryLoad(_bars(h, idx), per_day, json.loads(loads["rejected"][i] or "{}"))

    def catch_up(self, session: date, interval: str) -> dict[str, BarArrays]:
        """A live run that joined late: each symbol's earlier bars of the session (put in history)."""
        h = self.tables["history"]
        out: dict[str, list[int]] = {}
        for j, (d, s, iv, part) in enumerate(zip(h["session"], h["symbol"], h["interval"], h["part"], strict=True)):
            if (d, iv, part) == (session, interval, "catch_up"):
                out.setdefault(s, []).append(j)
        return {s: _bars(h, idx) for s, idx in out.items()}


def _read_table(folder: Path, name: str) -> pa.Table:
    parquet, stream = folder / f"{name}.parquet", folder / f"{name}.arrows"
    if parquet.exists():
        try:
            return pq.read_table(parquet)
        except (pa.ArrowInvalid, OSError) as e:
            raise RecordingError(f"{parquet}: not a readable Parquet file ({e}); expected a recording table") from None
    if stream.exists():
        return read_stream(stream, SCHEMAS[name])
    return SCHEMAS[name].empty_table()


def load_recording(folder: Path) -> Recording:
    """Read the recording in `folder` (``RUN_DIR/recording``).

    Raises
    ------
    RecordingError
        If `folder` has no ``meta.json`` (not a recording) or a table cannot be read.
    """
    meta_path = folder / META
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{meta_path}: not found; expected the recording a live run (or a backtest with "
                             "run.record: true) writes in its run folder") from None
    except ValueError as e:
        raise RecordingError(f"{meta_path}: not valid JSON ({e}); expected a recording's meta.json") from None
    tables = {name: _read_table(folder, name).to_pydict() for name in TABLES}
    return Recording(folder, meta, tables)
