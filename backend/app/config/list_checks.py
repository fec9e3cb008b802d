"""Checks for list and mapping fields: symbols, intervals, ``apply_to``, params and free-form metadata."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any, Final

from app.config.checks import interval
from app.config.fields import FieldError, show
from app.store.bar import Interval

__all__ = [
    "apply_to",
    "free_mapping",
    "interval_list",
    "params_to_dict",
    "scalar_params",
    "strategy_params",
    "symbol_list",
]

_SYMBOL_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise FieldError(f"expected a list of {what}, received {show(value)}", hint="write a YAML list, e.g. [a, b]")
    if not value:
        raise FieldError(f"expected a non-empty list of {what}, received []")
    return value


def _unique(items: list[Any], path_label: str, shown: Callable[[Any], str]) -> None:
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        if item in seen:
            raise FieldError(
                f"expected unique {path_label}, received {shown(item)} twice (items {seen[item]} and {i})",
                subpath=(i,),
            )
        seen[item] = i


def _symbol(value: Any, i: int) -> str:
    if isinstance(value, str) and _SYMBOL_RE.match(value):
        return value
    hint = None
    if isinstance(value, (bool, int, float)) or value is None:
        hint = "quote the symbol: YAML reads bare yes/no/on/off/null and numbers as non-strings"
    raise FieldError(
        f"expected a symbol (letters, digits, '.', '_', '/', '-'), received {show(value)}", hint=hint, subpath=(i,)
    )


def symbol_list(value: Any) -> tuple[str, ...]:
    """Accept a non-empty list of unique ticker symbols matching ``^[A-Za-z0-9][A-Za-z0-9._/-]*$``."""
    symbols = [_symbol(item, i) for i, item in enumerate(_as_list(value, "symbols"))]
    _unique(symbols, "symbols", repr)
    return tuple(symbols)


def interval_list(value: Any) -> tuple[Interval, ...]:
    """Accept a non-empty list of unique interval labels."""
    items = _as_list(value, "intervals")
    parsed = []
    for i, item in enumerate(items):
        try:
            parsed.append(interval(item))
        except FieldError as e:
            raise FieldError(e.message, hint=e.hint, subpath=(i,)) from e
    _unique(parsed, "intervals", lambda iv: repr(iv.label))
    return tuple(parsed)


def apply_to(value: Any) -> tuple[str, ...] | None:
    """Accept ``"all"`` (returns None) or a non-empty list of symbols (membership is a cross-field rule)."""
    if value == "all":
        return None
    if isinstance(value, str):
        raise FieldError(f"expected 'all' or a list of symbols, received {show(value)}")
    return symbol_list(value)


def _scalar(value: Any, key: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(f"expected a finite number, received {show(value)}", subpath=(key,))
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise FieldError(f"expected a string, number, boolean or null, received {show(value)}", subpath=(key,))


def _params(value: Any, allow_lists: bool) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, dict):
        raise FieldError(f"expected a mapping of parameter names to values, received {show(value)}")
    pairs = []
    for key, item in value.items():
        if allow_lists and isinstance(item, list):
            converted: Any = tuple(_scalar(x, key) for x in item)
        else:
            converted = _scalar(item, key)
        pairs.append((key, converted))
    return tuple(sorted(pairs))


def scalar_params(value: Any) -> tuple[tuple[str, Any], ...]:
    """Accept a mapping of names to scalars; return its ``(key, value)`` pairs sorted by key (hashable)."""
    return _params(value, allow_lists=False)


def strategy_params(value: Any) -> tuple[tuple[str, Any], ...]:
    """Accept a mapping of names to scalars or lists of scalars (stored as tuples); return sorted pairs."""
    return _params(value, allow_lists=True)


def params_to_dict(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Return params pairs as plain YAML data (tuples become lists)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in pairs}


def free_mapping(value: Any) -> dict[str, Any]:
    """Accept any mapping (free-form metadata); return a deep copy."""
    if not isinstance(value, dict):
        raise FieldError(f"expected a mapping, received {show(value)}")
    return copy.deepcopy(value)
