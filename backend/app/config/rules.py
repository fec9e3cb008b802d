"""Cross-field rules of the session config, and the fields derived from several others (base interval)."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from pathlib import Path
from typing import Any, Final

from app.config.fields import did_you_mean, show
from app.config.problems import BAD, Problems
from app.config.schema import HistoricalConfig, IndicatorSpec, Mode
from app.config.yaml_source import FieldPath
from app.store.bar import Interval, parse_interval

__all__ = ["BASE_INTERVALS", "apply_rules", "derive_base_interval"]

BASE_INTERVALS: Final = ("1s", "1m", "1d")
"""Intervals a bar store holds and the coordinator can stream; every other interval is derived."""

_DAY: Final = parse_interval("1d")


def apply_rules(problems: Problems, values: dict[str, Any], base_dir: Path) -> None:
    """Check the rules that span fields and fill in derived values, in place.

    Adds ``base_interval``, gives session indicators without an interval the base interval and
    resolves ``data.store`` against `base_dir`. Rules whose inputs are BAD are skipped.
    """
    _require_mode_section(problems, values["mode"], values["backtest"], values["live"])
    _check_backtest(problems, values["backtest"])
    _check_live(problems, values["live"])
    _check_trading(problems, values["trading"])
    _check_broker(problems, values["mode"], values.get("broker"))
    base = derive_base_interval(problems, values["streams"], values["indicators"])
    values["base_interval"] = base
    indicators = values["indicators"]
    if indicators is not BAD and base is not BAD:
        values["indicators"] = indicators = tuple(
            dataclasses.replace(spec, interval=base) if spec.interval is None else spec for spec in indicators
        )
        _check_unique_keys(problems, ("indicators",), indicators)
    historical = values["historical"]
    if historical is not BAD:
        _check_unique_keys(problems, ("historical", "indicators"), historical.indicators)
        _check_apply_to(problems, historical, values["symbols"])
    if values["data"] is not BAD:
        store = values["data"].store
        values["data"] = dataclasses.replace(values["data"], store=(base_dir / store).resolve())


def derive_base_interval(problems: Problems, streams: Any, indicators: Any) -> Interval | Any:
    """Return the base interval: the smallest intraday interval among streams and session indicators.

    It is ``1d`` when every interval is daily. It must be one of BASE_INTERVALS and must build
    every stream and indicator interval; otherwise a problem naming the offending field is added.
    Returns BAD when an input is BAD or the base is not streamable.
    """
    if streams is BAD or indicators is BAD:
        return BAD
    candidates: list[tuple[Interval, FieldPath]] = [(iv, ("streams", i)) for i, iv in enumerate(streams)]
    candidates += [
        (spec.interval, ("indicators", i, "interval"))
        for i, spec in enumerate(indicators)
        if spec.interval is not None
    ]
    intraday = [candidate for candidate in candidates if not candidate[0].is_daily]
    if not intraday:
        return _DAY
    base, where = min(intraday, key=lambda candidate: candidate[0])
    if base.label not in BASE_INTERVALS:
        add = "1m" if base.seconds % 60 == 0 else "1s"
        problems.add(
            where,
            "expected a base interval of 1s, 1m or 1d (the smallest intraday interval among streams "
            f"and session indicators), received {base.label!r}",
            hint=f"add '{add}' to streams; other intervals are built from it",
        )
        return BAD
    for iv, path in candidates:
        if not base.divides(iv):
            problems.add(
                path, f"expected an interval built from whole {base} bars (the base interval), received {iv.label!r}"
            )
    return base


def _require_mode_section(problems: Problems, mode: Any, backtest: Any, live: Any) -> None:
    for wanted, section, value in ((Mode.BACKTEST, "backtest", backtest), (Mode.LIVE, "live", live)):
        if mode is wanted and value is None:
            at: FieldPath = (section,) if (section,) in problems.source.values else ("mode",)
            problems.missing((section,), f"required when mode is {wanted.value!r}", at=at)


def _check_backtest(problems: Problems, backtest: Any) -> None:
    if backtest is BAD or backtest is None or backtest.end_date >= backtest.start_date:
        return
    problems.add(
        ("backtest", "end_date"),
        f"expected a date on or after start_date ({backtest.start_date.isoformat()}), "
        f"received {backtest.end_date.isoformat()!r}",
    )


def _check_live(problems: Problems, live: Any) -> None:
    if live is BAD or live is None or live.reconnect_max_s >= live.reconnect_initial_s:
        return
    problems.add(
        ("live", "reconnect_max_s"),
        f"expected a number >= reconnect_initial_s ({live.reconnect_initial_s!r}), "
        f"received {live.reconnect_max_s!r}{_default_note(problems, ('live', 'reconnect_max_s'))}",
    )


def _check_trading(problems: Problems, trading: Any) -> None:
    if trading is BAD or trading.max_per_trade <= trading.starting_cash:
        return
    problems.add(
        ("trading", "max_per_trade"),
        f"expected a number <= starting_cash ({trading.starting_cash!r}), "
        f"received {trading.max_per_trade!r}{_default_note(problems, ('trading', 'max_per_trade'))}",
        hint="lower max_per_trade or raise starting_cash",
    )


_RUN_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_LIVE_HOST: Final = "api.alpaca.markets"
_PAPER_HOST: Final = "paper-api.alpaca.markets"


def _check_broker(problems: Problems, mode: Any, broker: Any) -> None:
    # A real broker only in live mode, with a trading URL that matches `paper`.
    if broker is BAD or broker is None or broker.kind == "simulated":
        return
    if mode is Mode.BACKTEST:
        problems.add(("broker", "kind"), f"expected 'simulated' in a backtest, received {broker.kind!r}",
                     hint="a backtest never sends orders to a real broker; use mode: live, or remove broker:")
        return
    if broker.trading_url is None:
        problems.missing(("broker", "trading_url"), f"required when kind is {broker.kind!r}", at=("broker", "kind"))
        return
    host = urllib.parse.urlsplit(broker.trading_url).hostname or ""
    if broker.paper and host == _LIVE_HOST:
        problems.add(("broker", "trading_url"), f"expected a paper trading URL with paper: true, received "
                     f"{broker.trading_url!r} (the live endpoint)", hint=f"use https://{_PAPER_HOST}")
    elif not broker.paper and host == _PAPER_HOST:
        problems.add(("broker", "paper"), f"expected true with the paper endpoint {broker.trading_url!r}, "
                     "received false", hint="set paper: true")
    if broker.run_id is not None and not _RUN_ID_RE.match(broker.run_id):
        problems.add(("broker", "run_id"), "expected 1 to 40 letters, digits, '-' or '_', received "
                     f"{broker.run_id!r}")


def _default_note(problems: Problems, path: FieldPath) -> str:
    return "" if path in problems.source.values else " (the default)"


def _check_unique_keys(problems: Problems, path: FieldPath, specs: tuple[IndicatorSpec, ...]) -> None:
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.key in seen:
            problems.add(
                (*path, i),
                f"expected unique indicators, received {spec.key!r} twice (items {seen[spec.key]} and {i})",
            )
        seen.setdefault(spec.key, i)


def _check_apply_to(problems: Problems, historical: HistoricalConfig, symbols: Any) -> None:
    if symbols is BAD:
        return
    for i, entry in enumerate(historical.data):
        for k, symbol in enumerate(entry.apply_to or ()):
            if symbol not in symbols:
                problems.add(
                    ("historical", "data", i, "apply_to", k),
                    f"expected one of the configured symbols, received {show(symbol)}",
                    hint=did_you_mean(symbol, symbols),
                )
