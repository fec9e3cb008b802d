"""Alpaca historical bars REST client: ``GET /v2/stocks/bars``, every page, keys in headers."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from app.errors import FeedError
from app.feeds._alpaca_wire import TIMEFRAMES, parse_bar, truncate_raw
from app.feeds.live import format_rfc3339
from app.store.bar import NS_PER_SECOND, BarArrays

if TYPE_CHECKING:
    from app.feeds.live import FeedStats, LiveBar
    from app.store.bar import Interval

__all__ = ["AlpacaRest", "auth_headers", "bars_to_arrays", "error_text"]

log = logging.getLogger(__name__)

PAGE_LIMIT: Final = 10_000
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_FATAL_STATUSES: Final = frozenset({400, 401, 403, 404, 422})


class AlpacaRest:
    """Fetch bars from ``{rest_url}/v2/stocks/bars``, following ``next_page_token`` to the end.

    Alpaca's ``start`` and ``end`` are inclusive; ours are ``start <= t < end``. Bars start on
    whole seconds, so ``end`` is sent as the last whole second before our exclusive end, and
    rows outside ``[start_ns, end_ns)`` are dropped on receipt.

    Warnings
    --------
    Not thread-safe; owned by the feed that created it.
    """

    def __init__(
        self,
        rest_url: str,
        key: str,
        secret: str,
        *,
        feed: str,
        stats: FeedStats,
        clock_ns: Callable[[], int],
        sleep: Callable[[float], object],
        timeout_s: float = 10.0,
        retries: int = 3,
        retry_wait_s: float = 3.0,
    ) -> None:
        self._endpoint = rest_url.rstrip("/") + "/v2/stocks/bars"
        self._headers = auth_headers(key, secret)
        self._feed = feed
        self._stats = stats
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._retries = retries
        self._retry_wait_s = retry_wait_s
        self.pages = 0

    def fetch(self, symbols: list[str], interval: Interval, start_ns: int, end_ns: int) -> list[LiveBar]:
        """Return every bar of `symbols` with ``start_ns <= start < end_ns``, sorted by (start, symbol).

        Raises
        ------
        FeedError
            Fatal for refused keys (403), bad parameters (400/422) or an unknown timeframe;
            not fatal for network failures and exhausted retries (429/5xx).
        """
        if interval.label not in TIMEFRAMES:
            raise FeedError(f"expected a base interval of 1s, 1m or 1d, received {interval.label!r}", fatal=True)
        if end_ns <= start_ns or not symbols:
            return []
        last_second = -(-end_ns // NS_PER_SECOND) - 1  # ceil(end) - 1 s: inclusive end on whole seconds
        params = {
            "symbols": ",".join(symbols), "timeframe": TIMEFRAMES[interval.label],
            "start": format_rfc3339(start_ns), "end": format_rfc3339(last_second * NS_PER_SECOND),
            "limit": str(PAGE_LIMIT), "feed": self._feed, "sort": "asc", "adjustment": "raw",
        }
        out: list[LiveBar] = []
        seen_tokens: set[str] = set()
        while True:
            body = self._get(params)
            self._collect(body.get("bars"), start_ns, end_ns, out)
            token = body.get("next_page_token")
            if not token:
                break
            if not isinstance(token, str) or token in seen_tokens:
                raise FeedError(f"REST {self._endpoint} repeated page token {token!r}", fatal=False)
            seen_tokens.add(token)
            params["page_token"] = token
        out.sort(key=lambda b: (b.start_ns, b.symbol))
        return out

    def _collect(self, bars: Any, start_ns: int, end_ns: int, out: list[LiveBar]) -> None:
        if bars is None:
            return
        if not isinstance(bars, dict):
            raise FeedError(
                f"REST {self._endpoint}: expected 'bars' to be an object, received {bars!r:.200}", fatal=False
            )
        received = self._clock_ns()
        for symbol, items in bars.items():
            for item in items if isinstance(items, list) else [items]:
                try:
                    bar = parse_bar(item if isinstance(item, dict) else {}, received, "bar", symbol=symbol)
                except ValueError as e:
                    self._stats.malformed += 1
                    log.warning("malformed REST bar for %s (%s): %s", symbol, e, truncate_raw(json.dumps(item)))
                    continue
                if start_ns <= bar.start_ns < end_ns:
                    out.append(bar)

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self._endpoint}?{urllib.parse.urlencode(params)}"
        for attempt in range(self._retries + 1):
            try:
                request = urllib.request.Request(url, headers=self._headers)
                with urllib.request.urlopen(request, timeout=self._timeout_s) as resp:
                    body = json.loads(resp.read())
                self.pages += 1
                if not isinstance(body, dict):
                    raise FeedError(
                        f"REST {self._endpoint}: expected a JSON object, received {body!r:.200}", fatal=False
                    )
                return body
            except urllib.error.HTTPError as e:
                detail = error_text(e)
                if e.code in _FATAL_STATUSES:
                    hint = ""
                    if e.code in (401, 403):
                        hint = "; check the API key and secret (and that the plan includes this feed)"
                    raise FeedError(
                        f"REST {self._endpoint} answered HTTP {e.code}: {detail}{hint}", code=e.code, fatal=True
                    ) from None
                if e.code not in _RETRY_STATUSES or attempt == self._retries:
                    raise FeedError(
                        f"REST {self._endpoint} answered HTTP {e.code}: {detail}", code=e.code, fatal=False
                    ) from None
                log.warning("REST HTTP %d (%s); retry %d of %d", e.code, detail, attempt + 1, self._retries)
            except (OSError, ValueError) as e:
                if attempt == self._retries:
                    raise FeedError(f"REST {self._endpoint} failed: {type(e).__name__}: {e}", fatal=False) from None
                log.warning(
                    "REST request failed (%s: %s); retry %d of %d", type(e).__name__, e, attempt + 1, self._retries
                )
            if self._sleep(self._retry_wait_s) is True:  # a stop token's wait: the run is ending
                raise FeedError(f"REST {self._endpoint}: stopped while waiting to retry", fatal=False)
        raise AssertionError("unreachable")  # pragma: no cover


def auth_headers(key: str, secret: str) -> dict[str, str]:
    """Return the request headers of Alpaca's market-data REST: the key pair and JSON accepted."""
    return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret, "Accept": "application/json"}


def error_text(e: urllib.error.HTTPError) -> str:
    """Return the ``message`` of an HTTP error's JSON body (cut to 300 characters), else the body or reason."""
    try:
        raw = e.read()
        body = json.loads(raw)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])[:300]
        return truncate_raw(raw)
    except (OSError, ValueError):
        return str(e.reason)


def bars_to_arrays(bars: list[LiveBar], symbols: list[str]) -> dict[str, BarArrays]:
    """Return BarArrays per symbol (every requested symbol present), sorted by start."""
    out: dict[str, BarArrays] = {}
    for symbol in symbols:
        rows = sorted((b for b in bars if b.symbol == symbol), key=lambda b: b.start_ns)
        start = np.fromiter((b.start_ns for b in rows), dtype=np.int64, count=len(rows))
        cols = [np.fromiter((b.values[i] for b in rows), dtype=np.float64, count=len(rows)) for i in range(5)]
        out[symbol] = BarArrays(start, *cols)
    return out
