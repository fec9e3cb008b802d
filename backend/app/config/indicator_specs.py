"""Checks for one indicator entry: its name against the indicator registry, its period and interval."""

from __future__ import annotations

import dataclasses
from typing import Any, Final, TypeVar

from app.config.fields import FieldError, did_you_mean, show
from app.indicators.registry import HISTORICAL_INDICATORS, SESSION_INDICATORS, make_indicator
from app.store.bar import parse_interval

__all__ = ["PERIODLESS_INDICATORS", "historical_indicator", "indicator_names", "session_indicator"]

PERIODLESS_INDICATORS: Final = frozenset({"vwap"})
"""Session indicators whose ``period`` may be omitted (it then reads 0)."""

_Spec = TypeVar("_Spec")


def indicator_names(kind: str) -> tuple[str, ...]:
    """Return the indicator names accepted for `kind` (``"session"`` or ``"historical"``)."""
    return tuple(SESSION_INDICATORS) if kind == "session" else tuple(HISTORICAL_INDICATORS)


def _check_name(name: str, kind: str) -> None:
    names = indicator_names(kind)
    if name not in names:
        hint = did_you_mean(name, names) or "expected one of " + ", ".join(repr(n) for n in names)
        raise FieldError(f"expected a {kind} indicator name, received {show(name)}", hint=hint, subpath=("name",))


def _check_period(spec: Any, periodless: bool) -> int:
    if spec.period is None:
        if periodless:
            return 0
        raise FieldError("required field is missing", subpath=("period",))
    if spec.period < 1 and not periodless:
        raise FieldError(f"expected an integer >= 1, received {spec.period!r}", subpath=("period",))
    return int(spec.period)


def _check_params(s: Any, period: int) -> None:
    # The registry knows each indicator's params: an unknown or invalid one is refused here,
    # at load, rather than when the first session builds the indicator.
    try:
        make_indicator(s.name, max(period, 1), s.field, dict(s.params))
    except ValueError as e:
        names = [key for key, _ in s.params]
        raise FieldError(str(e), subpath=("params", names[0]) if len(names) == 1 else ("params",)) from None


def session_indicator(spec: _Spec) -> _Spec:
    """Check a session (real-time) indicator entry; an omitted interval stays None until the base is known."""
    s: Any = spec
    _check_name(s.name, "session")
    period = _check_period(s, s.name in PERIODLESS_INDICATORS)
    _check_params(s, period)
    return dataclasses.replace(s, period=period)


def historical_indicator(spec: _Spec) -> _Spec:
    """Check a historical indicator entry; an omitted interval becomes ``1d``.

    Historical indicators take no params, so ``params`` must be empty (accepting them would
    ignore them).
    """
    s: Any = spec
    _check_name(s.name, "historical")
    if s.params:
        raise FieldError(
            f"expected no params for the historical indicator {s.name!r}, received {show(s.params[0][0])}",
            subpath=("params", s.params[0][0]),
        )
    if s.field != "close":  # each reads fixed fields (avg_volume: volume, avg_range: high - low, ...)
        raise FieldError(
            f"expected no field for the historical indicator {s.name!r} (it reads its own bar fields), "
            f"received {show(s.field)}",
            subpath=("field",),
        )
    interval = s.interval if s.interval is not None else parse_interval("1d")
    return dataclasses.replace(s, period=_check_period(s, False), interval=interval)
