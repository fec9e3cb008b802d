"""What a backtest does with a symbol that has no base bars in a session: ``data.on_missing``.

``fail`` (the default) stops the run with a `MissingDataError` naming the symbol, the session and
the file looked at (with what it holds); ``skip`` leaves the symbol out of that session (nothing
expected of it, so its quality is not scored) and ``warn`` keeps it in (every expected bar counts
as missing); both log a warning and record the case in ``SessionState.no_bars`` for the reports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from app.errors import MissingDataError
from app.store.bar import Interval
from app.store.bar_store import BarStore
from app.store.files import file_span

if TYPE_CHECKING:
    from app.feeds.base import SessionLoad
    from app.store.session_data import SessionState
    from app.timing.time_manager import TimeManager

__all__ = ["ON_MISSING", "MissingBars", "describe_file"]

log = logging.getLogger(__name__)

ON_MISSING: Final = ("fail", "skip", "warn")
"""The choices of ``data.on_missing``."""


def describe_file(store: BarStore, tm: TimeManager, symbol: str, interval: Interval) -> str:
    """Return the file that holds `symbol` at `interval` and what it holds, for a message."""
    path = store.path(symbol, interval)
    if not path.is_file():
        return f"{path} does not exist"
    span = file_span(path)
    if span is None:
        return f"looked at {path}"
    rows, first, last = span
    if not rows:
        return f"{path} has no rows"
    return (f"{path} holds {rows:,} bars from {tm.to_local(first):%Y-%m-%d} "
            f"to {tm.to_local(last):%Y-%m-%d}")


class MissingBars:
    """Apply ``data.on_missing`` to a symbol that has no base bars in a session.

    Parameters
    ----------
    policy : str, default "warn"
        One of `ON_MISSING`; `runtime.build` passes the config's (default ``fail``).
    store, tm : BarStore and TimeManager, optional
        Where the bars were looked for, to name the file and what it holds; without them the
        message names the symbol and the session only.

    Warnings
    --------
    Used by the SessionCoordinator thread only (while a session is loaded, before anyone sees it).
    """

    def __init__(self, policy: str = "warn", store: BarStore | None = None, tm: TimeManager | None = None) -> None:
        if policy not in ON_MISSING:
            raise ValueError(f"expected data.on_missing one of {', '.join(ON_MISSING)}, received {policy!r}")
        self.policy = policy
        self.store, self.tm = store, tm
        self._described: dict[tuple[str, str], str] = {}  # a file is described once per run

    def handle(self, state: SessionState, symbol: str, interval: Interval, load: SessionLoad) -> None:
        """Record (and log) that `symbol` has no bars in `state`'s session, or raise.

        Raises
        ------
        MissingDataError
            When the policy is ``fail``.
        """
        looked_at = self._describe(symbol, interval)
        rejected = sum(load.rejected.values())
        if rejected:
            looked_at += f" (all {rejected:,} rows of the session rejected: see the quality report)"
        session = state.session.isoformat()
        if self.policy == "fail":
            raise MissingDataError(symbol, interval.label, session, looked_at)
        action = "left out of the session" if self.policy == "skip" else "its bars count as missing"
        log.warning("no %s bars for %s in session %s: %s; %s (data.on_missing: %s)",
                    interval, symbol, session, looked_at, action, self.policy)
        state.no_bars[symbol] = {"policy": self.policy, "interval": interval.label, "looked_at": looked_at}

    def _describe(self, symbol: str, interval: Interval) -> str:
        key = (symbol, interval.label)
        text = self._described.get(key)
        if text is None:
            if self.store is None or self.tm is None:
                text = "the bar source has none"
            else:
                text = describe_file(self.store, self.tm, symbol, interval)
            self._described[key] = text
        return text
