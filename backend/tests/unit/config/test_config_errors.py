"""Every kind of session config error, asserted on the full one-line message with file:line:col."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import load_session_config, parse_session_config
from app.errors import ConfigError

# Line numbers matter: appended text starts on line 13.
BASE = """\
session_name: demo
mode: backtest
backtest:
  start_date: 2024-03-01
  end_date: 2024-03-08
  speed_multiplier: 0
symbols: [AAPL, MSFT]
streams: [1m, 5m]
data:
  store: bars
strategy:
  class: pkg.mod:Cls
"""


def _edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _raises(message):
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def _check(text, message):
    with _raises(message):
        parse_session_config(text, "demo.yaml", Path("/cfg"))


def test_base_is_valid():
    assert parse_session_config(BASE, "demo.yaml", Path("/cfg")).session_name == "demo"


FIELD_ERRORS = [
    # Ranges and types of scalar fields.
    (_edit("speed_multiplier: 0", "speed_multiplier: -3"),
     "demo.yaml:6:21: error: backtest.speed_multiplier: expected a number >= 0, received -3"),
    (_edit("speed_multiplier: 0", "speed_multiplier: '1.5'"),
     "demo.yaml:6:21: error: backtest.speed_multiplier: expected a number >= 0, received '1.5'"),
    (_edit("speed_multiplier: 0", "speed_multiplier: true"),
     "demo.yaml:6:21: error: backtest.speed_multiplier: expected a number >= 0, received True"),
    (_edit("speed_multiplier: 0", "speed_multiplier: .inf"),
     "demo.yaml:6:21: error: backtest.speed_multiplier: expected a finite number, received inf"),
    (BASE + "run: {batch_steps: abc}\n",
     "demo.yaml:13:20: error: run.batch_steps: expected an integer >= 1, received 'abc'"),
    (BASE + "run: {batch_steps: 2.0}\n",
     "demo.yaml:13:20: error: run.batch_steps: expected an integer >= 1, received 2.0"),
    (BASE + "run: {batch_steps: true}\n",
     "demo.yaml:13:20: error: run.batch_steps: expected an integer >= 1, received True"),
    (BASE + "run: {join_timeout_s: 0}\n",
     "demo.yaml:13:23: error: run.join_timeout_s: expected a number > 0, received 0"),
    (BASE + "gap_filler: {max_retries: 25}\n",
     "demo.yaml:13:27: error: gap_filler.max_retries: expected an integer from 1 to 20, received 25"),
    (BASE + "gap_filler: {enable_session_quality: 1}\n",
     "demo.yaml:13:38: error: gap_filler.enable_session_quality: expected a boolean (true or false), received 1"),
    (BASE + "trading: {allow_short: 'true'}\n",
     "demo.yaml:13:24: error: trading.allow_short: expected a boolean (true or false), received 'true'"),
    (BASE + "trading: {slippage_bps: 10000}\n",
     "demo.yaml:13:25: error: trading.slippage_bps: expected a number >= 0 and < 10000, received 10000"),
    (BASE + "trading: {max_open_positions: 0}\n",
     "demo.yaml:13:31: error: trading.max_open_positions: expected an integer >= 1, received 0"),
    (BASE + "trading: {commission_min: -1.5}\n",
     "demo.yaml:13:27: error: trading.commission_min: expected a number >= 0, received -1.5"),
    (_edit("session_name: demo", "session_name: '   '"),
     "demo.yaml:1:15: error: session_name: expected a non-blank string, received '   '"),
    (_edit("mode: backtest", "mode: backtst"),
     "demo.yaml:2:7: error: mode: expected one of 'backtest', 'live', received 'backtst'; did you mean 'backtest'?"),
    (_edit("mode: backtest", "mode: paper"),
     "demo.yaml:2:7: error: mode: expected one of 'backtest', 'live', received 'paper'"),
    (BASE + "calendar: XNYZ\n",
     "demo.yaml:13:11: error: calendar: unknown exchange calendar 'XNYZ'; did you mean 'XNZE' or 'XNYS'?"),
    # Dates.
    (_edit("end_date: 2024-03-08", "end_date: 2024/03/08"),
     "demo.yaml:5:13: error: backtest.end_date: expected a date 'YYYY-MM-DD', received '2024/03/08'"),
    (_edit("end_date: 2024-03-08", "end_date: 2024-03-08 10:00:00"),
     "demo.yaml:5:13: error: backtest.end_date: expected a date 'YYYY-MM-DD', "
     "received datetime.datetime(2024, 3, 8, 10, 0)"),
    (_edit("end_date: 2024-03-08", "end_date: '2024-02-29'"),
     "demo.yaml:5:13: error: backtest.end_date: expected a date on or after start_date (2024-03-01), "
     "received '2024-02-29'"),
    # Symbols and streams.
    (_edit("symbols: [AAPL, MSFT]", "symbols: AAPL"),
     "demo.yaml:7:10: error: symbols: expected a list of symbols, received 'AAPL'; write a YAML list, e.g. [a, b]"),
    (_edit("symbols: [AAPL, MSFT]", "symbols: []"),
     "demo.yaml:7:10: error: symbols: expected a non-empty list of symbols, received []"),
    (_edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, MSFT, AAPL]"),
     "demo.yaml:7:23: error: symbols[2]: expected unique symbols, received 'AAPL' twice (items 0 and 2)"),
    (_edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, 'BRK B']"),
     "demo.yaml:7:17: error: symbols[1]: expected a symbol (letters, digits, '.', '_', '/', '-'), received 'BRK B'"),
    (_edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, ON]"),
     "demo.yaml:7:17: error: symbols[1]: expected a symbol (letters, digits, '.', '_', '/', '-'), received True; "
     "quote the symbol: YAML reads bare yes/no/on/off/null and numbers as non-strings"),
    (_edit("streams: [1m, 5m]", "streams: [1m, 2d]"),
     "demo.yaml:8:15: error: streams[1]: expected '1d' for daily bars (multi-day intervals are not supported), "
     "received '2d'"),
    (_edit("streams: [1m, 5m]", "streams: [1m, quotes]"),
     "demo.yaml:8:15: error: streams[1]: expected an interval like '1s', '1m', '5m', '1h' or '1d', "
     "received 'quotes'"),
    (_edit("streams: [1m, 5m]", "streams: [1m, 5m, 1m]"),
     "demo.yaml:8:19: error: streams[2]: expected unique intervals, received '1m' twice (items 0 and 2)"),
    # Sections of the wrong shape.
    (BASE + "trading: 5\n",
     "demo.yaml:13:10: error: trading: expected a mapping with fields starting_cash, max_per_trade, "
     "max_per_symbol, max_open_positions, commission_per_share, commission_min, slippage_bps, allow_short, "
     "max_daily_loss, flatten_on_kill, extended_hours, received 5"),
    (BASE + "indicators: {name: sma}\n",
     "demo.yaml:13:13: error: indicators: expected a list of mappings, received {'name': 'sma'}; "
     "start each entry with '- '"),
    (BASE + "metadata: [a]\n",
     "demo.yaml:13:11: error: metadata: expected a mapping, received ['a']"),
    # Data and strategy.
    (_edit("  store: bars\n", "  store: ''\n"),
     "demo.yaml:10:10: error: data.store: expected a non-blank string, received ''"),
    (_edit("class: pkg.mod:Cls", "class: pkg.mod.Cls"),
     "demo.yaml:12:10: error: strategy.class: expected 'package.module:ClassName', received 'pkg.mod.Cls'; "
     "e.g. 'app.strategies.sma_cross:SmaCross'"),
    (BASE + "  params: {fast: 5, nested: {a: 1}}\n",
     "demo.yaml:13:29: error: strategy.params.nested: expected a string, number, boolean or null, "
     "received {'a': 1}"),
    (BASE + "  params: [5]\n",
     "demo.yaml:13:11: error: strategy.params: expected a mapping of parameter names to values, received [5]"),
]


@pytest.mark.parametrize(("text", "message"), FIELD_ERRORS, ids=[m.split(": error: ")[1][:40] for _, m in FIELD_ERRORS])
def test_field_error_message(text, message):
    _check(text, message)


def test_unknown_key_has_did_you_mean():
    _check(_edit("speed_multiplier: 0", "speed_multiplyer: 0"),
           "demo.yaml:6:3: error: backtest.speed_multiplyer: unknown field; did you mean 'speed_multiplier'?")


def test_unknown_key_without_a_close_match_lists_the_fields():
    _check(BASE + "run:\n  colour: red\n",
           "demo.yaml:14:3: error: run.colour: unknown field; expected one of 'join_timeout_s', 'batch_steps', 'record', 'replay', 'replay_bars'")


def test_unknown_old_top_level_name_says_where_it_went():
    _check(BASE + "trading_config: {max_buying_power: 1}\n",
           "demo.yaml:13:1: error: trading_config: unknown field; use 'trading:' "
           "(max_buying_power is now starting_cash)")


def test_unknown_key_inside_a_list_item():
    _check(BASE + "indicators:\n  - {name: sma, period: 3, intervl: 5m}\n",
           "demo.yaml:14:28: error: indicators[0].intervl: unknown field; did you mean 'interval'?")


def test_a_misspelt_required_section_is_named_at_the_typo():
    _check(_edit("strategy:", "stratgy:"),
           "demo.yaml:11:1: error: strategy: required field is missing; "
           "unknown key 'stratgy', did you mean 'strategy'?")


def test_a_misspelt_required_nested_field_is_named_at_the_typo():
    _check(_edit("  start_date:", "  start_dat:"),
           "demo.yaml:4:3: error: backtest.start_date: required field is missing; "
           "unknown key 'start_dat', did you mean 'start_date'?")


def test_each_misspelt_required_field_pairs_with_its_own_typo():
    text = _edit("symbols:", "symbls:").replace("streams:", "stream:")
    _check(text, "demo.yaml:7:1: error: symbols: required field is missing; "
                 "unknown key 'symbls', did you mean 'symbols'?")
    _check(text.replace("symbls:", "symbols:"),
           "demo.yaml:8:1: error: streams: required field is missing; unknown key 'stream', did you mean 'streams'?")


def test_an_unknown_key_is_reported_before_a_missing_field_it_does_not_resemble():
    # Arrange: session_name is missing (reported at 1:1) and 'colour' (line 12) is unknown.
    text = _edit("session_name: demo\n", "") + "colour: red\n"
    # Act / Assert: the unknown key comes first; the missing field once it is fixed.
    _check(text, "demo.yaml:12:1: error: colour: unknown field; expected one of 'session_name', 'mode', 'calendar', "
                 "'backtest', 'live', 'symbols', 'streams', 'historical', 'indicators', 'gap_filler', 'data', "
                 "'strategy', 'trading', 'broker', 'run', 'metadata'")
    _check(text.replace("colour: red\n", ""), "demo.yaml:1:1: error: session_name: required field is missing")


def test_a_misspelt_mode_section_is_named_at_the_typo():
    _check(_edit("backtest:", "backtst:"),
           "demo.yaml:3:1: error: backtest: required when mode is 'backtest'; "
           "unknown key 'backtst', did you mean 'backtest'?")


def test_a_key_of_control_characters_is_shown_escaped_on_one_line():
    _check(BASE + '"\\r": 1\n', "demo.yaml:13:1: error: ['\\r']: unknown field; expected one of 'session_name', "
                                 "'mode', 'calendar', 'backtest', 'live', 'symbols', 'streams', 'historical', "
                                 "'indicators', 'gap_filler', 'data', 'strategy', 'trading', 'broker', 'run', 'metadata'")
    _check(BASE + "run:\n  '': 1\n", "demo.yaml:14:3: error: run['']: unknown field; "
                                     "expected one of 'join_timeout_s', 'batch_steps', 'record', 'replay', 'replay_bars'")


def test_a_character_yaml_refuses_is_located():
    _check(_edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, M\x07SFT]"),
           "demo.yaml:7:18: error: invalid YAML: the character '\\x07' (U+0007) is not allowed; "
           'delete it, or write it as "\\u0007" inside double quotes')


def test_an_old_top_level_name_keeps_its_own_hint_over_a_did_you_mean():
    _check(_edit("strategy:", "strategies:"),
           "demo.yaml:11:1: error: strategies: unknown field; use one 'strategy:' mapping with 'class' and 'params'")


def test_missing_required_top_level_field_points_at_the_document_start():
    _check(_edit("session_name: demo\n", ""), "demo.yaml:1:1: error: session_name: required field is missing")


def test_missing_required_nested_field_points_at_its_parent_key():
    _check(_edit("  end_date: 2024-03-08\n", ""), "demo.yaml:3:1: error: backtest.end_date: required field is missing")
    _check(_edit("  class: pkg.mod:Cls\n", "  params: {}\n"),
           "demo.yaml:11:1: error: strategy.class: required field is missing")


def test_missing_required_field_in_a_list_item_points_at_the_item():
    _check(BASE + "historical:\n  data:\n    - intervals: [1d]\n",
           "demo.yaml:15:7: error: historical.data[0].trailing_days: required field is missing")


def test_syntax_error_in_a_config():
    _check(_edit("symbols: [AAPL, MSFT]", "symbols: [AAPL, MSFT"),
           "demo.yaml:8:8: error: invalid YAML: expected ',' or ']', but got ':'; "
           "while parsing a flow sequence on line 7")


def test_duplicate_key_in_a_config():
    _check(BASE + "symbols: [SPY]\n", "demo.yaml:13:1: error: symbols: duplicate key 'symbols' (first written on line 7)")


def test_not_a_mapping_at_the_top():
    _check("", "demo.yaml:1:1: error: expected a mapping of session config fields, received an empty document")
    _check("- a\n- b\n", "demo.yaml:1:1: error: expected a mapping of session config fields, received ['a', 'b']")


def test_first_error_in_document_order_is_reported():
    # Arrange: run (checked last) is written first; streams and trading are also wrong, further down.
    text = "run: {batch_steps: 0}\n" + _edit("streams: [1m, 5m]", "streams: [1m, 7x]") + "trading: {allow_short: 2}\n"
    # Act / Assert
    _check(text, "demo.yaml:1:20: error: run.batch_steps: expected an integer >= 1, received 0")
    fixed = text.replace("batch_steps: 0", "batch_steps: 1")
    _check(fixed, "demo.yaml:9:15: error: streams[1]: expected an interval like '1s', '1m', '5m', '1h' or '1d', "
                  "received '7x'")


def test_errors_in_a_file_name_the_path_as_given(tmp_path, monkeypatch):
    (tmp_path / "bad.yaml").write_text(_edit("speed_multiplier: 0", "speed_multiplier: -3"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with _raises("bad.yaml:6:21: error: backtest.speed_multiplier: expected a number >= 0, received -3"):
        load_session_config("bad.yaml")


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    with _raises(f"{missing}: error: cannot read the session config: No such file or directory"):
        load_session_config(missing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"session_name: \xff\xfe\n")
    with _raises(f"{binary}:1:15: error: expected UTF-8 text, received undecodable bytes at offset 14; "
                 "save the file as UTF-8"):
        load_session_config(binary)
    later = tmp_path / "later.yaml"
    later.write_bytes("session_name: é\r\nmode: \xe9\n".encode().replace(b"\xc3\xa9\n", b"\xe9\n"))
    with _raises(f"{later}:2:7: error: expected UTF-8 text, received undecodable bytes at offset 24; "
                 "save the file as UTF-8"):
        load_session_config(later)


def test_live_bar_grace_must_not_be_negative_and_defaults_to_none():
    live = "live:\n  stream_url: ws://127.0.0.1:1/v2/iex\n  rest_url: http://127.0.0.1:1\n"
    assert parse_session_config(BASE + live, "demo.yaml", Path("/cfg")).live.bar_grace_s is None
    assert parse_session_config(BASE + live + "  bar_grace_s: 0.5\n", "demo.yaml", Path("/cfg")).live.bar_grace_s == 0.5
    with pytest.raises(ConfigError, match=r"^demo\.yaml:16:16: error: live\.bar_grace_s: expected a number >= 0"):
        parse_session_config(BASE + live + "  bar_grace_s: -1\n", "demo.yaml", Path("/cfg"))


def test_live_fill_wait_defaults_to_one_and_a_half_seconds_zero_turns_it_off_and_negative_is_refused():
    live = "live:\n  stream_url: ws://127.0.0.1:1/v2/iex\n  rest_url: http://127.0.0.1:1\n"
    assert parse_session_config(BASE + live, "demo.yaml", Path("/cfg")).live.fill_wait_s == 1.5
    assert parse_session_config(BASE + live + "  fill_wait_s: 0\n", "demo.yaml", Path("/cfg")).live.fill_wait_s == 0
    with pytest.raises(ConfigError, match=r"^demo\.yaml:16:16: error: live\.fill_wait_s: expected a number >= 0"):
        parse_session_config(BASE + live + "  fill_wait_s: -0.5\n", "demo.yaml", Path("/cfg"))
