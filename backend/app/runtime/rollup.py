"""RecordRollup: what the run summary needs from the session records, one record at a time.

A run no longer holds its session records (a 10-symbol record is ~40 KB; three years of them
grew the peak with the run's length): each record is journaled when its session ends, folded in
here, and dropped. The summary built from the rollup is the one the whole list would give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.metrics.stats import Drawdown, fold_fill_cash
from app.runtime.journal import read_equity_chunks
from app.runtime.records import quality_rollup

__all__ = ["CURVE_CHUNK", "RecordRollup", "sum_dicts"]

CURVE_CHUNK = 65_536
"""Equity points folded at a time when the drawdown is read (`RecordRollup.curve_on_disk`)."""


def sum_dicts(dicts: Any) -> dict[str, int]:
    """Return the key-wise sums of `dicts`, keys sorted."""
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


class _SymbolTotals:
    __slots__ = ("bars", "gaps", "live", "missing", "quality_pct", "rejected", "skipped")

    def __init__(self) -> None:
        self.quality_pct: list[float] = []
        self.gaps: list[Any] = []
        self.missing = 0
        self.rejected: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.live: dict[str, int] | None = None
        self.bars: dict[str, int] = {}


def _add(into: dict[str, int], counts: dict[str, Any]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


class RecordRollup:
    """Totals over the finished sessions' records (written by one thread, read after it acked)."""

    def __init__(self, symbols: tuple[str, ...], starting_cash: float = 1.0) -> None:
        self.symbols = symbols
        self.count = 0
        self.first_date: str | None = None
        self.last_date: str | None = None
        self.equity_end: list[float] = []
        self.bars_processed = 0
        self.fills = 0
        self._symbols = {s: _SymbolTotals() for s in symbols}
        self._drawdown = Drawdown(starting_cash)  # the finished sessions' equity curve, folded so far
        self._curve: Path | None = None  # the file holding that curve (`curve_on_disk`)
        self._curve_folded = 0  # its bytes folded into _drawdown
        self._curve_finished = 0  # its bytes of finished sessions
        self.fill_cash: dict[str, float] = {}  # per symbol, the cash its fills moved (fold_fill_cash)
        self.fill_count: dict[str, int] = {}

    def curve_on_disk(self, path: Path, length: int) -> None:
        """The finished sessions' equity points are the first `length` bytes of `path` (the run
        journal's equity.bin): `drawdown` folds them when it is read, in bulk, rather than the
        coordinator a session at a time (the same float: `Drawdown` folds in any pieces)."""
        self._curve, self._curve_finished = path, length

    @property
    def drawdown(self) -> Drawdown:
        """The maximum drawdown of the finished sessions' equity curve (`curve_on_disk`).

        Raises
        ------
        FileNotFoundError
            When the curve's file was removed before its points were folded.
        """
        if self._curve is not None and self._curve_finished > self._curve_folded:
            if not self._curve.exists():
                raise FileNotFoundError(f"{self._curve}: not found; expected the run's equity points "
                                        f"(read for the drawdown before the journal is removed)")
            for chunk in read_equity_chunks(self._curve, CURVE_CHUNK, self._curve_finished, self._curve_folded):
                self._drawdown.fold(chunk["equity"])
            self._curve_folded = self._curve_finished
        return self._drawdown

    def fold_fills(self, fills: Any) -> None:
        """Fold fills (each exactly once, in execution order) into the per-symbol cash totals."""
        fold_fill_cash(fills, self.fill_cash, self.fill_count)

    def add(self, record: dict[str, Any]) -> None:
        """Fold one session record (as `session_record` returns it) into the totals."""
        self.count += 1
        if self.first_date is None:
            self.first_date = record["date"]
        self.last_date = record["date"]
        trading = record["trading"]
        self.equity_end.append(trading["equity_end"])
        self.bars_processed += record.get("bars_processed", 0)
        self.fills += trading.get("fills", 0)
        for s, t in self._symbols.items():
            q = record["quality"][s]
            t.quality_pct.append(q["quality_pct"])
            t.gaps.extend(q["gaps"])
            t.missing += q["missing"] or 0
            _add(t.rejected, q["rejected"])
            _add(t.skipped, q["derived_bars_skipped"])
            if "live" in q:
                if t.live is None:
                    t.live = {}
                _add(t.live, {k: v for k, v in q["live"].items() if isinstance(v, int)})
            _add(t.bars, record["bars"][s])

    def bars(self) -> dict[str, dict[str, int]]:
        """Bars per symbol and interval over the finished sessions."""
        return {s: dict(sorted(t.bars.items())) for s, t in self._symbols.items()}

    def data_quality(self, base: str) -> dict[str, Any]:
        """The summary's ``data_quality`` block (call only when `count` > 0)."""
        detail: dict[str, dict[str, Any]] = {}
        for s, t in self._symbols.items():
            detail[s] = {"quality_pct": float(np.mean(t.quality_pct)), "gaps": t.gaps, "missing": t.missing,
                         "rejected": dict(sorted(t.rejected.items())),
                         "derived_bars_skipped": dict(sorted(t.skipped.items()))}
            if t.live is not None:
                detail[s]["live"] = dict(sorted(t.live.items()))
        return quality_rollup(detail, self.bars(), base)
