"""A clock-driven backtest records when asked (run.record) and its recording replays to 100%;
a data-driven backtest records nothing by default; ``--replay`` as a CLI (real subprocesses)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from app.config import load_session_config
from app.recording.reader import load_recording
from app.runtime.run import run
from support.runs import cli, make_store, write_config

pytestmark = pytest.mark.threads


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("rec_store"), start=date(2024, 7, 2), end=date(2024, 7, 3))


@pytest.fixture(scope="module")
def clock_run(tmp_path_factory: pytest.TempPathFactory, store: Path) -> Path:
    tmp = tmp_path_factory.mktemp("clock")
    cfg = write_config(tmp / "clock.yaml", store, backtest={"start_date": "2024-07-03", "end_date": "2024-07-03",
                                                             "speed_multiplier": 14400}, run={"record": True})
    run(load_session_config(cfg), tmp / "out")
    return tmp / "out"


def test_a_clock_driven_recording_replays_to_full_parity_through_the_cli(clock_run: Path):
    rec = load_recording(clock_run / "recording")
    summary = json.loads((clock_run / "summary.json").read_text())
    assert len(rec.rows("steps")["step"]) == summary["steps"] and rec.rows("orders")["order_id"]
    assert set(rec.rows("history_loads")["symbol"]) == {"AAPL", "SPY"}  # the session's history, as loaded
    done = cli("-m", "app.backtest", "--replay", str(clock_run), "--output", str(clock_run.parent / "replay"))
    assert done.returncode == 0, done.stderr
    assert "Live vs replay (same steps, same bars)" in done.stdout and "(100.00%)" in done.stdout
    parity = json.loads((clock_run.parent / "replay" / "parity.json").read_text())
    for name in ("replay", "backtest"):
        block = parity[name]
        assert block["parity_pct"] == 100.0 and block["differences"] == [], name
        assert block["identical"] == len(rec.rows("orders")["order_id"])
    # The replay's own files: the same fills and equity as the recorded run.
    assert (clock_run.parent / "replay" / "fills.csv").read_text() == (clock_run / "fills.csv").read_text()
    assert (clock_run.parent / "replay" / "backtest" / "report.txt").exists()


def test_a_data_driven_backtest_records_nothing_by_default(tmp_path: Path, store: Path):
    cfg = write_config(tmp_path / "dd.yaml", store, backtest={"start_date": "2024-07-03", "end_date": "2024-07-03"})
    run(load_session_config(cfg), tmp_path / "out")
    assert not (tmp_path / "out" / "recording").exists()


def test_replay_of_a_folder_without_a_recording_is_one_clear_line_and_exit_2(tmp_path: Path):
    done = cli("-m", "app.backtest", "--replay", str(tmp_path))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "recording/meta.json: not found" in line and "Traceback" not in done.stderr
