"""The local server's ``GET /v2/stocks/bars``: Alpaca's multi-symbol bars endpoint over a Replay.

Pure: takes the query string, the two key headers and the instant, returns (HTTP status, JSON body).
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import TYPE_CHECKING, Any, Final, Protocol

from app.feeds.live import format_rfc3339, parse_rfc3339_ns

if TYPE_CHECKING:
    from app.feed.replay import ReplayBar
    from app.store.bar import Interval

__all__ = ["BARS_PATH", "BarSource", "answer_bars"]


class BarSource(Protocol):
    """What the endpoint serves from: a Replay (restamped, closed bars) or an Archive (stored times)."""

    @property
    def interval(self) -> Interval: ...

    def rest_bars(self, symbol: str, start_ns: int, end_ns: int, now_ns: int) -> list[ReplayBar]: ...

BARS_PATH: Final = "/v2/stocks/bars"
DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 10_000
_TIMEFRAMES: Final = {"1s": ("1Sec", "1S"), "1m": ("1Min", "1T"), "1d": ("1Day", "1D")}


def _bar_json(bar: ReplayBar) -> dict[str, Any]:
    volume: float | int = int(bar.volume) if float(bar.volume).is_integer() else bar.volume
    vwap = round((bar.high + bar.low + bar.close) / 3.0, 6)
    return {"t": format_rfc3339(bar.start_ns), "o": bar.open, "h": bar.high, "l": bar.low,
            "c": bar.close, "v": volume, "n": 1, "vw": vwap}


def _encode_token(symbol: str, start_ns: int) -> str:
    return base64.b64encode(f"{symbol}|{start_ns}".encode()).decode()


def _decode_token(token: str) -> tuple[str, int]:
    try:
        symbol, _, start = base64.b64decode(token.encode(), validate=True).decode().partition("|")
        return symbol, int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"invalid page_token {token!r}") from None


def _parse_query(query: str, replay: BarSource, now_ns: int) -> dict[str, Any]:
    params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
    symbols = sorted({s.strip() for s in params.get("symbols", "").split(",") if s.strip()})
    if not symbols:
        raise ValueError("missing symbols")
    timeframe = params.get("timeframe", "")
    if timeframe not in _TIMEFRAMES.get(replay.interval.label, ()):
        raise ValueError(
            f"timeframe {timeframe!r} is not served (this server streams {replay.interval.label} bars: "
            f"timeframe={_TIMEFRAMES[replay.interval.label][0]})"
        )
    if params.get("sort", "asc") != "asc":
        raise ValueError("sort: only asc is supported by the local feed server")
    limit = int(params.get("limit") or DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    start = parse_rfc3339_ns(params["start"]) if params.get("start") else 0
    end = parse_rfc3339_ns(params["end"]) if params.get("end") else now_ns
    token = _decode_token(params["page_token"]) if params.get("page_token") else None
    return {"symbols": symbols, "limit": limit, "start": start, "end": end, "token": token}


def answer_bars(
    query: str, key: str | None, secret: str | None, replay: BarSource, now_ns: int, *,
    credentials: tuple[str, str] | None,
) -> tuple[int, dict[str, Any]]:
    """Return (status, body) for ``GET /v2/stocks/bars?{query}`` at `now_ns`.

    Serves every closed bar (stream drops included), sorted by symbol then start, `limit` per
    page with an opaque base64 ``next_page_token``. `credentials` None means every key is refused.
    Answers 403 for wrong keys and 422 for bad parameters, with ``{"message": ...}``.
    """
    if credentials is None or (key, secret) != credentials:
        return 403, {"message": "forbidden"}
    try:
        q = _parse_query(query, replay, now_ns)
    except (ValueError, KeyError) as e:
        return 422, {"message": f"invalid parameter: {e}"}
    bars: dict[str, list[dict[str, Any]]] = {}
    remaining = q["limit"]
    token = q["token"]
    for symbol in q["symbols"]:
        if token is not None and symbol < token[0]:
            continue
        start = max(q["start"], token[1]) if token is not None and symbol == token[0] else q["start"]
        rows = replay.rest_bars(symbol, start, q["end"], now_ns)
        if not rows:
            continue
        if len(rows) > remaining:
            if remaining:
                bars[symbol] = [_bar_json(b) for b in rows[:remaining]]
            return 200, {"bars": bars, "next_page_token": _encode_token(symbol, rows[remaining].start_ns)}
        bars[symbol] = [_bar_json(b) for b in rows]
        remaining -= len(rows)
    return 200, {"bars": bars, "next_page_token": None}

