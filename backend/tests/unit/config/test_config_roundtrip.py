"""config_to_dict round-trips: dumping a config to YAML and loading it again gives an equal config."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from app.config import Mode, config_to_dict, parse_session_config

SESSION_NAMES = ("sma", "ema", "rsi", "atr", "vwap", "bbands_upper", "bbands_lower")
HISTORICAL_NAMES = ("avg_volume", "avg_range", "high", "low", "avg_close")
UNIVERSE = ("AAPL", "MSFT", "SPY", "BRK.B", "ON", "NO", "1234", "BTC/USD", "X-Y", "a_b")

LIVE_CONFIG = """\
session_name: live run
mode: live
calendar: XNAS
live:
  stream_url: wss://stream.example/v2/iex
  rest_url: http://localhost:8080
  feed: test
  stop_after_seconds: 12.5
symbols: ['ON', 'YES', '007']
streams: [1m, 1d]
indicators:
  - {name: ema, period: 9}
historical:
  data:
    - {trailing_days: 3, intervals: [1d], apply_to: ['ON']}
data: {store: /abs/store}
strategy: {class: x:Y, params: {when: '2024-01-01', flags: [true, 1, 2.5, b]}}
metadata: {note: kept, when: 2024-01-05}
"""

DAILY_CONFIG = """\
session_name: daily
mode: backtest
backtest: {start_date: '2023-12-29', end_date: 2024-01-02, speed_multiplier: 0.25}
symbols: [SPY]
streams: [1d]
historical:
  indicators: [{name: avg_close, period: 5, field: close}]
