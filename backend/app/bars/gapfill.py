"""Live gap filling bookkeeping: which missing bars to re-request, and what each answer means (pure).

A base bar that should exist (an expected start, before the last published step) and is not in
the series is *pending*. Each pending bar is re-requested at most ``max_retries`` times,
``retry_interval_ns`` apart. An answer that holds the bar *fills* it. An answer without it
that holds a later bar of the same symbol *confirms no trades* (the provider sends no bar for a
minute without trades, and its later bars show the minute is final): that is not a gap and is
never requested again. Otherwise the attempt counts; after the last one the bar stays
*missing* (a gap). No I/O and no clock: the caller passes ``now_ns`` and the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.store.bar import BarArrays

__all__ = ["FillRequest", "GapFiller", "SymbolFills"]


@dataclass(frozen=True, slots=True)
class FillRequest:
    """Re-request `symbol`'s bars in ``[start_ns, end_ns)``; `starts` are the pending ones asked."""

    symbol: str
    start_ns: int
    end_ns: int
    starts: tuple[int, ...]


@dataclass
class SymbolFills:
    """What gap filling found for one symbol in one session."""

    filled: dict[int, tuple[float, float, float, float, float]] = field(default_factory=dict)
    no_trades: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)  # given up after max_retries
    requests: int = 0
    failed_requests: int = 0
    pending: dict[int, list[int]] = field(default_factory=dict)  # start -> [attempts, next_try_ns]

    def known(self, start: int) -> bool:
        return start in self.pending or start in self.filled or start in self.no_trades or start in self.missing


class GapFiller:
    """Tracks missing bars per symbol and turns them into re-requests and their outcomes.

    Warnings
    --------
    One thread (DataUpkeep) calls every method.
    """

    def __init__(self, symbols: Sequence[str], max_retries: int, retry_interval_ns: int) -> None:
        if max_retries < 1 or retry_interval_ns <= 0:
            raise ValueError(f"expected max_retries >= 1 and retry_interval_ns > 0, received {max_retries} and "
                             f"{retry_interval_ns}")
        self.max_retries = max_retries
        self.retry_interval_ns = retry_interval_ns
        self.symbols = {s: SymbolFills() for s in symbols}

    def scan(self, symbol: str, expected: np.ndarray, present: np.ndarray, now_ns: int) -> int:
        """Mark expected starts absent from `present` as pending (first try at once); return how many are new."""
        fills = self.symbols[symbol]
        absent = np.setdiff1d(np.asarray(expected, np.int64), np.asarray(present, np.int64), assume_unique=True)
        new = 0
        for start in absent.tolist():
            if not fills.known(start):
                fills.pending[start] = [0, now_ns]
                new += 1
        return new

    def forget_present(self, symbol: str, present: Iterable[int]) -> None:
        """Drop pending entries for bars that turned up after all (a late stream delivery)."""
        fills = self.symbols[symbol]
        for start in present:
            fills.pending.pop(int(start), None)

    def requests(self, now_ns: int, horizon_ns: int) -> list[FillRequest]:
        """Return one request per symbol with a pending bar due at `now_ns`, up to `horizon_ns`.

        The range runs from the earliest due bar to `horizon_ns` (the end of the last published
        step), so the answer can show later bars and so confirm empty minutes.
        """
        out = []
        for symbol, fills in self.symbols.items():
            due = sorted(s for s, (_, next_try) in fills.pending.items() if next_try <= now_ns and s < horizon_ns)
            if due:
                out.append(FillRequest(symbol, due[0], horizon_ns, tuple(due)))
        return out

    def resolve(self, request: FillRequest, answer: BarArrays | None, now_ns: int) -> None:
        """Apply the provider's answer to `request` (None: the request failed)."""
        fills = self.symbols[request.symbol]
        fills.requests += 1
        got: dict[int, int] = {}
        latest = -1
        if answer is None:
            fills.failed_requests += 1
        else:
            got = {int(s): i for i, s in enumerate(answer.start.tolist()) if request.start_ns <= s < request.end_ns}
            latest = max(got) if got else -1
        for start in request.starts:
            entry = fills.pending.get(start)
            if entry is None:
                continue
            row = got.get(start)
            if row is not None:
                assert answer is not None
                fills.filled[start] = tuple(float(col[row]) for col in answer[1:])  # type: ignore[assignment]
                del fills.pending[start]
            elif latest > start:
                fills.no_trades.add(start)
                del fills.pending[start]
            else:
                entry[0] += 1
                if entry[0] >= self.max_retries:
                    fills.missing.add(start)
                    del fills.pending[start]
                else:
                    entry[1] = now_ns + self.retry_interval_ns

    def next_due_ns(self) -> int | None:
        """Return the earliest instant a pending bar is due, or None when nothing is pending."""
        times = [t for f in self.symbols.values() for _, t in f.pending.values()]
        return min(times) if times else None

    def give_up(self) -> None:
        """The session ended: every bar still pending stays missing."""
        for fills in self.symbols.values():
            fills.missing.update(fills.pending)
            fills.pending.clear()
