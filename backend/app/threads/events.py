"""Events the pipeline threads hand each other through StreamSubscriptions (immutable)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.store.bar import BarArrays
from app.store.session_data import SessionState

__all__ = ["SessionEnd", "SessionStart", "StepBatch"]


@dataclass(frozen=True, slots=True)
class SessionStart:
    """A session's history is loaded and its (empty) series exist."""

    index: int
    state: SessionState


@dataclass(frozen=True, slots=True)
class StepBatch:
    """Time steps ``[lo, hi)`` of the current session are published.

    ``ends[i]`` is the clock after step ``lo + i`` (the end of its base bars);
    ``base_idx[i, s]`` is the row of symbol ``s``'s new base bar at that step, or -1;
    ``rows_after[s]`` is how many base bars symbol ``s`` has once the batch is done;
    ``derived[label][i, s]`` (set by the DataProcessor) is how many ``label`` bars of symbol
    ``s`` are visible after the step; ``due_ns`` is when the step was due (overruns are
    measured from it); ``bars`` (live one-step batches, else None) holds the step's new base
    bars as columns, row ``j`` the bar of the ``j``-th symbol with ``base_idx[0, s] >= 0``:
    the values just appended to the base series, handed over so the DataProcessor need not
    read them back symbol by symbol; ``every_row`` (live, else -1) says that every symbol's
    new bar is at that row (``base_idx`` all ``every_row``, ``rows_after`` all one more) and
    that ``bars`` holds them in the symbols' order, each starting at the step's start.
    """

    lo: int
    hi: int
    ends: np.ndarray
    base_idx: np.ndarray
    rows_after: np.ndarray
    derived: dict[str, np.ndarray] = field(default_factory=dict)
    due_ns: int = 0
    received_ns: int = 0  # live: when the step's last bar came off the socket (0 in backtests)
    bars: BarArrays | None = None
    every_row: int = -1

    def with_derived(self, derived: dict[str, np.ndarray]) -> StepBatch:
        """Return this batch with `derived` (`dataclasses.replace`, without its per-field work)."""
        return StepBatch(self.lo, self.hi, self.ends, self.base_idx, self.rows_after, derived, self.due_ns,
                         self.received_ns, self.bars, self.every_row)


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """The session is over: the clock stands at its close."""

    index: int
    state: SessionState
