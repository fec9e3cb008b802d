"""`to_json`: the output files' JSON (sorted keys, indent 2, floats rounded to 6 decimals), fast.

``json.dumps`` with an indent runs its pure-Python encoder, several times slower than the C one
on a year of session records. So the document is encoded compact by the C encoder and then
indented in numpy: a newline and indent after each ``{``, ``[`` and ``,`` and before each
``}`` and ``]`` outside strings (empty containers stay ``{}`` and ``[]``), a space after each
``:``. The text is byte-identical to ``json.dumps(obj, sort_keys=True, indent=2)`` (tested).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["indent_compact_json", "round6", "to_compact_json", "to_json"]


def to_json(obj: Any) -> str:
    """Return `obj` as JSON: sorted keys, floats rounded to 6 decimals, indent 2.

    The same as ``indent_compact_json(to_compact_json(obj))``; see `to_compact_json` for the rules.
    """
    return indent_compact_json(to_compact_json(obj))


def to_compact_json(obj: Any) -> str:
    """Return `obj` as one line of JSON: sorted keys, floats rounded to 6 decimals, no spaces.

    numpy scalars and arrays become Python numbers and lists, tuples become lists, ``-0.0``
    becomes ``0.0``.

    Raises
    ------
    ValueError
        If a float is NaN or infinite (the message names its key path), or a key is not a str.
    """
    pending: _Pending = []
    try:
        plain = _normalise(obj, pending)
    except _PathError as e:
        raise ValueError(f"${''.join(reversed(e.path))}: {e.message}") from None
    if pending:  # every float of the document, rounded at once
        rounded = _round6(np.array(pending[2::3], dtype=np.float64))
        for container, key, value in zip(pending[0::3], pending[1::3], rounded, strict=True):
            container[key] = value
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=False)


_Pending = list[Any]  # container, key or index, float to round into it; flat: no tuple outlives


class _PathError(Exception):
    """A value that JSON output refuses; the path is collected on the way out of the recursion."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _round6(x: np.ndarray) -> list[float]:
    """Return ``round(v, 6) + 0.0`` of each finite value, vectorised.

    Away from a rounding tie, numpy's rint of ``v * 1e6`` is the integer Python's round
    chooses, and dividing it by 1e6 is exactly rounded like Python's string round trip; the
    values too close to a tie to be sure of, or too large, are rounded by Python.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: rounded by Python
        scaled = x * 1e6
        whole = np.rint(scaled)
        size = np.abs(scaled)
        out = whole / 1e6 + 0.0  # + 0.0 turns -0.0 into 0.0
        near_tie = np.abs(np.abs(scaled - whole) - 0.5) <= size * 2.0**-50
    unsure = np.flatnonzero(~(size < 2.0**52) | near_tie)
    for i in unsure.tolist():
        out[i] = round(float(x[i]), 6) + 0.0
    rounded: list[float] = out.tolist()
    return rounded


round6 = _round6
"""``round(v, 6) + 0.0`` of each finite value of an array, as a list (the documents' rounding)."""


def _refuse(value: float) -> None:
    if value - value != 0.0:  # NaN or infinite (inf - inf is NaN)
        raise _PathError(f"expected a finite number, received {value!r}")


def _normalise(obj: Any, pending: _Pending) -> Any:
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is float or isinstance(obj, (float, np.floating)):
        value = float(obj)
        _refuse(value)
        return _round6(np.array([value]))[0]
    if isinstance(obj, Mapping):
        return _mapping(obj, pending)
    if isinstance(obj, (list, tuple, np.ndarray)):
        return _items(obj.tolist() if isinstance(obj, np.ndarray) else obj, pending)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    return obj


def _mapping(obj: Mapping[Any, Any], pending: _Pending) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if type(key) is not str and not isinstance(key, str):
            raise _PathError(f"expected str keys, received {key!r}")
        kind = type(value)
        if kind is float and value - value == 0.0:  # finite: rounded with the others
            out[key] = value
            pending += (out, key, value)
        elif kind is str or kind is int or kind is bool or value is None:
            out[key] = value
        else:
            try:
                out[key] = _item(value, pending, out, key)
            except _PathError as e:
                e.path.append(f".{key}")
                raise
    return out


def _items(items: Any, pending: _Pending) -> list[Any]:
    out: list[Any] = []
    for i, value in enumerate(items):
        try:
            out.append(_item(value, pending, out, i))
        except _PathError as e:
            e.path.append(f"[{i}]")
            raise
    return out


def _item(value: Any, pending: _Pending, container: Any, key: Any) -> Any:
    """`value` for ``container[key]``: a float is checked now and rounded later, with the rest."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        _refuse(value)
        pending += (container, key, value)
        return value
    return _normalise(value, pending)


# Kinds of the bytes that shape compact JSON.
_OPEN, _CLOSE, _COMMA, _COLON = 1, 2, 3, 4
_KIND = np.zeros(256, dtype=np.int8)
_KIND[[ord("{"), ord("[")]] = _OPEN
_KIND[[ord("}"), ord("]")]] = _CLOSE
_KIND[ord(",")] = _COMMA
_KIND[ord(":")] = _COLON


def indent_compact_json(compact: str) -> str:
    """Return ASCII JSON encoded with ``separators=(",", ":")`` as ``indent=2`` would write it."""
    src = np.frombuffer(compact.encode("ascii"), dtype=np.uint8)
    n = src.shape[0]
    kinds = _KIND[src]
    kinds *= ~_inside_strings(src)
    pos = np.flatnonzero(kinds)
    if pos.shape[0] == 0:
        return compact
    kind = kinds[pos]
    depth = np.cumsum(np.where(kind == _OPEN, 1, np.where(kind == _CLOSE, -1, 0)))  # after each
    adjacent = np.diff(pos) == 1  # structural bytes side by side, as in "{}" or "[]"
    empty_open = (kind == _OPEN) & np.append(adjacent & (kind[1:] == _CLOSE), False)
    empty_close = (kind == _CLOSE) & np.insert(adjacent & (kind[:-1] == _OPEN), 0, False)
    newline = ((kind == _OPEN) & ~empty_open) | ((kind == _CLOSE) & ~empty_close) | (kind == _COMMA)
    size = np.where(newline, 1 + 2 * depth, np.where(kind == _COLON, 1, 0))
    # The text inserted after an opener, comma or colon, and before a closer; at most one
    # insertion with text goes before any source byte, so their places ascend.
    keep = size > 0
    at, size, newline = np.where(kind == _CLOSE, pos, pos + 1)[keep], size[keep], newline[keep]
    starts = at + np.cumsum(size) - size  # in the output
    inserted = np.zeros(n + int(size.sum()) + 1, dtype=np.int8)
    inserted[starts] = 1
    inserted[starts + size] -= 1
    inserted = np.cumsum(inserted[:-1], dtype=np.int8).view(bool)
    out = np.full(inserted.shape[0], ord(" "), dtype=np.uint8)
    out[~inserted] = src
    out[starts[newline]] = ord("\n")
    return out.tobytes().decode("ascii")


def _inside_strings(src: np.ndarray) -> np.ndarray:
    """Return, for each byte, whether it lies inside a JSON string (its quotes are not)."""
    quote = src == ord('"')
    after_backslash = np.flatnonzero(quote[1:] & (src[:-1] == ord("\\"))) + 1
    for q in after_backslash.tolist():  # a quote after an odd run of backslashes is text
        run = 0
        while src[q - 1 - run] == ord("\\"):
            run += 1
        quote[q] = run % 2 == 0
    return np.bitwise_xor.accumulate(quote.view(np.uint8)).view(bool)
