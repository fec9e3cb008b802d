"""Strategy set-up problems found after loading: each is one ConfigError at file:line:col, never a traceback."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from app.config import parse_session_config
from app.errors import ConfigError
from app.strategies.loader import load_strategy, requested_indicators

# Line numbers matter: strategy.class is on line 9, params on line 10.
CONFIG = """\
session_name: demo
mode: backtest
backtest: {start_date: 2024-07-01, end_date: 2024-07-02}
symbols: [AAPL]
streams: [1m]
data:
  store: bars
strategy:
  class: CLS
  params: PARAMS
"""

MODULE = '''\
from app.strategies.base import Strategy


class Fine(Strategy):
    params = {"x": 1}


class Boom(Strategy):
    params = {"x": 1}

    def __init__(self, **params):
        super().__init__(**params)
        raise RuntimeError("cannot reach\\nthe broker")


class Picky(Strategy):
    params = {"x": 1}

    def __init__(self, **params):
        super().__init__(**params)
        if self.p["x"] < 0:
            raise ValueError(f"x must be >= 0, received {self.p['x']}")


class AsksBadly(Strategy):
    @classmethod
    def indicators(cls, params, base_interval):
        return {}["sma"]


class AsksOddly(Strategy):
    @classmethod
    def indicators(cls, params, base_interval):
        return "sma"


NotAStrategy = dict
'''


@pytest.fixture
def strategies(tmp_path, monkeypatch):
    name = f"strats_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / f"{name}_broken.py").write_text("raise KeyError('at import')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _config(cls: str, params: str = "{}"):
    return parse_session_config(CONFIG.replace("CLS", cls).replace("PARAMS", params), "s.yaml", Path("/cfg"))


def _raises(pattern: str):
    return pytest.raises(ConfigError, match=f"^{pattern}$")


def test_a_fine_strategy_loads_with_its_params(strategies):
    strategy = load_strategy(_config(f"{strategies}:Fine", "{x: 3}"))
    assert strategy.p == {"x": 3}


def test_a_constructor_raising_a_bug_names_the_class_the_error_and_where(strategies):
    # A RuntimeError is a bug in the strategy: reported on strategy.class, on one line.
    with _raises(re.escape("s.yaml:9:10: error: strategy.class: Boom(x=2) raised RuntimeError: cannot reach "
                           "the broker (at ") + r".*" + re.escape(f"{strategies}.py:13 in __init__); "
                                                                  "fix the strategy's __init__")):
        load_strategy(_config(f"{strategies}:Boom", "{x: 2}"))


def test_a_constructor_refusing_a_value_points_at_the_params(strategies):
    with _raises(re.escape("s.yaml:10:11: error: strategy.params: Picky refused its params: x must be >= 0, "
                           "received -1")):
        load_strategy(_config(f"{strategies}:Picky", "{x: -1}"))


def test_an_unknown_param_points_at_its_value_with_did_you_mean(strategies):
    with _raises(re.escape("s.yaml:10:12: error: strategy.params.xx: unknown parameter for Fine; did you mean 'x'?")):
        load_strategy(_config(f"{strategies}:Fine", "{xx: 1}"))


def test_a_missing_module_a_missing_class_and_a_non_strategy(strategies):
    with _raises(re.escape("s.yaml:9:10: error: strategy.class: cannot import module 'no_such_mod_x': "
                           "No module named 'no_such_mod_x'")):
        load_strategy(_config("no_such_mod_x:Fine"))
    with _raises(re.escape(f"s.yaml:9:10: error: strategy.class: module '{strategies}' has no class 'Fien'; "
                           "did you mean 'Fine'?")):
        load_strategy(_config(f"{strategies}:Fien"))
    with _raises(re.escape(f"s.yaml:9:10: error: strategy.class: expected a subclass of "
                           f"app.strategies.base.Strategy, received '{strategies}:NotAStrategy'")):
        load_strategy(_config(f"{strategies}:NotAStrategy"))


def test_a_module_raising_at_import_is_one_line(strategies):
    with _raises(re.escape(f"s.yaml:9:10: error: strategy.class: importing module '{strategies}_broken' raised "
                           "KeyError: 'at import' (at ") + r".*"
                 + re.escape("_broken.py:1 in <module>); fix the module")):
        load_strategy(_config(f"{strategies}_broken:Fine"))


def test_indicator_requests_that_raise_or_are_not_a_list(strategies):
    config = _config(f"{strategies}:AsksBadly")
    with _raises(re.escape("s.yaml:9:10: error: strategy.class: AsksBadly.indicators() raised KeyError: 'sma' (at ")
                 + r".*" + re.escape(" in indicators); fix the strategy's indicators()")):
        requested_indicators(config, load_strategy(config).__class__)
    config = _config(f"{strategies}:AsksOddly")
    with _raises(re.escape("s.yaml:9:10: error: strategy.class: expected AsksOddly.indicators() to return a list "
                           "of mappings, received 'sma'")):
        requested_indicators(config, load_strategy(config).__class__)


def test_config_error_points_at_a_field_or_its_nearest_written_parent():
    text = CONFIG.replace("CLS", "a:B").replace("PARAMS", "{}") + textwrap.dedent("""\
        live:
          stream_url: ws://127.0.0.1:1/v2/iex
          rest_url: http://127.0.0.1:1
          key_env: MY_KEY
        """)
    config = parse_session_config(text, "s.yaml", Path("/cfg"))
    assert str(config.error(("live", "key_env"), "expected environment variable MY_KEY to hold the key")) == (
        "s.yaml:14:12: error: live.key_env: expected environment variable MY_KEY to hold the key")
    # secret_env was left to its default: the live: key is where to add it.
    assert str(config.error(("live", "secret_env"), "unset", hint="export it")) == (
        "s.yaml:11:1: error: live.secret_env: unset; export it")
    assert str(config.error(("backtest", "end_date"), "no trading day")) == (
        "s.yaml:3:46: error: backtest.end_date: no trading day")


def test_session_indicator_params_are_checked_at_load():
    base = CONFIG.replace("CLS", "a:B").replace("PARAMS", "{}")
    with _raises(re.escape("s.yaml:12:46: error: indicators[0].params.num_std: expected params of 'sma' among "
                           "(none), received 'num_std'")):
        parse_session_config(base + "indicators:\n  - {name: sma, period: 3, params: {num_std: 2}}\n",
                             "s.yaml", Path("/cfg"))
    with _raises(re.escape("s.yaml:12:55: error: indicators[0].params.num_std: expected params.num_std to be a "
                           "number >= 0, received 'x'")):
        parse_session_config(base + "indicators:\n  - {name: bbands_upper, period: 3, params: {num_std: x}}\n",
                             "s.yaml", Path("/cfg"))
    with _raises(re.escape("s.yaml:13:43: error: historical.indicators[0].params.k: expected no params for the "
                           "historical indicator 'high', received 'k'")):
        parse_session_config(base + "historical:\n  indicators:\n    - {name: high, period: 3, params: {k: 1}}\n",
                             "s.yaml", Path("/cfg"))
    with _raises(re.escape("s.yaml:13:44: error: historical.indicators[0].field: expected no field for the historical indicator "
                           "'avg_volume' (it reads its own bar fields), received 'high'")):
        parse_session_config(base + "historical:\n  indicators:\n    - {name: avg_volume, period: 3, field: high}\n",
                             "s.yaml", Path("/cfg"))
