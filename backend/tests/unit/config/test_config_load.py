"""Loading session configs: a complete file sets every field, a minimal one gets the documented defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.config import (
    BacktestConfig,
    DataConfig,
    GapFillerConfig,
    HistoricalConfig,
    HistoricalData,
    IndicatorSpec,
    LiveConfig,
    Mode,
    RunConfig,
    SessionConfig,
    StrategySpec,
    TradingLimits,
    load_session_config,
)
from app.store.bar import parse_interval

FULL = """\
# Every key a session config accepts, each set to a non-default value.
session_name: full_example          # required, non-blank
mode: backtest                      # required: backtest | live
calendar: XLON                      # exchange_calendars code (default XNYS)
backtest:                           # required when mode is backtest
  start_date: 2024-03-01            # YAML date or 'YYYY-MM-DD'
  end_date: '2024-03-28'            # >= start_date
  speed_multiplier: 120             # 0 = data-driven (default), > 0 = clock-driven, N x real time
live:                               # required when mode is live; validated when present
  provider: alpaca                  # only alpaca
  stream_url: wss://stream.data.alpaca.markets/v2/sip
  rest_url: https://data.alpaca.markets
  feed: sip                         # iex (default) | sip | delayed_sip | test
  key_env: MY_KEY_VAR               # names of environment variables, never the secrets
  secret_env: MY_SECRET_VAR
  stop_after_seconds: 3600          # end the live run after this many wall seconds (default: never)
  reconnect_initial_s: 0.5          # first reconnect delay (default 1.0)
  reconnect_max_s: 30               # longest reconnect delay (default 60.0)
symbols: [AAPL, BRK.B, SPY]         # required, unique
streams: [1s, 1m, 5m, 1d]           # required; the base interval (here 1s) is derived
historical:
  enable_quality: false             # default true
  data:                             # trailing windows reloaded before each session (default none)
    - trailing_days: 5
      intervals: [1m]
      apply_to: [AAPL, SPY]         # default 'all'
    - trailing_days: 20
      intervals: [1d]
      apply_to: all
  indicators:                       # computed on trailing bars; interval defaults to 1d
    - {name: avg_volume, period: 20}
    - {name: high, period: 10, interval: 1d}
indicators:                         # real-time; interval defaults to the base interval
  - {name: sma, period: 20, interval: 5m}
  - {name: vwap}
  - name: bbands_upper
    period: 20
    interval: 1m
    field: close
    params: {num_std: 2.5}
gap_filler:
  max_retries: 3                    # 1..20 (default 5)
  retry_interval_seconds: 30        # > 0 (default 60)
  enable_session_quality: false     # default true
data:
  store: ../bars                    # required; relative to this file
  on_missing: skip                  # fail (default) | skip | warn
strategy:
  class: app.strategies.sma_cross:SmaCross   # required, package.module:ClassName
  params: {fast: 5, slow: 20, symbols: [AAPL, SPY], note: ~}
trading:
  starting_cash: 50000              # defaults: 100000, 10000, 25000, 5, 0, 0, 0, false
  max_per_trade: 5000
  max_per_symbol: 15000
  max_open_positions: 2
  commission_per_share: 0.005
  commission_min: 1
  slippage_bps: 2.5
  allow_short: true
run:
  join_timeout_s: 5                 # default 10
  batch_steps: 60                   # default 390
