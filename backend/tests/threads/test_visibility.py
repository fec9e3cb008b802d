"""Visibility within a step (issue 8), through the real threads: one rule for every callback.

Every bar closed by ``ctx.now`` -- base or derived, of every symbol -- is visible to every
``on_bar`` of that step, and nothing later is (SESSION_ARCHITECTURE.md, "Visibility within a step").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app.config import load_session_config
from app.runtime.run import run
from support import probes
from support.runs import make_store, write_config

MINUTE = 60_000_000_000
SYMBOLS = ["AAPL", "MSFT", "SPY"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), symbols=tuple(SYMBOLS))


@pytest.mark.parametrize(
    "backtest",
    [
        pytest.param({"start_date": "2024-07-01", "end_date": "2024-07-03", "speed_multiplier": 0},
                     id="data_driven"),
        pytest.param({"start_date": "2024-07-03", "end_date": "2024-07-03", "speed_multiplier": 60000},
                     id="clock_driven"),
    ],
)
def test_every_bar_closed_by_now_is_visible_to_every_callback_of_the_step(store, tmp_path, backtest):
    # Arrange: three symbols, a derived 5m stream, a probe that looks at every symbol each callback.
    probes.SEEN.clear()
    cfg = write_config(tmp_path / "s.yaml", store, symbols=SYMBOLS, streams=["1m", "5m"], backtest=backtest,
                       strategy={"class": "support.probes:VisibilityProbe", "params": {"derived": "5m"}})

    # Act
    run(load_session_config(cfg), tmp_path / "out")

    # Assert: at every callback, for every symbol and interval, visible == closed by now (the
    # oracle counts the published series' bars ending at or before now), never one more.
    records = probes.SEEN
    assert len(records) > 500
    for r in records:
        assert r["bar_end"] == r["now"]
        for (symbol, label), (visible, newest_end, closed) in r["seen"].items():
            assert visible == closed, (r["now"], r["symbol"], symbol, label)
            assert newest_end is None or newest_end <= r["now"]
        for symbol, (close, broker_last) in r["prices"].items():
            if close is not None:  # the broker has marked every visible bar: orders price at it
                assert broker_last == close, (r["now"], r["symbol"], symbol)
        for sma_len, base_len in r["sma"].values():
            assert sma_len == base_len  # base indicators follow the same cursor
    # The case: during AAPL's on_bar, MSFT's 1m bar ending now is visible (it has closed),
    # as its 5m bar ending now was already.
    aapl_turns = [r for r in records if r["symbol"] == "AAPL"]
    assert sum(r["seen"][("MSFT", "1m")][1] == r["now"] for r in aapl_turns) > 100
    assert any(r["seen"][("MSFT", "5m")][1] == r["now"] for r in aapl_turns)
    # ... and the later symbols' callbacks of the same step see exactly what the first one saw.
    by_step: dict[int, list[dict]] = {}
    for r in records:
        by_step.setdefault(r["now"], []).append(r)
    assert all(len({repr(r["seen"]) for r in step}) == 1 for step in by_step.values())
