"""Alpaca Market Data v2 wire format: decode stream frames and REST pages into LiveBar values."""

from __future__ import annotations

import json
import math
from itertools import chain
from operator import itemgetter
from typing import Any, Final

from app.feeds.live import BarKind, LiveBar, _parse_rfc3339_ns, parse_rfc3339_ns
from app.feeds.live_block import BarBlock

__all__ = [
    "BAR_TYPES",
    "RAW_TEXT_LIMIT",
    "TIMEFRAMES",
    "decode_frame",
    "parse_bar",
    "parse_block",
    "truncate_raw",
]

TIMEFRAMES: Final = {"1s": "1Sec", "1m": "1Min", "1d": "1Day"}
"""Our base interval label -> Alpaca ``timeframe``. ``1Sec`` is not an Alpaca timeframe: only the
local feed server (``python -m app.feed``) serves it."""

BAR_TYPES: Final[dict[str, BarKind]] = {"b": "bar", "u": "updated", "d": "daily"}
RAW_TEXT_LIMIT: Final = 500
_PRICE_KEYS: Final = ("o", "h", "l", "c")
_EXACT_INT: Final = 1 << 53  # an int volume below this converts to float exactly (and cannot overflow)
_isfinite: Final = math.isfinite


def truncate_raw(raw: str | bytes) -> str:
    """Return the raw frame as text, cut to ``RAW_TEXT_LIMIT`` characters for a log line."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    return text if len(text) <= RAW_TEXT_LIMIT else text[:RAW_TEXT_LIMIT] + "...(truncated)"


def decode_frame(raw: str | bytes) -> list[dict[str, Any]]:
    """Return the messages of one server frame (a JSON array of objects with a string ``T``).

    Raises
    ------
    ValueError
        If the frame is not JSON, not an array, or holds something other than ``T``-keyed objects.
    """
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"expected a JSON frame, received invalid JSON ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON array frame, received {type(data).__name__}")
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("T"), str):
            raise ValueError("expected every array item to be an object with a string 'T'")
    return data


def _number(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number in field {key!r}, received {value!r}")
    return float(value)


def parse_bar(obj: dict[str, Any], received_ns: int, kind: BarKind, symbol: str | None = None) -> LiveBar:
    """Return the LiveBar for one bar object (stream ``b``/``u``/``d`` or a REST bar).

    `symbol` is given for REST bars, which carry no ``S``.

    Raises
    ------
    ValueError
        If a field is missing or has the wrong type.
    """
    # The common case first, with one check for all five numbers: float prices, a float or
    # int volume, an int count, all finite. Anything else takes the field-by-field checks
    # (`_parse_checked`), which give the same bar or name the bad field.
    get = obj.get
    sym: Any = symbol if symbol is not None else get("S")
    o: Any = get("o")
    h: Any = get("h")
    low: Any = get("l")
    c: Any = get("c")
    v: Any = get("v")
    vw: Any = get("vw", 0.0)
    count: Any = get("n", 0)
    stamp: Any = get("t")
    tv = type(v)
    if (type(sym) is str and sym and type(stamp) is str and type(o) is float and type(h) is float
            and type(low) is float and type(c) is float and type(vw) is float and type(count) is int
            and (tv is float or (tv is int and -_EXACT_INT < v < _EXACT_INT))
            and _isfinite(o + h + low + c + vw + v)):
        return LiveBar(sym, _parse_rfc3339_ns(stamp), o, h, low, c, float(v), count,
                       vw if "vw" in obj else math.nan, kind, received_ns)
    return _parse_checked(obj, received_ns, kind, symbol)


def _parse_checked(obj: dict[str, Any], received_ns: int, kind: BarKind, symbol: str | None) -> LiveBar:
    sym = symbol if symbol is not None else obj.get("S")
    if not isinstance(sym, str) or not sym:
        raise ValueError(f"expected a symbol string in field 'S', received {sym!r}")
    stamp = obj.get("t")
    if not isinstance(stamp, str):
        raise ValueError(f"expected an RFC-3339 string in field 't', received {stamp!r}")
    start_ns = parse_rfc3339_ns(stamp)
    o, h, low, c = (_number(obj, key) for key in _PRICE_KEYS)
    volume = _number(obj, "v")
    count = obj.get("n", 0)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(f"expected an integer in field 'n', received {count!r}")
    vwap = _number(obj, "vw") if "vw" in obj else math.nan
    return LiveBar(sym, start_ns, o, h, low, c, volume, count, vwap, kind, received_ns)


_FLOAT: Final = {float}
_INT: Final = {int}
_NUMBER: Final = ({float}, {int}, {float, int})
# The fields of a plain bar message, in the order `parse_block` reads them (one C-level pass).
_BLOCK_FIELDS: Final = itemgetter("T", "t", "S", "o", "h", "l", "c", "vw", "v", "n")


def parse_block(msgs: list[dict[str, Any]], received_ns: int, symbols: frozenset[str] | set[str],
                known: tuple[str, ...] = ()) -> BarBlock | None:
    """Return the frame's bars as one `BarBlock` when it is the plain case, else None.

    The plain case: at least two messages, every one a ``"b"`` bar of a distinct symbol of
    `symbols` with the same RFC-3339 ``t``, float ``o``/``h``/``l``/``c``/``vw``, an int or float
    ``v``, an int ``n``, the floats finite and an int volume below 2**53 in magnitude (so it
    converts exactly). The values are those `parse_bar` gives each message; anything else (None)
    is parsed message by message, which names what is wrong. `known` is a tuple of distinct
    symbols of `symbols` (the previous block's: a provider sends them in the same order each
    time); a frame whose symbols are exactly those needs no set of them. Whole-frame operations in C
    (`itemgetter` over the messages, one transposition, type sets, one float sum), no Python
    code per message: a step's frame meets cold caches, where each bytecode costs the most.
    """
    k = len(msgs)
    if k < 2:
        return None
    try:  # a missing field, or an unhashable ``t`` or ``S`` (a list), is not the plain case
        kinds, stamps, names, o, h, lo, c, vw, v, n = zip(*map(_BLOCK_FIELDS, msgs), strict=True)
        if (kinds.count("b") != k or stamps.count(stamps[0]) != k
                or (names != known and (not symbols.issuperset(names) or len(set(names)) != k))):
            return None
    except (KeyError, TypeError):
        return None
    stamp = stamps[0]
    if type(stamp) is not str:
        return None
    v_types = set(map(type, v))
    if not (set(map(type, chain(o, h, lo, c, vw))) == _FLOAT and v_types in _NUMBER
            and set(map(type, n)) == _INT):
        return None
    try:
        start = _parse_rfc3339_ns(stamp)
    except ValueError:  # a bad stamp
        return None
    # Every float finite: their sum is (an inf or NaN makes it inf or NaN; a sum that overflows
    # only sends a plain frame the per-message way, with the same outcome).
    if int in v_types:
        if not (-_EXACT_INT < min(v) and max(v) < _EXACT_INT):  # converts exactly (cannot overflow)
            return None
        floats: Any = chain(o, h, lo, c, vw, (x for x in v if type(x) is float)) if float in v_types \
            else chain(o, h, lo, c, vw)
        volume = tuple(map(float, v))
    else:
        floats, volume = chain(o, h, lo, c, vw, v), v
    if not _isfinite(sum(floats)):
        return None
    return BarBlock(start, names, (o, h, lo, c, volume), n, vw, received_ns)
