"""Cross-field rules: base interval, indicators, historical data, mode sections, live and trading limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import Mode, parse_session_config
from app.errors import ConfigError
from app.store.bar import parse_interval

HEAD = """\
session_name: rules
mode: backtest
backtest: {start_date: 2024-03-01, end_date: 2024-03-08}
data: {store: /bars}
strategy: {class: pkg.mod:Cls}
symbols: [AAPL, MSFT]
"""  # appended text starts on line 7


def _load(text):
    return parse_session_config(text, "r.yaml", Path("/cfg"))


def _check(text, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        _load(text)


@pytest.mark.parametrize(
    ("streams", "indicators", "base"),
    [
        ("[1d]", "", "1d"),
        ("[5m, 1m, 15m]", "", "1m"),
        ("[1m, 1h, 1d]", "", "1m"),
        ("[1s, 90s, 1m, 1d]", "", "1s"),
        ("[1m]", "indicators:\n  - {name: sma, period: 5, interval: 1s}\n", "1s"),
        ("[1d]", "indicators:\n  - {name: rsi, period: 14, interval: 1m}\n", "1m"),
        ("[5m]", "indicators:\n  - {name: ema, period: 3, interval: 1m}\n", "1m"),
    ],
)
def test_base_interval_is_the_smallest_intraday_interval(streams, indicators, base):
    cfg = _load(HEAD + f"streams: {streams}\n" + indicators)
    assert cfg.base_interval == parse_interval(base)


def test_base_interval_must_be_streamable():
    _check(HEAD + "streams: [5m, 15m]\n",
           "r.yaml:7:11: error: streams[0]: expected a base interval of 1s, 1m or 1d (the smallest intraday "
           "interval among streams and session indicators), received '5m'; add '1m' to streams; other intervals "
           "are built from it")
    _check(HEAD + "streams: [1m]\nindicators:\n  - {name: sma, period: 2, interval: 30s}\n",
           "r.yaml:9:38: error: indicators[0].interval: expected a base interval of 1s, 1m or 1d (the smallest "
           "intraday interval among streams and session indicators), received '30s'; add '1s' to streams; other "
           "intervals are built from it")


def test_every_interval_must_be_built_from_the_base():
    _check(HEAD + "streams: [1m, 90s]\n",
           "r.yaml:7:15: error: streams[1]: expected an interval built from whole 1m bars (the base interval), "
           "received '90s'")
    _check(HEAD + "streams: [1m]\nindicators:\n  - {name: sma, period: 2, interval: 150s}\n",
           "r.yaml:9:38: error: indicators[0].interval: expected an interval built from whole 1m bars "
           "(the base interval), received '150s'")


def test_session_indicator_defaults_and_keys():
    cfg = _load(HEAD + "streams: [1m, 5m]\nindicators:\n  - {name: vwap}\n  - {name: sma, period: 20, interval: 5m}\n"
                "  - {name: bbands_upper, period: 20, field: high, params: {num_std: 2.5}}\n")
    vwap, sma, bb = cfg.indicators
    assert (vwap.period, vwap.interval, vwap.field, vwap.params, vwap.key) == (0, parse_interval("1m"), "close", (), "vwap_1m")
    assert sma.key == "sma_20_5m"
    assert (bb.interval, bb.field, bb.params, bb.key) == (parse_interval("1m"), "high", (("num_std", 2.5),), "bbands_upper_20_1m")


def test_session_indicator_errors():
    base = HEAD + "streams: [1m]\nindicators:\n"  # entries start on line 9
    _check(base + "  - {name: smaa, period: 3}\n",
           "r.yaml:9:12: error: indicators[0].name: expected a session indicator name, received 'smaa'; "
           "did you mean 'sma'?")
    _check(base + "  - {name: avg_volume, period: 3}\n",
           "r.yaml:9:12: error: indicators[0].name: expected a session indicator name, received 'avg_volume'; "
           "expected one of 'sma', 'ema', 'rsi', 'atr', 'vwap', 'bbands_upper', 'bbands_lower'")
    _check(base + "  - {name: sma}\n", "r.yaml:9:5: error: indicators[0].period: required field is missing")
    _check(base + "  - {name: sma, period: 0}\n",
           "r.yaml:9:25: error: indicators[0].period: expected an integer >= 1, received 0")
    _check(base + "  - {name: sma, period: -1}\n",
           "r.yaml:9:25: error: indicators[0].period: expected an integer >= 0, received -1")
    _check(base + "  - {name: sma, period: 3, field: price}\n",
           "r.yaml:9:35: error: indicators[0].field: expected one of 'open', 'high', 'low', 'close', 'volume', "
           "received 'price'")
    _check(base + "  - {name: sma, period: 3, params: {k: [1]}}\n",
           "r.yaml:9:40: error: indicators[0].params.k: expected a string, number, boolean or null, received [1]")


def test_duplicate_indicator_keys_count_the_default_interval():
    _check(HEAD + "streams: [1m]\nindicators:\n  - {name: sma, period: 3}\n  - {name: sma, period: 3, interval: 1m}\n",
           "r.yaml:10:5: error: indicators[1]: expected unique indicators, received 'sma_3_1m' twice (items 0 and 1)")
    _check(HEAD + "streams: [1m]\nhistorical:\n  indicators:\n    - {name: high, period: 5}\n"
           "    - {name: high, period: 5, interval: 1d}\n",
           "r.yaml:11:7: error: historical.indicators[1]: expected unique indicators, received 'high_5_1d' twice "
           "(items 0 and 1)")


def test_historical_section():
    cfg = _load(HEAD + "streams: [1m]\nhistorical:\n  enable_quality: false\n  data:\n"
                "    - {trailing_days: 5, intervals: [1m, 1d]}\n    - {trailing_days: 2, intervals: [1m], apply_to: [MSFT]}\n"
                "    - {trailing_days: 1, intervals: [1d], apply_to: all}\n"
                "  indicators:\n    - {name: avg_volume, period: 10}\n")
    h = cfg.historical
    assert h.enable_quality is False
    assert [(d.trailing_days, [i.label for i in d.intervals], d.apply_to) for d in h.data] == [
        (5, ["1m", "1d"], None), (2, ["1m"], ("MSFT",)), (1, ["1d"], None)]
    assert h.indicators[0].interval == parse_interval("1d")
    assert h.indicators[0].key == "avg_volume_10_1d"


def test_historical_errors():
    base = HEAD + "streams: [1m]\nhistorical:\n  data:\n"  # entries start on line 10
    _check(base + "    - {trailing_days: 0, intervals: [1d]}\n",
           "r.yaml:10:23: error: historical.data[0].trailing_days: expected an integer > 0, received 0")
    _check(base + "    - {trailing_days: 3, intervals: []}\n",
           "r.yaml:10:37: error: historical.data[0].intervals: expected a non-empty list of intervals, received []")
    _check(base + "    - {trailing_days: 3, intervals: [1d], apply_to: [AAPL, APPL]}\n",
           "r.yaml:10:60: error: historical.data[0].apply_to[1]: expected one of the configured symbols, "
           "received 'APPL'; did you mean 'AAPL'?")
    _check(base + "    - {trailing_days: 3, intervals: [1d], apply_to: some}\n",
           "r.yaml:10:53: error: historical.data[0].apply_to: expected 'all' or a list of symbols, received 'some'")
    _check(HEAD + "streams: [1m]\nhistorical:\n  indicators:\n    - {name: sma, period: 5}\n",
           "r.yaml:10:14: error: historical.indicators[0].name: expected a historical indicator name, "
           "received 'sma'; expected one of 'avg_volume', 'avg_range', 'high', 'low', 'avg_close'")
    _check(HEAD + "streams: [1m]\nhistorical:\n  indicators:\n    - {name: high}\n",
           "r.yaml:10:7: error: historical.indicators[0].period: required field is missing")


LIVE = "live:\n  stream_url: wss://stream.example/v2/iex\n  rest_url: https://data.example\n"


def test_mode_needs_its_section():
    _check(HEAD.replace("backtest: {start_date: 2024-03-01, end_date: 2024-03-08}\n", "") + "streams: [1m]\n",
           "r.yaml:2:7: error: backtest: required when mode is 'backtest'")
    _check(HEAD.replace("mode: backtest", "mode: live") + "streams: [1m]\n",
           "r.yaml:2:7: error: live: required when mode is 'live'")


def test_a_null_section_is_pointed_at_itself():
    text = HEAD.replace("backtest: {start_date: 2024-03-01, end_date: 2024-03-08}", "backtest:") + "streams: [1m]\n"
    _check(text, "r.yaml:3:10: error: backtest: required when mode is 'backtest'")


def test_live_mode_with_defaults_and_an_extra_backtest_block():
    cfg = _load(HEAD.replace("mode: backtest", "mode: live") + "streams: [1m]\n" + LIVE)
    assert cfg.mode is Mode.LIVE
    assert cfg.backtest is not None and cfg.is_data_driven is False
    live = cfg.live
    assert (live.provider, live.feed, live.key_env, live.secret_env) == ("alpaca", "iex", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
    assert (live.stop_after_seconds, live.reconnect_initial_s, live.reconnect_max_s) == (None, 1.0, 60.0)
    assert (live.stream_url, live.rest_url) == ("wss://stream.example/v2/iex", "https://data.example")


def test_live_block_is_validated_in_backtest_mode():
    base = HEAD + "streams: [1m]\n" + LIVE  # the live block starts on line 8
    _check(base.replace("wss://stream", "https://stream"),
           "r.yaml:9:15: error: live.stream_url: expected a URL starting with ws:// or wss://, "
           "received 'https://stream.example/v2/iex'")
    _check(base.replace("https://data.example", "data.example"),
           "r.yaml:10:13: error: live.rest_url: expected a URL starting with http:// or https://, received 'data.example'")
    _check(base + "  feed: sipp\n",
           "r.yaml:11:9: error: live.feed: expected one of 'iex', 'sip', 'delayed_sip', 'test', received 'sipp'; "
           "did you mean 'sip'?")
    _check(base + "  stop_after_seconds: 0\n",
           "r.yaml:11:23: error: live.stop_after_seconds: expected a number > 0, received 0")
    _check(base + "  reconnect_initial_s: 90\n",
           "r.yaml:8:1: error: live.reconnect_max_s: expected a number >= reconnect_initial_s (90.0), "
           "received 60.0 (the default)")
    _check(base + "  reconnect_initial_s: 5\n  reconnect_max_s: 2\n",
           "r.yaml:12:20: error: live.reconnect_max_s: expected a number >= reconnect_initial_s (5.0), received 2.0")


def test_a_pasted_secret_is_never_echoed():
    with pytest.raises(ConfigError) as info:
        _load(HEAD + "streams: [1m]\n" + LIVE + "  key_env: PK7X-secret/value\n")
    assert str(info.value) == (
        "r.yaml:11:12: error: live.key_env: expected the name of an environment variable (letters, digits, '_'), "
        "received something else (not shown, in case it is a secret); "
        "put the secret in the environment and its variable name here")
    assert "PK7X" not in str(info.value)


def test_trading_limits_cross_check():
    _check(HEAD + "streams: [1m]\ntrading: {starting_cash: 5000}\n",
           "r.yaml:8:1: error: trading.max_per_trade: expected a number <= starting_cash (5000.0), "
           "received 10000.0 (the default); lower max_per_trade or raise starting_cash")
    _check(HEAD + "streams: [1m]\ntrading:\n  starting_cash: 5000\n  max_per_trade: 6000\n",
           "r.yaml:10:18: error: trading.max_per_trade: expected a number <= starting_cash (5000.0), "
           "received 6000.0; lower max_per_trade or raise starting_cash")
    cfg = _load(HEAD + "streams: [1m]\ntrading: {starting_cash: 5000, max_per_trade: 5000}\n")
    assert cfg.trading.max_per_trade == cfg.trading.starting_cash == 5000.0


def test_store_path_resolution(tmp_path):
    text = HEAD.replace("store: /bars", "store: ../data/./bars") + "streams: [1m]\n"
    cfg = parse_session_config(text, "r.yaml", tmp_path / "configs")
    assert cfg.data.store == (tmp_path / "data" / "bars").resolve()
    assert cfg.data.store.is_absolute()
    cfg = parse_session_config(HEAD + "streams: [1m]\n", "r.yaml", tmp_path)
    assert cfg.data.store == Path("/bars")
