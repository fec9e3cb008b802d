"""Fill at grace: what to ask REST for steps whose grace ran out, and what its answer means (pure).

A live step whose grace ran out with bars missing is held (``live.fill_wait_s``) while REST is
asked for exactly the missing symbols, from the first such step to the last step end that is
over. For each missing (symbol, step): a bar in the answer *fills* it (it goes into the step the
strategy sees); an answer that holds a later bar of the symbol but not this one confirms *no
trades* (the provider sends no bar for a minute without trades); otherwise it is *absent* (not
in REST yet) and the step waits for the stream until its hold ends. No I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.feeds.live import LiveBar
from app.store.bar import BarArrays

__all__ = ["FillAnswer", "fill_request", "read_fill_answer", "same_values"]

Overdue = Sequence[tuple[int, tuple[str, ...]]]  # (step start, symbols missing), in time order


@dataclass(frozen=True, slots=True)
class FillAnswer:
    """What one REST answer settled, per (symbol, step start)."""

    filled: tuple[LiveBar, ...]
    no_trades: tuple[tuple[str, int], ...]
    absent: tuple[tuple[str, int], ...]


def fill_request(overdue: Overdue, grid_ns: int, base_ns: int, now_ns: int) -> tuple[list[str], int, int]:
    """Return (symbols, start, end) to ask REST: every missing symbol, from the first overdue step
    to the last step end at or before `now_ns` (so a later bar can confirm an empty step)."""
    symbols = sorted({s for _, missing in overdue for s in missing})
    lo = overdue[0][0]
    hi = max(lo + base_ns, grid_ns + (now_ns - grid_ns) // base_ns * base_ns)
    return symbols, lo, hi


def read_fill_answer(overdue: Overdue, answer: Mapping[str, BarArrays], received_ns: int) -> FillAnswer:
    """Sort each missing (symbol, step) of `overdue` into filled, no trades or absent by `answer`."""
    filled: list[LiveBar] = []
    no_trades: list[tuple[str, int]] = []
    absent: list[tuple[str, int]] = []
    for start, missing in overdue:
        for symbol in missing:
            bars = answer.get(symbol)
            n = 0 if bars is None else len(bars)
            if bars is None or n == 0:
                absent.append((symbol, start))
                continue
            i = int(np.searchsorted(bars.start, start))
            if i < n and int(bars.start[i]) == start:
                filled.append(LiveBar(symbol, start, float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                                      float(bars.close[i]), float(bars.volume[i]), 0, float("nan"), "bar",
                                      received_ns))
            elif int(bars.start[-1]) > start:
                no_trades.append((symbol, start))
            else:
                absent.append((symbol, start))
    return FillAnswer(tuple(filled), tuple(no_trades), tuple(absent))


def same_values(published: BarArrays, i: int, bar: LiveBar) -> bool:
    """True when row `i` of `published` holds `bar`'s OHLCV (the stream's copy of a filled bar)."""
    return (float(published.open[i]), float(published.high[i]), float(published.low[i]),
            float(published.close[i]), float(published.volume[i])) == bar.values
