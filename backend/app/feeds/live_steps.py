"""Live step assembly: bars that arrive in any order become time steps, in order (pure).

A live step is the base interval ``[s, s + base)`` on the session's grid. Its bars are held
until the step may close: never before the wall clock reaches ``s + base`` (no bar is shown
before it is over), then as soon as every symbol's bar is there, or once ``grace`` has passed
since the end (a symbol without trades sends no bar). While the feed is out of sync
(disconnected, or its REST backfill is pending) incomplete steps are *held*, so bars the
backfill brings still arrive in order. Nothing here reads a clock or touches a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import cast

from app.bars.checks import RejectReason
from app.feeds.live import LiveBar
from app.feeds.live_block import BarBlock

__all__ = ["Arrival", "ClosedStep", "StepAssembler", "bar_reject_reason"]

_INF = math.inf


def _all_valid(values: Sequence[Sequence[float]]) -> bool:
    """True when every bar of the OHLCV columns `values` passes `bar_reject_reason` (its
    common-case test; NaN fails every comparison). Python floats, no numpy: see `BarBlock`."""
    return all(0.0 < lo <= o <= h < _INF and lo <= c <= h and 0.0 <= v < _INF
               for o, h, lo, c, v in zip(*values, strict=True))


class Arrival(Enum):
    """What `StepAssembler.add` did with a bar."""

    PENDING = "pending"  # held for its step
    REPLACED = "replaced"  # a correction of a held bar: the held bar is replaced
    LATE = "late"  # its step was already published (or is before the stream start)
    OFF_GRID = "off_grid"  # start not on the session's grid of base bars
    OUTSIDE = "outside"  # ends after the stream end (after the close)
    FUTURE = "future"  # starts after the current interval: a clock or feed error
    REJECTED = "rejected"  # failed a value check (see `bar_reject_reason`)
    UNKNOWN_SYMBOL = "unknown_symbol"


@dataclass(frozen=True, slots=True)
class ClosedStep:
    """A step ready to publish: its start and each symbol's bar (None when it has none).

    A symbol whose bar came in a `BarBlock` (`StepAssembler.add_block`) has that block as its
    entry; `blocks` lists each such block with the symbols' positions it fills (a later
    `LiveBar` entry for one of them replaced its bar there). `bar` gives any entry as a
    `LiveBar`.
    """

    start_ns: int
    bars: tuple[LiveBar | BarBlock | None, ...]
    blocks: tuple[tuple[list[int], BarBlock], ...] = ()

    def bar(self, slot: int) -> LiveBar | None:
        """Return the bar of the symbol at `slot` as a `LiveBar` (None when it has none)."""
        entry = self.bars[slot]
        if not isinstance(entry, BarBlock):
            return entry
        for slots, block in self.blocks:
            if block is entry:
                return block.bars()[slots.index(slot)]
        raise LookupError(f"step {self.start_ns}: slot {slot} names a block it does not hold")


def bar_reject_reason(bar: LiveBar) -> RejectReason | None:
    """Return why `bar` fails the single-bar checks of `app.bars.checks.check_bars`, or None.

    Same rules and order as `check_bars` (NAN, NON_POSITIVE_PRICE, HIGH_BELOW_LOW,
    OPEN_CLOSE_OUTSIDE_RANGE, NEGATIVE_VOLUME), on scalars: the live path checks one bar at a time.
    """
    o, h, lo, c, v = bar.open, bar.high, bar.low, bar.close, bar.volume
    if 0.0 < lo <= o <= h < _INF and lo <= c <= h and 0.0 <= v < _INF:
        return None  # the common case in one test (NaN fails every comparison)
    if not all(math.isfinite(x) for x in (o, h, lo, c, v)):
        return RejectReason.NAN
    if o <= 0 or h <= 0 or lo <= 0 or c <= 0:
        return RejectReason.NON_POSITIVE_PRICE
    if h < lo:
        return RejectReason.HIGH_BELOW_LOW
    if o < lo or o > h or c < lo or c > h:
        return RejectReason.OPEN_CLOSE_OUTSIDE_RANGE
    if v < 0:
        return RejectReason.NEGATIVE_VOLUME
    return None


class StepAssembler:
    """Orders live bars into steps on the grid ``grid_ns + k * base_ns`` within ``[first, end)``.

    Parameters
    ----------
    symbols : sequence of str
        The run's symbols; a step's bars are in this order.
    base_ns : int
        Base interval.
    grid_ns : int
        Any start on the session's grid (the session open).
    first_start_ns : int
        Start of the first step streamed (on the grid); earlier bars are late.
    end_ns : int
        The stream ends here: a bar ending after it is outside.
    grace_ns : int
        How long after its end an incomplete step waits for missing bars.

    Warnings
    --------
    One thread (the coordinator) calls every method.
    """

    def __init__(self, symbols: Sequence[str], base_ns: int, grid_ns: int, first_start_ns: int, end_ns: int,
                 grace_ns: int) -> None:
        if base_ns <= 0 or grace_ns < 0:
            raise ValueError(f"expected base_ns > 0 and grace_ns >= 0, received {base_ns} and {grace_ns}")
        if (first_start_ns - grid_ns) % base_ns:
            raise ValueError(f"expected first_start_ns on the grid, received {first_start_ns}")
        self.symbols = tuple(symbols)
        self._slot = {s: i for i, s in enumerate(self.symbols)}
        self._in_order = list(range(len(self.symbols)))  # a block's slots in our order (never changed)
        self.base_ns, self.grid_ns, self.end_ns, self.grace_ns = base_ns, grid_ns, end_ns, grace_ns
        self.next_start_ns = first_start_ns  # the first step not yet published
        self._pending: dict[int, list[LiveBar | BarBlock | None]] = {}
        self._blocks: dict[int, list[tuple[list[int], BarBlock]]] = {}  # per held step, its blocks
        # Fill at grace (see `overdue`): steps whose missing bars were asked of REST, held until
        # the instant given; and the symbols (slots) REST confirmed without trades in a step.
        self._hold_until: dict[int, int] = {}
        self._settled: dict[int, set[int]] = {}

    def add(self, bar: LiveBar, now_ns: int) -> Arrival:
        """File `bar` under its step; return what happened (the caller counts and records it)."""
        slot = self._slot.get(bar.symbol)
        if slot is None:
            return Arrival.UNKNOWN_SYMBOL
        start = bar.start_ns
        if (start - self.grid_ns) % self.base_ns:
            return Arrival.OFF_GRID
        if bar_reject_reason(bar) is not None:
            return Arrival.REJECTED
        if start + self.base_ns > self.end_ns:
            return Arrival.OUTSIDE
        if start < self.next_start_ns:
            return Arrival.LATE
        if start > now_ns:
            return Arrival.FUTURE
        row = self._pending.get(start)
        if row is None:
            row = self._pending[start] = [None] * len(self.symbols)
        replaced = row[slot] is not None
        row[slot] = bar
        return Arrival.REPLACED if replaced else Arrival.PENDING

    def add_block(self, block: BarBlock, now_ns: int) -> bool:
        """File every bar of `block` under its step at once when each would be `Arrival.PENDING`
        (a known symbol without a bar there yet, the step on the grid, over by `now_ns` and
        not yet published, values that pass `bar_reject_reason`); return False, filing none,
        otherwise: then `add` each of `block.bars()` (the same outcome, bar by bar)."""
        in_order = block.symbols == self.symbols  # the usual frame: every symbol, in our order
        found = self._in_order if in_order else list(map(self._slot.get, block.symbols))
        start = block.start_ns
        if (None in found or (start - self.grid_ns) % self.base_ns or start < self.next_start_ns
                or start > now_ns or start + self.base_ns > self.end_ns or not _all_valid(block.values)):
            return False
        slots = cast(list[int], found)
        row = self._pending.get(start)
        if row is None:
            row = self._pending[start] = [block] * len(self.symbols) if in_order else [None] * len(self.symbols)
        elif any(map(row.__getitem__, slots)):  # a symbol's bar is here already: a replacement
            return False
        else:
            in_order = False
        if not in_order:
            for slot in slots:
                row[slot] = block
        self._blocks.setdefault(start, []).append((slots, block))
        return True

    def _closed(self, start: int, row: list[LiveBar | BarBlock | None]) -> ClosedStep:
        blocks = self._blocks.pop(start, None)
        return ClosedStep(start, tuple(row), tuple(blocks) if blocks else ())

    def ready(self, now_ns: int, *, hold: bool = False) -> list[ClosedStep]:
        """Return the steps that may close at `now_ns`, in time order, and forget them.

        Steps without any bar are passed over, not returned. With `hold` (feed out of sync)
        only complete steps close; the first incomplete one stops the walk. A step held for a
        fill (`hold_for_fill`) waits until its hold ends or its missing bars are in.
        """
        out: list[ClosedStep] = []
        base, grace = self.base_ns, self.grace_ns
        while True:
            start = self.next_start_ns
            end = start + base
            if end > now_ns or start >= self.end_ns:
                break
            row = self._pending.get(start)
            expires = max(end + grace, self._hold_until.get(start, end + grace))
            if row is None:
                settled = len(self._settled.get(start, ())) == len(self.symbols)  # REST: nobody traded
                if not settled and (hold or expires > now_ns):
                    break
                if self._hold_until:  # steps held for a fill: pass over one step at a time
                    self.next_start_ns = end
                    continue
                # Pass over empty steps up to the next held one (or the last expired one).
                expired_to = now_ns - grace - base  # the last step start whose grace ran out
                limit = self.grid_ns + ((expired_to - self.grid_ns) // base + 1) * base
                nearest = min(self._pending) if self._pending else limit
                self.next_start_ns = max(start + base, min(nearest, limit))
                continue
            if not self._complete(start, row) and (hold or expires > now_ns):
                break
            del self._pending[start]
            out.append(self._closed(start, row))
            self.next_start_ns = end
        if self._hold_until or self._settled:
            self._forget_fills_before(self.next_start_ns)
        return out

    def _complete(self, start: int, row: list[LiveBar | BarBlock | None]) -> bool:
        settled = self._settled.get(start, ())
        return all(b is not None or i in settled for i, b in enumerate(row))

    def _forget_fills_before(self, start_ns: int) -> None:
        self._hold_until = {s: t for s, t in self._hold_until.items() if s >= start_ns}
        self._settled = {s: v for s, v in self._settled.items() if s >= start_ns}

    def overdue(self, now_ns: int, limit: int = 1000) -> list[tuple[int, tuple[str, ...]]]:
        """Return the steps whose grace ran out at `now_ns` with bars missing and not yet asked of
        REST: (start, the symbols missing), in time order, at most `limit` of them.

        Each is returned once: `hold_for_fill` marks it asked.
        """
        out: list[tuple[int, tuple[str, ...]]] = []
        start = self.next_start_ns
        while len(out) < limit and start < self.end_ns and start + self.base_ns + self.grace_ns <= now_ns:
            if start not in self._hold_until:
                row = self._pending.get(start)
                settled = self._settled.get(start, ())
                missing = tuple(s for i, s in enumerate(self.symbols)
                                if (row is None or row[i] is None) and i not in settled)
                if missing:
                    out.append((start, missing))
            start += self.base_ns
        return out

    def hold_for_fill(self, start_ns: int, until_ns: int) -> None:
        """Hold the step at `start_ns` (asked of REST) until `until_ns` unless its bars come first."""
        self._hold_until[start_ns] = until_ns

    def settle(self, start_ns: int, symbol: str) -> None:
        """REST confirmed `symbol` had no trades in the step at `start_ns`: it is not waited for."""
        self._settled.setdefault(start_ns, set()).add(self._slot[symbol])

    def next_deadline_ns(self) -> int:
        """Return the next instant `ready` may return something without a new bar arriving."""
        start = self.next_start_ns
        row = self._pending.get(start)
        if row is not None and self._complete(start, row):
            return start + self.base_ns
        expires = start + self.base_ns + self.grace_ns
        return max(expires, self._hold_until.get(start, expires))

    def drain(self, now_ns: int) -> tuple[list[ClosedStep], int]:
        """Return every held step that ended by `now_ns`, in order, and how many bars were dropped.

        For the end of the stream (nothing more will come): incomplete steps close at once; a
        held step not yet over at `now_ns` is dropped, never shown early.
        """
        out, dropped = [], 0
        for start in sorted(self._pending):
            row = self._pending[start]
            if start + self.base_ns <= now_ns:
                out.append(self._closed(start, row))
            else:
                dropped += sum(b is not None for b in row)
        self._pending.clear()
        self._blocks.clear()
        self._hold_until.clear()
        self._settled.clear()
        if out:
            self.next_start_ns = out[-1].start_ns + self.base_ns
        return out, dropped

    @property
    def held(self) -> int:
        """Steps held (bars received, step not yet published)."""
        return len(self._pending)
