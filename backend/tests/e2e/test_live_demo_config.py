"""live_demo.yaml: flipping `mode` is the only change, and both modes run the same code."""

from __future__ import annotations

import difflib
import shutil
from datetime import date
from pathlib import Path

import pytest
from app.config import load_session_config
from app.data.sample import write_sample
from app.feeds.alpaca import AlpacaFeed
from app.threads.live_stream import LiveSteps
from app.threads.step_sources import DataDrivenSteps
from app.runtime.build import build
from app.runtime.run import run
from app.timing.clocks import SteppedClock, WallClock

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "session_configs" / "live_demo.yaml"


@pytest.fixture(scope="module")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """session_configs/live_demo.yaml and its backtest twin next to data/sample_1s, as in the repo."""
    root = tmp_path_factory.mktemp("demo")
    (root / "session_configs").mkdir()
    shutil.copy(DEMO, root / "session_configs" / "live_demo.yaml")
    text = DEMO.read_text()
    flipped = text.replace("\nmode: live ", "\nmode: backtest ", 1)
    (root / "session_configs" / "backtest_twin.yaml").write_text(flipped)
    write_sample(root / "data" / "sample_1s", symbols=("AAPL", "MSFT", "SPY"), start=date(2024, 1, 2),
                 end=date(2024, 1, 2), calendar_code="24/7", interval="1s")
    return root


def test_the_two_configs_differ_in_the_mode_line_only(demo_tree):
    live = (demo_tree / "session_configs" / "live_demo.yaml").read_text().splitlines()
    backtest = (demo_tree / "session_configs" / "backtest_twin.yaml").read_text().splitlines()
    changed = [line for line in difflib.unified_diff(live, backtest, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert [c.split("#")[0].strip() for c in changed] == ["-mode: live", "+mode: backtest"]


def test_both_modes_build_the_same_strategy_processor_upkeep_engine_and_reports(demo_tree, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", "test-key")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "test-secret")
    live = build(load_session_config(demo_tree / "session_configs" / "live_demo.yaml"), lambda i, s: None)
    backtest = build(load_session_config(demo_tree / "session_configs" / "backtest_twin.yaml"), lambda i, s: None)
    for part in ("strategy", "processor", "upkeep", "engine", "broker", "coordinator", "supervisor", "data"):
        assert type(getattr(live, part)) is type(getattr(backtest, part)), part
    assert live.plan.symbols == backtest.plan.symbols and live.derived == backtest.derived
    assert live.indicator_keys == backtest.indicator_keys
    assert live.strategy.params == backtest.strategy.params
    # What differs is where bars come from and what the clock is (DESIGN.md rule 7).
    assert isinstance(live.tm.clock, WallClock) and isinstance(backtest.tm.clock, SteppedClock)
    assert isinstance(backtest.coordinator.steps, DataDrivenSteps)
    assert isinstance(live.coordinator.steps, LiveSteps) and isinstance(live.coordinator.steps.live.feed, AlpacaFeed)
    assert live.upkeep.fill is not None and backtest.upkeep.fill is None
    live.coordinator.steps.close()


def test_the_backtest_twin_replays_the_stored_day_the_live_demo_streams(demo_tree, tmp_path):
    result = run(load_session_config(demo_tree / "session_configs" / "backtest_twin.yaml"), tmp_path / "out")
    [session] = result.records
    assert session["date"] == "2024-01-02" and session["clock"]["mode"] == "data_driven"
    assert sum(b["1s"] for b in session["bars"].values()) > 250_000
    assert all(b["5s"] > 0 and b["1m"] > 0 for b in session["bars"].values())
    assert (tmp_path / "out" / "report.txt").exists()
