"""Fault options of the local trading server and their counters (pure: instants are passed in).

Each fault is off by default. CLI flags map one to one (``python -m app.broker serve --help``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["DROP_MODES", "GHOST_MODES", "REJECT_MODES", "Faults", "RateLimiter", "SubmitCounter"]

NS: Final = 1_000_000_000
DEFAULT_RATE: Final = 200
REJECT_MODES: Final = ("async", "rest")
DROP_MODES: Final = ("abrupt", "clean", "mute")
GHOST_MODES: Final = ("drop", "stall", "504")


@dataclass(frozen=True, slots=True)
class Faults:
    """What the server does wrong, on purpose.

    Attributes
    ----------
    reject_every
        Reject every N-th accepted ``POST /v2/orders`` (1 = all).
    reject_symbols
        Reject every order for these symbols.
    reject_mode
        ``async``: POST answers 200 ``accepted``, then a ``rejected`` event; ``rest``: POST answers
        403 / 40310000 "insufficient buying power" and no order exists.
    fill_delay_s
        Apply each fill this many seconds after the bar that triggers it (the order stays ``new``).
    partial_fills
        Split each order into N executions of near-equal whole shares, one per bar.
    drop_stream_after
        After the N-th ``trade_updates`` event sent, drop every stream connection (once).
    drop_mode
        ``abrupt`` (TCP reset, close code 1006 to the client), ``clean`` (close frame 1000) or
        ``mute`` (the socket stays open and answers pings but gets no more events).
    slot_busy_s
        After a drop, answer stream upgrades with HTTP 429 for this long (Alpaca's one-slot limit).
    rate_limit
        Answer 429 with ``Retry-After`` beyond N requests per minute (``X-Ratelimit-*`` headers are
        always sent; without this fault they report Alpaca's 200/min but nothing is refused).
    ghost_submits
        1-based numbers of ``POST /v2/orders`` requests whose order is created but whose answer
        is lost (see `ghost_mode`): a client times out and retries with the same client id.
    ghost_mode
        ``drop`` (close the connection, no answer), ``stall`` (answer after `ghost_stall_s`) or
        ``504`` (answer 504 gateway timeout).
    dup_events
        Send every ``new`` and ``fill`` event twice (same ``execution_id``), as Alpaca has done.
    cancel_race
        ``DELETE /v2/orders/{id}`` answers 204 but the cancel loses the race: an
        ``order_cancel_rejected`` event follows and the order stays working (it fills on the next
        bar). ``DELETE /v2/orders`` (cancel all) is not affected.
    """

    reject_every: int | None = None
    reject_symbols: frozenset[str] = frozenset()
    reject_mode: str = "async"
    fill_delay_s: float = 0.0
    partial_fills: int = 1
    drop_stream_after: int | None = None
    drop_mode: str = "abrupt"
    slot_busy_s: float = 0.0
    rate_limit: int | None = None
    ghost_submits: frozenset[int] = frozenset()
    ghost_mode: str = "drop"
    ghost_stall_s: float = 30.0
    dup_events: bool = False
    cancel_race: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.reject_every is None or self.reject_every >= 1, "reject_every", "an integer >= 1", self.reject_every),
            (self.reject_mode in REJECT_MODES, "reject_mode", " or ".join(REJECT_MODES), self.reject_mode),
            (self.fill_delay_s >= 0, "fill_delay_s", "seconds >= 0", self.fill_delay_s),
            (self.partial_fills >= 1, "partial_fills", "an integer >= 1", self.partial_fills),
            (self.drop_stream_after is None or self.drop_stream_after >= 0, "drop_stream_after", "an integer >= 0",
             self.drop_stream_after),
            (self.drop_mode in DROP_MODES, "drop_mode", " or ".join(DROP_MODES), self.drop_mode),
            (self.slot_busy_s >= 0, "slot_busy_s", "seconds >= 0", self.slot_busy_s),
            (self.rate_limit is None or self.rate_limit >= 1, "rate_limit", "requests/min >= 1", self.rate_limit),
            (all(n >= 1 for n in self.ghost_submits), "ghost_submits", "1-based numbers", sorted(self.ghost_submits)),
            (self.ghost_mode in GHOST_MODES, "ghost_mode", " or ".join(GHOST_MODES), self.ghost_mode),
            (self.ghost_stall_s >= 0, "ghost_stall_s", "seconds >= 0", self.ghost_stall_s),
        ]
        for ok, name, expected, value in checks:
            if not ok:
                raise ValueError(f"faults.{name}: expected {expected}, received {value!r}")


@dataclass(slots=True)
class RateLimiter:
    """Fixed one-minute windows from the first request, like Alpaca's ``X-Ratelimit-Reset``."""

    limit: int | None
    window_start_ns: int | None = None
    count: int = 0

    def check(self, now_ns: int) -> tuple[bool, dict[str, str]]:
        """Count one request at `now_ns`; return (allowed, the ``X-Ratelimit-*`` headers to send)."""
        if self.window_start_ns is None or now_ns >= self.window_start_ns + 60 * NS:
            self.window_start_ns, self.count = now_ns, 0
        shown = self.limit if self.limit is not None else DEFAULT_RATE
        reset_ns = self.window_start_ns + 60 * NS
        reset_s = -(-reset_ns // NS)
        allowed = self.limit is None or self.count < self.limit
        if allowed:
            self.count += 1
        headers = {"X-Ratelimit-Limit": str(shown), "X-Ratelimit-Remaining": str(max(0, shown - self.count)),
                   "X-Ratelimit-Reset": str(reset_s)}
        if not allowed:
            headers["X-Ratelimit-Remaining"] = "0"
            headers["Retry-After"] = str(max(1, -(-(reset_ns - now_ns) // NS)))
        return allowed, headers


@dataclass(slots=True)
class SubmitCounter:
    """Numbers the ``POST /v2/orders`` requests and the accepted orders, for the per-request faults."""

    faults: Faults
    posts: int = 0
    accepted: int = 0
    dropped_stream: bool = False
    events_sent: int = 0
    ghosts: list[int] = field(default_factory=list)

    def next_post(self) -> int:
        self.posts += 1
        return self.posts

    def is_ghost(self, post_number: int) -> bool:
        return post_number in self.faults.ghost_submits

    def reject_mode(self, symbol: str) -> str | None:
        """Count one order about to be accepted; return the reject mode if the faults reject it."""
        self.accepted += 1
        every = self.faults.reject_every
        if symbol in self.faults.reject_symbols or (every is not None and self.accepted % every == 0):
            return self.faults.reject_mode
        return None
