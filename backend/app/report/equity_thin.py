"""report.html's equity curve made a chunk at a time, as equity.csv is written: memory stays bounded.

`app.report.run_charts.equity_view` thins a whole curve: buckets of ``ceil(n / buckets)``
consecutive points, each keeping where equity and drawdown are lowest and highest. The run that
writes equity.csv held every row of it for that (33 bytes a step: ~10 MB for ten symbols over
three years, twice that while joined). `EquityThinner` takes the same chunks
(``append((stamp rows, equity))``, as `app.runtime.outputs.write_equity_csv` keeps them) and
keeps only each finished bucket's picks: the same `EquityView`, from at most about
``max_points`` rows plus one bucket. The bucket size depends on the curve's length: given
`total`, the buckets are picked as the chunks come; without it, the chunks are spooled to a
temporary file and thinned when `view` is asked for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from app.report.downsample import MAX_POINTS, no_all_nan
from app.report.run_charts import EquityView, plotly_time

__all__ = ["EquityThinner"]

_PICK = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (row numbers, stamp rows, equity, drawdown)


class EquityThinner:
    """`equity_view` of an equity curve handed over in chunks of ``(stamp rows, equity)``.

    `total` is the number of points the chunks will hold (None: not known until the last one;
    they are spooled to a file in `spool_dir`, default the system's, and read back by `view`).
    Stamp rows are ``(rows, width)`` ASCII bytes, as `app.report.run_files.StampRows` holds.
    """

    def __init__(self, total: int | None = None, max_points: int = MAX_POINTS, spool_dir: Path | None = None) -> None:
        self.max_points = max_points
        self.total = total
        self._seen = 0
        self._peak = -np.inf  # the running peak of equity before the next chunk
        self._spool: _Spool | None = _Spool(spool_dir) if total is None else None
        n = total or 0
        self._whole = n <= max_points
        buckets = max(1, (max_points - 2) // 4)  # (two series, as equity_view: extreme_indices' rule)
        self._size = max(1, -(-n // buckets))
        self._full_end = (n // self._size) * self._size  # the rows in whole buckets; the rest is the tail
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # rows since the last whole bucket
        self._pending_at = 0  # the row number of the first pending row
        self._picks: list[_PICK] = []
        self._view: EquityView | None = None

    def append(self, chunk: tuple[np.ndarray, np.ndarray]) -> None:
        """Take the next `chunk`: (stamp rows, equity), one row per point.

        Raises
        ------
        ValueError
            If the chunks hold more points than `total`, or its two parts differ in length.
        """
        if self._view is not None:
            raise ValueError("an equity chunk after the view was made; expected every chunk first")
        rows, eq = chunk
        k = int(eq.shape[0])
        if rows.shape[0] != k:
            raise ValueError(f"equity chunk of {k} points with {rows.shape[0]} stamp rows; expected one each")
        if self._spool is not None:
            self._spool.write(rows, eq)
            self._seen += k
            return
        if self.total is None or self._seen + k > self.total:
            raise ValueError(f"equity chunks of more than the {self.total} points announced")
        start = self._seen
        self._seen += k
        if not k:
            return
        peak = np.maximum.accumulate(np.where(np.isnan(eq), -np.inf, eq))
        np.maximum(peak, self._peak, out=peak)
        self._peak = float(peak[-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, (eq / peak - 1.0) * 100.0, 0.0)
        if self._whole:
            self._picks.append((np.arange(start, start + k, dtype=np.int64), rows, eq, dd))
            return
        ends = [i for i in (0, self.total - 1) if start <= i < start + k]
        if ends:  # the first and the last point are always drawn
            at = np.asarray(ends, dtype=np.int64)
            self._picks.append((at, rows[at - start], eq[at - start], dd[at - start]))
        self._pending.append((rows, eq, dd))
        self._take_buckets()

    def _take_buckets(self) -> None:
        # Each whole bucket among the pending rows: the rows of its extremes (as extreme_indices).
        size, at = self._size, self._pending_at
        count = (min(self._seen, self._full_end) - at) // size if at < self._full_end else 0
        if count <= 0:
            return
        rows, eq, dd = _joined(self._pending)
        used = count * size
        base = at + np.arange(count, dtype=np.int64) * size
        for values in (eq, dd):
            head = values[:used].reshape(count, size)
            for pick in (np.nanargmin, np.nanargmax):
                local = base - at + pick(no_all_nan(head), axis=1)
                self._picks.append((local + at, rows[local], eq[local], dd[local]))
        self._pending = [(rows[used:], eq[used:], dd[used:])] if used < eq.shape[0] else []
        self._pending_at = at + used

    def view(self) -> EquityView:
        """Return the thinned curve: `equity_view` of all the chunks joined (made once: no chunk
        may come after it).

        Raises
        ------
        ValueError
            If the chunks held fewer points than `total`.
        """
        if self._view is not None:
            return self._view
        if self._spool is not None:
            thinner = EquityThinner(self._seen, self.max_points)
            for chunk in self._spool.chunks():
                thinner.append(chunk)
            self._view = thinner.view()
            return self._view
        if self._seen != self.total:
            raise ValueError(f"equity chunks of {self._seen} points; {self.total} were announced")
        if not self._seen:
            self._view = EquityView([], [], [], 0)
            return self._view
        if not self._whole and self._full_end < self._seen and self._pending:
            rows, eq, dd = _joined(self._pending)  # the tail: the last, short bucket
            for values in (eq, dd):
                if not np.all(np.isnan(values)):
                    local = np.array([np.nanargmin(values), np.nanargmax(values)], dtype=np.int64)
                    self._picks.append((local + self._pending_at, rows[local], eq[local], dd[local]))
        at = np.concatenate([p[0] for p in self._picks])
        order = np.argsort(at, kind="stable")
        at = at[order]
        first = np.r_[True, at[1:] != at[:-1]]  # a row picked twice is drawn once
        keep = order[first]
        rows = np.concatenate([p[1] for p in self._picks])[keep]
        eq = np.concatenate([p[2] for p in self._picks])[keep]
        dd = np.concatenate([p[3] for p in self._picks])[keep]
        width = int(rows.shape[1]) if rows.ndim == 2 else 0
        text = rows.tobytes().decode("ascii")
        x = [plotly_time(text[i: i + width]) for i in range(0, len(text), width)] if width else [
            plotly_time("") for _ in range(rows.shape[0])]
        self._view = EquityView(x, np.round(eq, 4).tolist(), np.round(dd, 4).tolist(), self._seen)
        self._picks, self._pending = [], []  # (the view is all that is asked for from here on)
        return self._view

    def close(self) -> None:
        """Remove the spool file, if any (`view` can no longer be asked for)."""
        if self._spool is not None:
            self._spool.close()


def _joined(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


class _Spool:
    """Chunks of (stamp rows, equity) in an unnamed temporary file, read back in the same chunks."""

    def __init__(self, folder: Path | None) -> None:
        self._fh: IO[bytes] = tempfile.TemporaryFile(dir=folder)
        self._shapes: list[tuple[int, int]] = []

    def write(self, rows: np.ndarray, eq: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(rows, dtype=np.uint8).tobytes())
        self._fh.write(np.ascontiguousarray(eq, dtype=np.float64).tobytes())
        self._shapes.append((int(rows.shape[0]), int(rows.shape[1]) if rows.ndim == 2 else 0))

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self._fh.flush()
        self._fh.seek(0)
        for k, width in self._shapes:
            rows = np.frombuffer(self._fh.read(k * width), dtype=np.uint8).reshape(k, width)
            yield rows, np.frombuffer(self._fh.read(8 * k), dtype=np.float64)

    def close(self) -> None:
        self._fh.close()
