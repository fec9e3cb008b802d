"""Live feed contract: the LiveFeed protocol, its value types, and pure dedupe/backoff/time logic.

Nothing here opens a socket or reads a clock: adapters (``alpaca.py``) inject both, so the
reconnect schedule, the dedupe rule and the RFC-3339 arithmetic are unit-tested without I/O.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast

from app.store.bar import NS_PER_SECOND

if TYPE_CHECKING:
    from app.store.bar import BarArrays, Interval

__all__ = [
    "Backoff",
    "BarDeduper",
    "BarKind",
    "FeedStats",
    "LiveBar",
    "LiveFeed",
    "format_rfc3339",
    "parse_rfc3339_ns",
]

BarKind = Literal["bar", "updated", "daily"]

_RFC3339_RE: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:\d{2}))?$"
)


@dataclass(frozen=True, slots=True, init=False)
class LiveBar:
    """One bar as a live feed delivers it.

    Parameters
    ----------
    symbol : str
        Ticker, as subscribed.
    start_ns : int
        Interval start, int64 ns UTC (Alpaca's ``t``).
    open, high, low, close, volume : float
        OHLCV.
    trade_count : int
        Alpaca's ``n`` (0 when the source does not say).
    vwap : float
        Alpaca's ``vw`` (NaN when the source does not say).
    kind : {"bar", "updated", "daily"}
        ``"bar"`` for a first delivery, ``"updated"`` when it replaces a bar delivered before
        under the same ``(symbol, start_ns)`` (a correction), ``"daily"`` for a daily bar.
    received_ns : int
        Wall-clock instant the adapter received it, ns UTC.
    origin : {"stream", "backfill"}
        How the adapter got it: from the socket, or from its REST backfill after a (re)connect
        (recorded, never compared: not part of the bar's identity or values).
    """

    symbol: str
    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: int
    vwap: float
    kind: BarKind
    received_ns: int
    origin: str = field(default="stream", compare=False)

    def __init__(self, symbol: str, start_ns: int, open: float, high: float, low: float,
                 close: float, volume: float, trade_count: int, vwap: float, kind: BarKind,
                 received_ns: int, origin: str = "stream") -> None:
        # The generated frozen __init__ goes through object.__setattr__ per field (~2.5 us a
        # bar, a quarter of a live bar's cost); the slots' own setters do the same in ~1 us.
        _symbol(self, symbol)
        _start(self, start_ns)
        _open(self, open)
        _high(self, high)
        _low(self, low)
        _close(self, close)
        _volume(self, volume)
        _count(self, trade_count)
        _vwap(self, vwap)
        _kind(self, kind)
        _received(self, received_ns)
        _origin(self, origin)

    @property
    def key(self) -> tuple[str, int]:
        """Identity of the bar within one interval: ``(symbol, start_ns)``."""
        return (self.symbol, self.start_ns)

    @property
    def values(self) -> tuple[float, float, float, float, float]:
        """The OHLCV values compared by the deduper."""
        return (self.open, self.high, self.low, self.close, self.volume)


def _slot_setter(name: str) -> Callable[[LiveBar, Any], None]:
    return cast(Callable[[LiveBar, Any], None], LiveBar.__dict__[name].__set__)


_symbol, _start, _open, _high, _low, _close = (_slot_setter(name) for name in (
    "symbol", "start_ns", "open", "high", "low", "close"))
_volume, _count, _vwap, _kind, _received, _origin = (_slot_setter(name) for name in (
    "volume", "trade_count", "vwap", "kind", "received_ns", "origin"))


@dataclass(slots=True)
class FeedStats:
    """Counters a live feed keeps for the run report (written by the feed's owning thread only).

    ``bars`` counts first deliveries, ``updated_bars`` corrections delivered (a bar that replaced
    an earlier one), ``duplicates_dropped`` bars seen again with the same values (stream replays,
    REST overlap after a reconnect), ``backfilled_bars`` bars first delivered from REST gap fill.
    ``errors`` counts provider error frames by code.
    """

    messages: int = 0
    bars: int = 0
    updated_bars: int = 0
    duplicates_dropped: int = 0
    malformed: int = 0
    unexpected: int = 0
    reconnects: int = 0
    backfilled_bars: int = 0
    errors: dict[int, int] = field(default_factory=dict)

    def count_error(self, code: int) -> None:
        """Add one provider error frame with `code`."""
        self.errors[code] = self.errors.get(code, 0) + 1


class LiveFeed(Protocol):
    """A real-time bar source for one run (one interval, a fixed symbol list).

    Warnings
    --------
    Not thread-safe: one thread (the coordinator) calls every method.
    """

    stats: FeedStats

    def connect(self, backfill_from_ns: int | None = None) -> None:
        """Connect, authenticate and subscribe; raise ``FeedError`` (fatal) on a refusal.

        With `backfill_from_ns`, bars closed since then are backfilled from REST by `poll`."""
        ...

    def poll(self, timeout_s: float) -> list[LiveBar]:
        """Return bars received within `timeout_s` (maybe none); reconnect and backfill inside."""
        ...

    def fetch_bars(
        self, symbols: list[str], interval: Interval, start_ns: int, end_ns: int
    ) -> dict[str, BarArrays]:
        """Return the stored bars with ``start_ns <= start < end_ns`` per symbol (REST)."""
        ...

    def close(self) -> None:
        """Close the connection; idempotent."""
        ...

    @property
    def in_sync(self) -> bool:
        """True while connected with no backfill outstanding (bars still missing may just be absent)."""
        ...

    def forget_before(self, start_ns: int) -> None:
        """Drop dedupe memory of bars starting before `start_ns` (bounded memory over long runs)."""
        ...


class BarDeduper:
    """Decide what each incoming bar is: new, a correction, or a duplicate.

    A bar is identified by ``(symbol, start_ns)`` within one interval. The first ``"bar"``
    (or ``"daily"``) for a key is kept. A later one with the same values is a duplicate and is
    dropped; a later ``"bar"`` with different values is also dropped (first wins), unless it is
    offered with ``final=True`` (REST, which is authoritative) or has kind ``"updated"``: then it
    replaces the kept one, is returned with kind ``"updated"`` and counted as a correction. A
    daily bar restated with new values is a correction too (partial daily bars grow).
    """

    def __init__(self) -> None:
        # Per start, per symbol: the OHLCV kept (a frame's block goes in as one dict).
        self._seen: dict[int, dict[str, tuple[float, float, float, float, float]]] = {}
        self.corrections = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return sum(map(len, self._seen.values()))

    def has(self, symbol: str, start_ns: int) -> bool:
        """Return True when a bar for ``(symbol, start_ns)`` was accepted already."""
        row = self._seen.get(start_ns)
        return row is not None and symbol in row

    def _keep(self, bar: LiveBar) -> None:
        row = self._seen.get(bar.start_ns)
        if row is None:
            self._seen[bar.start_ns] = {bar.symbol: bar.values}
        else:
            row[bar.symbol] = bar.values

    def accept(self, bar: LiveBar, *, final: bool = False) -> LiveBar | None:
        """Return the bar to deliver (kind adjusted), or None when it must be dropped."""
        row = self._seen.get(bar.start_ns)
        previous = None if row is None else row.get(bar.symbol)
        if previous is None:
            self._keep(bar)
            if bar.kind == "updated":  # a restatement of a bar we never saw: it is the bar
                return _with_kind(bar, "bar")
            return bar
        if previous == bar.values:
            self.duplicates += 1
            return None
        if bar.kind == "bar" and not final:
            self.duplicates += 1
            return None
        self._keep(bar)
        self.corrections += 1
        return bar if bar.kind != "bar" else _with_kind(bar, "updated")

    def offer(self, bar: LiveBar, *, final: bool = False) -> tuple[LiveBar | None, bool]:
        """Return `accept`'s answer and whether `has` was True before it (one look-up when new)."""
        known = self.has(bar.symbol, bar.start_ns)
        if bar.kind != "updated" and not known:
            self._keep(bar)
            return bar, False
        return self.accept(bar, final=final), known

    def offer_block(self, symbols: Sequence[str], start_ns: int, values: Sequence[Sequence[float]]) -> bool:
        """Accept first deliveries ``(symbols[j], start_ns)`` with OHLCV ``values[.][j]`` at once,
        as `offer` accepts each new one; return False (nothing accepted) when any key was seen:
        then offer them one by one."""
        row = self._seen.get(start_ns)
        if row is not None and not row.keys().isdisjoint(symbols):
            return False
        kept = zip(symbols, zip(*values, strict=True), strict=True)
        if row is None:
            self._seen[start_ns] = dict(kept)
        else:
            row.update(kept)
        return True

    def forget_before(self, start_ns: int) -> None:
        """Drop keys older than `start_ns` (bounded memory over long runs)."""
        self._seen = {start: row for start, row in self._seen.items() if start >= start_ns}


def _with_kind(bar: LiveBar, kind: BarKind) -> LiveBar:
    return LiveBar(
        bar.symbol, bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume,
        bar.trade_count, bar.vwap, kind, bar.received_ns,
    )


class Backoff:
    """Exponential reconnect delays with deterministic jitter.

    Attempt ``k`` (0-based since the last `reset`) waits ``min(max_s, initial_s * 2**k)``
    scaled by a factor drawn uniformly from ``[1 - jitter, 1]`` (a seeded ``random.Random``, so a
    run's schedule is reproducible). `floor_s` lets a caller impose a longer wait (e.g. 60 s after
    ``406 connection limit exceeded``).
    """

    def __init__(self, initial_s: float, max_s: float, *, jitter: float = 0.5, seed: int = 0) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(
                f"expected 0 < reconnect_initial_s <= reconnect_max_s, received {initial_s!r} and {max_s!r}"
            )
        if not 0 <= jitter < 1:
            raise ValueError(f"expected a jitter in [0, 1), received {jitter!r}")
        self.initial_s = initial_s
        self.max_s = max_s
        self._jitter = jitter
        self._rng = random.Random(seed)
        self.attempts = 0

    def next_delay_s(self, floor_s: float = 0.0) -> float:
        """Return the wait before the next attempt and count the attempt."""
        base = min(self.max_s, self.initial_s * (2.0 ** min(self.attempts, 62)))
        self.attempts += 1
        delay = base * (1.0 - self._jitter * self._rng.random())
        return max(delay, floor_s)

    def reset(self) -> None:
        """Start over from `initial_s` (after a connection that got as far as subscribing)."""
        self.attempts = 0


def parse_rfc3339_ns(text: str) -> int:
    """Return int ns UTC for an RFC-3339 timestamp or a plain ``YYYY-MM-DD`` date, exactly.

    Fractions keep all nine digits (``datetime.fromisoformat`` would truncate to microseconds).

    Raises
    ------
    ValueError
        If `text` is not RFC-3339 (with a ``Z`` or ``±hh:mm`` offset) or a date.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC-3339 timestamp like '2024-03-01T14:31:00Z', received {text!r}")
    return _parse_rfc3339_ns(text)


@functools.lru_cache(maxsize=1024)
def _parse_rfc3339_ns(text: str) -> int:
    # Cached: a live step's bars for every symbol carry the same stamp (one parse per step).
    match = _RFC3339_RE.match(text)
    if match is None:
        raise ValueError(f"expected an RFC-3339 timestamp like '2024-03-01T14:31:00Z', received {text!r}")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    if hour is not None and offset is None:
        raise ValueError(f"expected an RFC-3339 timestamp with a zone, received {text!r}")
    try:
        whole = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise ValueError(
            f"expected an RFC-3339 timestamp with a valid date and time, received {text!r} ({e})"
        ) from None
    seconds = int(whole.timestamp())
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    nanos = int((frac or "0").ljust(9, "0"))
    return seconds * NS_PER_SECOND + nanos


def format_rfc3339(instant_ns: int) -> str:
    """Return ``instant_ns`` as RFC-3339 UTC: whole seconds as ``...:00Z``, else with 9 digits."""
    seconds, nanos = divmod(int(instant_ns), NS_PER_SECOND)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}Z" if nanos == 0 else f"{text}.{nanos:09d}Z"