data: {store: rel/store}
strategy: {class: a.b.c:D}
trading: {starting_cash: 1, max_per_trade: 1, slippage_bps: 9999.5}
"""


def _parse(text, base_dir="/cfg"):
    return parse_session_config(text, "rt.yaml", Path(base_dir))


def _round_trip(cfg):
    dumped = config_to_dict(cfg)
    again = _parse(yaml.safe_dump(dumped, sort_keys=False), base_dir="/elsewhere")
    return dumped, again


@pytest.mark.parametrize("text", [LIVE_CONFIG, DAILY_CONFIG], ids=["live", "daily"])
def test_examples_round_trip(text):
    cfg = _parse(text)
    dumped, again = _round_trip(cfg)
    assert again == cfg
    assert config_to_dict(again) == dumped
    assert json.loads(json.dumps(dumped)) == dumped
    assert json.loads(json.dumps(dumped)) == dumped


def test_metadata_dates_are_dumped_as_strings():
    cfg = _parse(LIVE_CONFIG)
    assert cfg.metadata == {"note": "kept", "when": date(2024, 1, 5)}
    assert config_to_dict(cfg)["metadata"] == {"note": "kept", "when": "2024-01-05"}
    assert _round_trip(cfg)[1].metadata == {"note": "kept", "when": "2024-01-05"}


def test_dumped_dict_is_plain_yaml_data():
    dumped = config_to_dict(_parse(LIVE_CONFIG))
    assert dumped["mode"] == "live"
    assert dumped["symbols"] == ["ON", "YES", "007"]
    assert dumped["streams"] == ["1m", "1d"]
    assert dumped["indicators"] == [{"name": "ema", "period": 9, "interval": "1m", "field": "close", "params": {}}]
    assert dumped["data"] == {"store": "/abs/store", "on_missing": "fail"}
    assert dumped["strategy"] == {"class": "x:Y", "params": {"flags": [True, 1, 2.5, "b"], "when": "2024-01-01"}}
    assert dumped["historical"]["data"] == [{"trailing_days": 3, "intervals": ["1d"], "apply_to": ["ON"]}]
    assert "backtest" not in dumped and "source_file" not in dumped and "base_interval" not in dumped
    assert dumped["live"]["stop_after_seconds"] == 12.5 and "stop_after_seconds" in dumped["live"]
    daily = config_to_dict(_parse(DAILY_CONFIG))
    assert daily["backtest"] == {"start_date": "2023-12-29", "end_date": "2024-01-02", "speed_multiplier": 0.25}
    assert daily["data"] == {"store": "/cfg/rel/store", "on_missing": "fail"}
    assert "live" not in daily and "metadata" not in daily


_finite = {"allow_nan": False, "allow_infinity": False}
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(**_finite), st.text(max_size=8))


@st.composite
def _streams(draw):
    base = draw(st.sampled_from(["1s", "1m", "1d"]))
    if base == "1d":
        return ["1d"]
    larger = ["5m", "15m", "1h", "1d"] + (["30s", "1m"] if base == "1s" else [])
    extra = draw(st.lists(st.sampled_from(larger), unique=True, max_size=4))
    return draw(st.permutations([base, *extra]))


@st.composite
def _session_indicators(draw, streams):
    specs = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(SESSION_NAMES))
        spec = {"name": name}
        if name != "vwap" or draw(st.booleans()):
            spec["period"] = draw(st.integers(1, 50))
        if draw(st.booleans()):
            spec["interval"] = draw(st.sampled_from(streams))
        if draw(st.booleans()):
            spec["field"] = draw(st.sampled_from(["open", "high", "low", "close", "volume"]))
        if name.startswith("bbands") and draw(st.booleans()):  # the only indicators with params
            spec["params"] = draw(st.dictionaries(
                st.just("num_std"), st.one_of(st.integers(0, 5), st.floats(0.0, 5.0)), max_size=1))
        specs.append(spec)
    return specs


def _effective_key(spec, base):
    return (spec["name"], spec.get("period", 0), spec.get("interval", base))


@st.composite
def _raw_configs(draw):
    symbols = draw(st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=5, unique=True))
    streams = draw(_streams())
    intraday = [s for s in streams if s != "1d"]
    base = min(intraday, key=lambda s: {"1s": 1, "30s": 30, "1m": 60}.get(s, 10**6)) if intraday else "1d"
    indicators, seen = [], set()
    for spec in draw(_session_indicators(streams)):
        if _effective_key(spec, base) not in seen and (base != "1d" or "interval" in spec):
            seen.add(_effective_key(spec, base))
            indicators.append(spec)
    start = draw(st.dates())
    end = draw(st.dates(min_value=start))
    starting_cash = draw(st.floats(min_value=1.0, max_value=1e12))
    raw = {
        "session_name": draw(st.text("abcXYZ _-", min_size=1, max_size=12).filter(str.strip)),
        "mode": draw(st.sampled_from(["backtest", "live"])),
        "calendar": draw(st.sampled_from(["XNYS", "XNAS", "XLON", "XTKS"])),
        "backtest": {
            "start_date": draw(st.sampled_from([start, start.isoformat()])),
            "end_date": end.isoformat(),
            "speed_multiplier": draw(st.one_of(st.integers(0, 10**4), st.floats(min_value=0.0, max_value=1e9))),
        },
        "symbols": symbols,
        "streams": streams,
        "indicators": indicators,
        "historical": {
            "enable_quality": draw(st.booleans()),
            "data": [
                {"trailing_days": draw(st.integers(1, 300)), "intervals": ["1d"],
                 "apply_to": draw(st.one_of(st.just("all"), st.lists(st.sampled_from(symbols), min_size=1, unique=True)))},
            ],
            "indicators": [{"name": n, "period": p} for n, p in draw(
                st.lists(st.tuples(st.sampled_from(HISTORICAL_NAMES), st.integers(1, 30)), unique=True, max_size=3))],
        },
        "gap_filler": {"max_retries": draw(st.integers(1, 20)),
                       "retry_interval_seconds": draw(st.floats(min_value=0.001, max_value=1e6))},
        "data": {"store": draw(st.sampled_from(["bars", "../x/bars", "/abs/bars"])),
                 "on_missing": draw(st.sampled_from(["fail", "skip", "warn"]))},
        "strategy": {"class": "pkg.mod:Cls",
                     "params": draw(st.dictionaries(st.text("abc_", min_size=1, max_size=5),
                                                    st.one_of(_scalars, st.lists(_scalars, max_size=3)), max_size=4))},
        "trading": {"starting_cash": starting_cash,
                    "max_per_trade": starting_cash * draw(st.floats(min_value=0.001, max_value=1.0)),
                    "max_open_positions": draw(st.integers(1, 100)),
                    "slippage_bps": draw(st.floats(min_value=0.0, max_value=9999.0)),
                    "allow_short": draw(st.booleans())},
        "run": {"batch_steps": draw(st.integers(1, 10**5))},
    }
    if raw["mode"] == "live" or draw(st.booleans()):
        raw["live"] = {"stream_url": "wss://s.example", "rest_url": "https://r.example",
                       "feed": draw(st.sampled_from(["iex", "sip", "delayed_sip", "test"])),
                       "stop_after_seconds": draw(st.one_of(st.none(), st.floats(min_value=0.1, max_value=1e5)))}
    return raw


@given(_raw_configs())
def test_random_valid_configs_round_trip(raw):
    # Arrange / Act
    cfg = _parse(yaml.safe_dump(raw))
    dumped, again = _round_trip(cfg)
    # Assert: the drawn values arrived, and the dump loads to an equal config
    assert cfg.mode is Mode(raw["mode"])
    assert cfg.symbols == tuple(raw["symbols"])
    assert [s.label for s in cfg.streams] == list(raw["streams"])
    assert cfg.backtest.speed_multiplier == float(raw["backtest"]["speed_multiplier"])
    assert cfg.backtest.end_date.isoformat() == raw["backtest"]["end_date"]
    assert cfg.trading.max_per_trade == raw["trading"]["max_per_trade"]
    assert cfg.strategy.params_dict == {
        k: tuple(v) if isinstance(v, list) else v for k, v in raw["strategy"]["params"].items()}
    assert len(cfg.indicators) == len(raw["indicators"])
    assert again == cfg
    assert config_to_dict(again) == dumped
    assert json.loads(json.dumps(dumped)) == dumped