metadata: {owner: research, tags: [demo, full], created: 2024-01-05}
"""

MINIMAL = """\
session_name: minimal
mode: backtest
backtest: {start_date: 2024-03-04, end_date: 2024-03-04}
symbols: [AAPL]
streams: [1m]
data: {store: bars}
strategy: {class: pkg.mod:Cls}
"""


def _i(label):
    return parse_interval(label)


def test_full_config_sets_every_field(tmp_path):
    # Arrange
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "full.yaml"
    path.write_text(FULL, encoding="utf-8")
    # Act
    cfg = load_session_config(path)
    # Assert: the whole value, written out by hand
    expected = SessionConfig(
        source_file=str(path),
        session_name="full_example",
        mode=Mode.BACKTEST,
        calendar="XLON",
        backtest=BacktestConfig(start_date=date(2024, 3, 1), end_date=date(2024, 3, 28), speed_multiplier=120.0),
        live=LiveConfig(
            provider="alpaca", stream_url="wss://stream.data.alpaca.markets/v2/sip",
            rest_url="https://data.alpaca.markets", feed="sip", key_env="MY_KEY_VAR", secret_env="MY_SECRET_VAR",
            stop_after_seconds=3600.0, reconnect_initial_s=0.5, reconnect_max_s=30.0,
        ),
        symbols=("AAPL", "BRK.B", "SPY"),
        streams=(_i("1s"), _i("1m"), _i("5m"), _i("1d")),
        base_interval=_i("1s"),
        historical=HistoricalConfig(
            enable_quality=False,
            data=(
                HistoricalData(trailing_days=5, intervals=(_i("1m"),), apply_to=("AAPL", "SPY")),
                HistoricalData(trailing_days=20, intervals=(_i("1d"),), apply_to=None),
            ),
            indicators=(
                IndicatorSpec(name="avg_volume", period=20, interval=_i("1d")),
                IndicatorSpec(name="high", period=10, interval=_i("1d")),
            ),
        ),
        indicators=(
            IndicatorSpec(name="sma", period=20, interval=_i("5m")),
            IndicatorSpec(name="vwap", period=0, interval=_i("1s")),
            IndicatorSpec(name="bbands_upper", period=20, interval=_i("1m"), params=(("num_std", 2.5),)),
        ),
        gap_filler=GapFillerConfig(max_retries=3, retry_interval_seconds=30.0, enable_session_quality=False),
        data=DataConfig(store=(tmp_path / "bars").resolve(), on_missing="skip"),
        strategy=StrategySpec(
            path="app.strategies.sma_cross:SmaCross",
            params=(("fast", 5), ("note", None), ("slow", 20), ("symbols", ("AAPL", "SPY"))),
        ),
        trading=TradingLimits(
            starting_cash=50_000.0, max_per_trade=5_000.0, max_per_symbol=15_000.0, max_open_positions=2,
            commission_per_share=0.005, commission_min=1.0, slippage_bps=2.5, allow_short=True,
        ),
        run=RunConfig(join_timeout_s=5.0, batch_steps=60),
        metadata={"owner": "research", "tags": ["demo", "full"], "created": date(2024, 1, 5)},
    )
    assert cfg == expected
    assert cfg.metadata == expected.metadata
    assert cfg.source_file == str(path)
    assert cfg.strategy.params_dict == {"fast": 5, "note": None, "slow": 20, "symbols": ("AAPL", "SPY")}
    assert [spec.key for spec in cfg.indicators] == ["sma_20_5m", "vwap_1s", "bbands_upper_20_1m"]
    assert cfg.is_data_driven is False


def test_minimal_config_gets_the_documented_defaults(tmp_path):
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    cfg = load_session_config(str(path))
    assert cfg.calendar == "XNYS"
    assert cfg.backtest == BacktestConfig(start_date=date(2024, 3, 4), end_date=date(2024, 3, 4), speed_multiplier=0.0)
    assert cfg.live is None
    assert cfg.base_interval == _i("1m")
    assert cfg.historical.enable_quality is True
    assert (cfg.historical.data, cfg.historical.indicators, cfg.indicators) == ((), (), ())
    assert (cfg.gap_filler.max_retries, cfg.gap_filler.retry_interval_seconds, cfg.gap_filler.enable_session_quality) == (
        5, 60.0, True)
    assert cfg.data.store == tmp_path.resolve() / "bars"
    assert cfg.strategy.params == () and cfg.strategy.params_dict == {}
    t = cfg.trading
    assert (t.starting_cash, t.max_per_trade, t.max_per_symbol, t.max_open_positions) == (100_000.0, 10_000.0, 25_000.0, 5)
    assert (t.commission_per_share, t.commission_min, t.slippage_bps, t.allow_short) == (0.0, 0.0, 0.0, False)
    assert (cfg.run.join_timeout_s, cfg.run.batch_steps) == (10.0, 390)
    assert cfg.metadata is None
    assert cfg.is_data_driven is True
    assert cfg.source_file == str(path)


def test_relative_store_path_is_resolved_against_the_config_directory(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.yaml").write_text(MINIMAL.replace("store: bars", "store: ../store"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cfg = load_session_config("a/b/c.yaml")
    assert cfg.data.store == (tmp_path / "a" / "store").resolve()
    assert cfg.source_file == "a/b/c.yaml"


def test_home_in_store_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL.replace("store: bars", "store: ~/bars"), encoding="utf-8")
    assert load_session_config(path).data.store == (tmp_path / "home" / "bars").resolve()


def test_config_is_frozen_and_hashable_and_metadata_is_ignored_by_equality(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MINIMAL + "metadata: {a: 1}\n", encoding="utf-8")
    with_meta = load_session_config(path)
    path.write_text(MINIMAL, encoding="utf-8")
    without = load_session_config(path)
    assert with_meta == without and hash(with_meta) == hash(without)
    assert with_meta.metadata == {"a": 1}
    with pytest.raises(AttributeError):
        with_meta.session_name = "other"  # type: ignore[misc]


_SESSION_CONFIGS = sorted(p for p in (Path(__file__).parents[4] / "session_configs").glob("*.yaml")
                          if not p.name.startswith("sweep"))  # sweep files (app.sweep): tests/sweep


@pytest.mark.parametrize("path", _SESSION_CONFIGS, ids=[p.name for p in _SESSION_CONFIGS])
def test_every_shipped_session_config_loads(path):
    cfg = load_session_config(path)
    assert cfg.session_name
    assert cfg.base_interval.label in ("1s", "1m", "1d")
