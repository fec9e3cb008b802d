"""The daily-loss kill switch (pure): trips once a session's equity falls too far below its first reading."""

from __future__ import annotations

__all__ = ["KillSwitch"]


class KillSwitch:
    """``trading.max_daily_loss``: the first equity reading of a session is its start; a reading more
    than `max_loss` below it trips the switch, once, until `new_session`.

    Warnings
    --------
    Not thread-safe: owned by the broker adapter (the AnalysisEngine thread).
    """

    def __init__(self, max_loss: float | None) -> None:
        self.max_loss = max_loss
        self.start: float | None = None
        self.reason: str | None = None  # set while tripped: why orders are refused

    def check(self, equity: float) -> str | None:
        """Take one equity reading; return the reason when the switch trips on it, else None."""
        if self.max_loss is None or self.reason is not None:
            return None
        if self.start is None:
            self.start = equity
            return None
        loss = self.start - equity
        if loss <= self.max_loss:
            return None
        self.reason = (f"kill switch: equity {equity:,.2f} is {loss:,.2f} below the session's start "
                       f"{self.start:,.2f} (trading.max_daily_loss {self.max_loss:,.2f}); no new orders "
                       "this session")
        return self.reason

    def new_session(self) -> None:
        """Re-arm for the next session (its start is its first reading)."""
        self.start, self.reason = None, None
