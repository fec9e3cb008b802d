"""REST fault injection of the local feed server: ``--rate-limit N/min`` (429) and ``--fail-rest N`` (500).

Pure: the caller passes the instant. Off (the defaults) it answers nothing and every request
goes through as before.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["RateLimit", "RestFaults", "parse_rate_limit"]

_RATE_RE: Final = re.compile(r"^\s*(\d+)\s*/\s*(min|s)\s*$")
_WINDOW_NS: Final = {"min": 60_000_000_000, "s": 1_000_000_000}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `calls` requests per window of `window_ns`."""

    calls: int
    window_ns: int


def parse_rate_limit(text: str) -> RateLimit:
    """Return the RateLimit of ``N/min`` or ``N/s`` (N >= 1).

    Raises
    ------
    ValueError
        If `text` is not of that form.
    """
    match = _RATE_RE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"expected N/min or N/s with N >= 1 (for example 200/min), received {text!r}")
    return RateLimit(int(match.group(1)), _WINDOW_NS[match.group(2)])


class RestFaults:
    """Decide whether a REST bars request is answered by a fault instead of the bars.

    `rate_limit`: a request beyond ``calls`` in the sliding window gets 429 with ``Retry-After``
    (whole seconds until the oldest counted request leaves the window; at least 1). Requests
    answered 429 are not counted. `fail_rest`: of the requests that pass the rate limit, those
    numbered ``fail_after + 1 .. fail_after + fail_rest`` get 500.

    Warnings
    --------
    Not thread-safe; called from the server's one asyncio loop.
    """

    def __init__(self, rate_limit: RateLimit | None = None, fail_rest: int = 0, fail_after: int = 0) -> None:
        if fail_rest < 0 or fail_after < 0:
            raise ValueError(f"expected fail_rest and fail_after >= 0, received {fail_rest}, {fail_after}")
        self._rate = rate_limit
        self._fail_rest = fail_rest
        self._fail_after = fail_after
        self._recent: collections.deque[int] = collections.deque()
        self.passed = 0
        self.limited = 0
        self.failed = 0

    def check(self, now_ns: int) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Return (status, JSON body, extra headers) of a fault answer, or None to serve the request."""
        rate = self._rate
        if rate is not None:
            while self._recent and self._recent[0] <= now_ns - rate.window_ns:
                self._recent.popleft()
            if len(self._recent) >= rate.calls:
                self.limited += 1
                wait_s = max(1, math.ceil((self._recent[0] + rate.window_ns - now_ns) / 1e9))
                return 429, {"message": "too many requests"}, {"Retry-After": str(wait_s)}
            self._recent.append(now_ns)
        number = self.passed
        self.passed += 1
        if self._fail_after <= number < self._fail_after + self._fail_rest:
            self.failed += 1
            return 500, {"message": "internal server error (fault --fail-rest)"}, {}
        return None
