"""Scalar field checks: each takes one YAML value and returns the typed value or raises FieldError."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Final

from app.config.fields import Check, FieldError, did_you_mean, show
from app.store.bar import Interval, parse_interval

__all__ = [
    "boolean",
    "calendar_code",
    "class_path",
    "enum_value",
    "env_name",
    "integer",
    "interval",
    "iso_date",
    "number",
    "one_of",
    "optional",
    "store_path",
    "text",
    "url",
]

_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENV_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENT: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_CLASS_PATH_RE: Final = re.compile(rf"^{_IDENT}(\.{_IDENT})*:{_IDENT}$")


def _bounds(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    if ge is not None and le is not None:
        return f" from {ge} to {le}"
    parts = [f"{op} {bound}" for op, bound in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if bound is not None]
    return (" " + " and ".join(parts)) if parts else ""


def _within(value: float, ge: float | None, gt: float | None, le: float | None, lt: float | None) -> bool:
    return (
        (ge is None or value >= ge)
        and (gt is None or value > gt)
        and (le is None or value <= le)
        and (lt is None or value < lt)
    )


def integer(*, ge: int | None = None, gt: int | None = None, le: int | None = None) -> Check:
    """Return a check for a whole number (not a float, not a boolean) within the given bounds."""
    expected = "an integer" + _bounds(ge, gt, le, None)

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not _within(value, ge, gt, le, None):
            raise FieldError(f"expected {expected}, received {show(value)}")
        return value

    return check


def number(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> Check:
    """Return a check for a finite int or float within the given bounds; the result is a float."""
    expected = "a number" + _bounds(ge, gt, le, lt)

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(f"expected {expected}, received {show(value)}")
        if not math.isfinite(value):
            raise FieldError(f"expected a finite number, received {show(value)}")
        if not _within(value, ge, gt, le, lt):
            raise FieldError(f"expected {expected}, received {show(value)}")
        return float(value)

    return check


def optional(check: Check) -> Check:
    """Return a check that accepts None (YAML ``null`` or ``~``) or what `check` accepts."""

    def check_optional(value: Any) -> Any:
        return None if value is None else check(value)

    return check_optional


def boolean(value: Any) -> bool:
    """Accept only a YAML boolean (``true``/``false``); ``1`` and ``"true"`` are rejected."""
    if not isinstance(value, bool):
        raise FieldError(f"expected a boolean (true or false), received {show(value)}")
    return value


def text(value: Any) -> str:
    """Accept a string that is not blank."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"expected a non-blank string, received {show(value)}")
    return value


def one_of(*choices: str) -> Check:
    """Return a check for one of the given strings, with a "did you mean" hint."""
    listed = ", ".join(repr(c) for c in choices)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise FieldError(f"expected one of {listed}, received {show(value)}", hint=did_you_mean(value, choices))
        return value

    return check


def enum_value(enum_cls: type[Enum]) -> Check:
    """Return a check for the string value of a member of `enum_cls`; the result is the member."""
    check_choice = one_of(*(str(member.value) for member in enum_cls))

    def check(value: Any) -> Enum:
        return enum_cls(check_choice(value))

    return check


def url(*schemes: str) -> Check:
    """Return a check for a string starting with one of ``<scheme>://``."""
    prefixes = tuple(f"{s}://" for s in schemes)
    expected = " or ".join(prefixes)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not any(value.startswith(p) and len(value) > len(p) for p in prefixes):
            raise FieldError(f"expected a URL starting with {expected}, received {show(value)}")
        return value

    return check


def env_name(value: Any) -> str:
    """Accept the name of an environment variable; the value is never echoed (it may be a pasted secret)."""
    if not isinstance(value, str) or not _ENV_RE.match(value):
        raise FieldError(
            "expected the name of an environment variable (letters, digits, '_'), "
            "received something else (not shown, in case it is a secret)",
            hint="put the secret in the environment and its variable name here",
        )
    return value


def iso_date(value: Any) -> date:
    """Accept a YAML date (``2024-03-01``) or a string ``'YYYY-MM-DD'``; reject date-times."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError(f"expected a date 'YYYY-MM-DD', received {show(value)}")


def interval(value: Any) -> Interval:
    """Accept a bar interval label such as ``1m``, ``5m`` or ``1d`` (the message is parse_interval's)."""
    if not isinstance(value, str):
        raise FieldError(f"expected an interval like '1s', '1m', '5m', '1h' or '1d', received {show(value)}")
    try:
        return parse_interval(value)
    except ValueError as e:
        raise FieldError(str(e)) from e


def calendar_code(value: Any) -> str:
    """Accept an exchange_calendars code (aliases included), with a "did you mean" hint."""
    from app.timing.calendar import available_calendars  # the calendar seam; heavy import, needed only here

    names = available_calendars()
    if not isinstance(value, str) or value not in names:
        raise FieldError(f"unknown exchange calendar {show(value)}", hint=did_you_mean(value, names, n=3))
    return value


def class_path(value: Any) -> str:
    """Accept ``"package.module:ClassName"`` (the format only; importing happens elsewhere)."""
    if not isinstance(value, str) or not _CLASS_PATH_RE.match(value):
        raise FieldError(
            f"expected 'package.module:ClassName', received {show(value)}",
            hint="e.g. 'app.strategies.sma_cross:SmaCross'",
        )
    return value


def store_path(value: Any) -> Path:
    """Accept a non-blank path string; ``~`` is expanded (relative paths are resolved by the validator)."""
    return Path(text(value)).expanduser()
