"""The schema dataclasses: documented defaults match the code, values are frozen and hashable."""

from __future__ import annotations

import ast
import dataclasses
import re

import pytest

from app.config import (
    BacktestConfig,
    DataConfig,
    GapFillerConfig,
    HistoricalConfig,
    HistoricalData,
    IndicatorSpec,
    LiveConfig,
    RunConfig,
    SessionConfig,
    StrategySpec,
    TradingLimits,
)
from app.store.bar import parse_interval

CLASSES = [
    BacktestConfig, LiveConfig, IndicatorSpec, HistoricalData, HistoricalConfig, GapFillerConfig,
    DataConfig, StrategySpec, TradingLimits, RunConfig, SessionConfig,
]
_PARAM_LINE = re.compile(r"^    (\w+) : (.+)$", re.MULTILINE)


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_docstring_documents_every_field_with_its_default(cls):
    documented = dict(_PARAM_LINE.findall(cls.__doc__))
    for f in dataclasses.fields(cls):
        assert f.name in documented, f"{cls.__name__}.{f.name} is not documented"
        _, _, default_text = documented[f.name].partition(", default ")
        if f.default is not dataclasses.MISSING:
            assert default_text, f"{cls.__name__}.{f.name}: default {f.default!r} not documented"
            assert ast.literal_eval(default_text) == f.default, f"{cls.__name__}.{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            assert default_text == f"{f.default_factory.__name__}()", f"{cls.__name__}.{f.name}"
        else:
            assert not default_text, f"{cls.__name__}.{f.name} is required but documents a default"


def test_values_are_frozen_slotted_and_hashable():
    spec = IndicatorSpec(name="sma", period=3, interval=parse_interval("1m"), params=(("k", 1),))
    assert hash(spec) == hash(IndicatorSpec(name="sma", period=3, interval=parse_interval("1m"), params=(("k", 1),)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.period = 4  # type: ignore[misc]
    for cls in CLASSES:
        assert "__slots__" in vars(cls), cls.__name__


def test_indicator_key():
    m5 = parse_interval("5m")
    assert IndicatorSpec(name="ema", period=12, interval=m5).key == "ema_12_5m"
    assert IndicatorSpec(name="vwap", interval=m5).key == "vwap_5m"


def test_strategy_params_dict_is_a_fresh_dict():
    spec = StrategySpec(path="a.b:C", params=(("fast", 3), ("slow", 9)))
    params = spec.params_dict
    params["fast"] = 100
    assert spec.params_dict == {"fast": 3, "slow": 9}
