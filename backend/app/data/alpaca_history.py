"""Alpaca historical bars download client: ``GET /v2/stocks/bars`` for one symbol, every page, with bounded retries.

Unlike the live backfill client (`app.feeds.alpaca_rest.AlpacaRest`, which it shares the headers and
the error text with), this one hands back the raw bar objects, so every row can go through the
import checks and a bad one be kept verbatim in ``.rejected.csv``; it honours ``Retry-After`` on
429 and counts 429s and 5xx apart.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from app.errors import FeedError
from app.feeds.alpaca_rest import auth_headers, error_text

__all__ = ["ALPACA_DATA_URL", "HistoryClient", "RetryPolicy"]

log = logging.getLogger(__name__)

ALPACA_DATA_URL: Final = "https://data.alpaca.markets"
MAX_LIMIT: Final = 10_000
_SERVER_ERRORS: Final = range(500, 600)
_HINT_403: Final = "; check the API key and secret (--key-env, --secret-env) and that the plan includes this feed"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often a request is retried.

    Parameters
    ----------
    server_retries : int
        Retries after a 5xx answer or a network failure, in a row, before giving up.
    rate_limit_retries : int
        Retries after a 429 answer, in a row, before giving up.
    backoff_s : float
        First wait without a usable ``Retry-After``; doubles on each retry in a row.
    max_wait_s : float
        Cap of any one wait, ``Retry-After`` included.
    """

    server_retries: int = 5
    rate_limit_retries: int = 10
    backoff_s: float = 1.0
    max_wait_s: float = 60.0


@dataclass(slots=True)
class RequestStats:
    """What the client did: requests sent, pages received, 429 and 5xx answers, seconds waited."""

    requests: int = 0
    pages: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    waits_s: list[float] = field(default_factory=list)


class HistoryClient:
    """Download bars from ``{rest_url}/v2/stocks/bars`` with the key pair in the headers.

    The credentials only ever go into request headers: never into a URL, a message or the log.

    Warnings
    --------
    Not thread-safe; one download at a time.
    """

    def __init__(
        self,
        rest_url: str,
        key: str,
        secret: str,
        *,
        feed: str,
        adjustment: str,
        limit: int = MAX_LIMIT,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"expected a page limit between 1 and {MAX_LIMIT}, received {limit}")
        self.endpoint = rest_url.rstrip("/") + "/v2/stocks/bars"
        self._headers = auth_headers(key, secret)
        self._feed = feed
        self._adjustment = adjustment
        self._limit = limit
        self._policy = policy or RetryPolicy()
        self._timeout_s = timeout_s
        self._sleep = sleep
        self.stats = RequestStats()

    def bars(self, symbol: str, timeframe: str, start: str, end: str) -> list[Any]:
        """Return the raw bar objects of `symbol` from `start` to `end` (RFC-3339, both inclusive), in page order.

        Raises
        ------
        FeedError
            If the server refuses the request (4xx other than 429: fatal), answers 429 or 5xx
            (or cannot be reached) more often in a row than the policy allows, repeats a page
            token, or answers something other than Alpaca's page object.
        """
        params = {
            "symbols": symbol, "timeframe": timeframe, "start": start, "end": end, "limit": str(self._limit),
            "feed": self._feed, "adjustment": self._adjustment, "sort": "asc",
        }
        out: list[Any] = []
        seen: set[str] = set()
        while True:
            page = self._get(params)
            bars = page.get("bars")
            if bars is None:
                bars = {}
            if not isinstance(bars, dict):
                raise FeedError(f"REST {self.endpoint}: expected 'bars' to be an object, received {bars!r:.200}")
            items = bars.get(symbol, [])
            out.extend(items if isinstance(items, list) else [items])
            token = page.get("next_page_token")
            if not token:
                return out
            if not isinstance(token, str) or token in seen:
                raise FeedError(f"REST {self.endpoint}: repeated or invalid next_page_token {token!r:.100}")
            seen.add(token)
            params["page_token"] = token

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.endpoint}?{urllib.parse.urlencode(params)}"
        policy = self._policy
        limited = failed = 0
        while True:
            self.stats.requests += 1
            try:
                request = urllib.request.Request(url, headers=self._headers)
                with urllib.request.urlopen(request, timeout=self._timeout_s) as resp:
                    body = json.loads(resp.read())
            except urllib.error.HTTPError as e:
                detail = error_text(e)
                if e.code == 429:
                    self.stats.rate_limited += 1
                    limited += 1
                    if limited > policy.rate_limit_retries:
                        raise FeedError(
                            f"REST {self.endpoint} answered HTTP 429 (rate limited) {limited} times in a row: {detail}",
                            code=429, fatal=False,
                        ) from None
                    wait = _retry_after_s(e.headers.get("Retry-After"))
                    self._wait(wait if wait is not None else policy.backoff_s * 2 ** (limited - 1), "429")
                    continue
                if e.code in _SERVER_ERRORS:
                    self.stats.server_errors += 1
                    failed += 1
                    if failed > policy.server_retries:
                        raise FeedError(
                            f"REST {self.endpoint} answered HTTP {e.code} {failed} times in a row: {detail}",
                            code=e.code, fatal=False,
                        ) from None
                    self._wait(policy.backoff_s * 2 ** (failed - 1), f"HTTP {e.code}")
                    continue
                hint = _HINT_403 if e.code in (401, 403) else ""
                raise FeedError(f"REST {self.endpoint} answered HTTP {e.code}: {detail}{hint}", code=e.code) from None
            except (OSError, ValueError) as e:  # refused, reset, timeout, a body that is not JSON
                failed += 1
                if failed > policy.server_retries:
                    raise FeedError(
                        f"REST {self.endpoint} failed {failed} times in a row: {type(e).__name__}: {e}", fatal=False
                    ) from None
                self._wait(policy.backoff_s * 2 ** (failed - 1), type(e).__name__)
                continue
            if not isinstance(body, dict):
                raise FeedError(f"REST {self.endpoint}: expected a JSON object, received {body!r:.200}")
            self.stats.pages += 1
            return body

    def _wait(self, seconds: float, why: str) -> None:
        wait = min(max(seconds, 0.0), self._policy.max_wait_s)
        self.stats.waits_s.append(wait)
        log.warning("REST %s; waiting %.3g s before retrying", why, wait)
        self._sleep(wait)


def _retry_after_s(value: str | None) -> float | None:
    # Alpaca sends delta-seconds; an HTTP date (or garbage) falls back to the backoff.
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
