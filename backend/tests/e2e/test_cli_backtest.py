"""The CLI end to end on real files: reports, determinism, no lookahead, errors, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.runs import cli, make_store, write_config

# 2024-06-29 (Sat) .. 2024-07-07 (Sun): sessions Jul 1, 2, 3 (early close), 5; Jul 4 is a holiday.
SESSIONS = ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _strip_metrics(obj):
    if isinstance(obj, dict):
        return {k: _strip_metrics(v) for k, v in obj.items() if k != "metrics"}
    if isinstance(obj, list):
        return [_strip_metrics(v) for v in obj]
    return obj


def test_backtest_writes_every_output_and_one_session_per_trading_day(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "s.yaml", store)

    # Act
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))

    # Assert
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    for name in ("fills.csv", "equity.csv", "sessions.json", "summary.json", "config.yaml", "report.txt"):
        assert (out / name).is_file(), name
    sessions = json.loads((out / "sessions.json").read_text())
    assert [s["date"] for s in sessions] == SESSIONS
    early = sessions[2]
    assert early["early_close"] is True
    assert early["close"].startswith("2024-07-03 13:00:00")
    assert early["quality"]["AAPL"]["expected"] == 210
    assert sessions[0]["quality"]["AAPL"]["expected"] == 390
    for s in sessions:
        for sym in ("AAPL", "SPY"):
            q = s["quality"][sym]
            assert q["present"] + q["missing"] == q["expected"]
            assert s["bars"][sym]["1m"] == q["present"]
            assert sum(g["bars"] for g in q["gaps"]) == q["missing"]
    assert "Performance Metrics Summary:" in proc.stdout
    assert "Performance Metrics (Session): 2024-07-03" in proc.stdout
    with (out / "fills.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header == ["timestamp", "symbol", "side", "quantity", "price", "commission"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sessions"] == 4
    assert summary["status"] == "completed"


def test_three_data_driven_runs_are_byte_identical(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store)
    outs = []
    for i in range(3):
        proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / f"o{i}"), "--quiet")
        assert proc.returncode == 0, proc.stderr
        outs.append(tmp_path / f"o{i}")
    for name in ("fills.csv", "equity.csv"):
        assert len({(o / name).read_bytes() for o in outs}) == 1, name
    for name in ("sessions.json", "summary.json"):
        docs = {json.dumps(_strip_metrics(json.loads((o / name).read_text())), sort_keys=True) for o in outs}
        assert len(docs) == 1, name
    assert (outs[0] / "fills.csv").read_text().count("\n") > 1, "the strategy should trade in this window"


def test_strategy_failure_names_the_engine_exits_1_and_leaves_a_partial_report(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:FailAtBar", "params": {"n": 1000}})
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "error: AnalysisEngine failed at 2024-07-02" in proc.stderr
    assert "America/New_York (session 2024-07-02): ZeroDivisionError: division by zero" in proc.stderr
    assert "partial report written to" in proc.stderr
    sessions = json.loads((tmp_path / "out" / "sessions.json").read_text())
    assert [s["date"] for s in sessions] == ["2024-07-01"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "failed"


def test_broken_yaml_exits_2_with_file_line_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("session_name: x\nmode: backtest\nsymbols: [AAPL,\n")
    proc = cli("-m", "app.backtest", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}:")
    assert ": error: " in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_store_is_a_clear_data_error(tmp_path):
    cfg = write_config(tmp_path / "s.yaml", tmp_path / "nowhere")
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "bar store folder does not exist" in proc.stderr
    assert "python -m app.data sample --store" in proc.stderr


def test_help_lists_the_options():
    proc = cli("-m", "app.backtest", "--help")
    assert proc.returncode == 0
    assert "--output" in proc.stdout and "config" in proc.stdout


def test_live_mode_without_credentials_names_the_variable_and_never_runs_as_a_backtest(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store, mode="live",
                       live={"stream_url": "ws://127.0.0.1:1/v2/iex", "rest_url": "http://127.0.0.1:1",
                             "key_env": "NO_SUCH_KEY_VAR_FOR_TEST"})
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "live.key_env: expected environment variable NO_SUCH_KEY_VAR_FOR_TEST" in proc.stderr
    assert not (tmp_path / "out" / "fills.csv").exists()


def test_a_strategy_asking_for_an_unknown_indicator_is_a_config_error(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:AsksForNonsense", "params": {}})
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "error: strategy.class: AsksForNonsense.indicators() asked for" in proc.stderr
    assert "expected an indicator among" in proc.stderr


def test_an_unsorted_store_file_is_repaired_and_counted_once(store, tmp_path):
    # Arrange: a copy of the store whose AAPL file has two rows swapped.
    import shutil

    from app.store.bar import BarArrays, parse_interval
    from app.store.files import bar_path, read_bars_file, write_bars

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    one_minute = parse_interval("1m")
    bars = read_bars_file(bar_path(copy, one_minute, "AAPL"))
    order = list(range(len(bars)))
    order[2500], order[2501] = order[2501], order[2500]
    write_bars(copy, one_minute, "AAPL", BarArrays(*(col[order] for col in bars)))
    cfg = write_config(tmp_path / "s.yaml", copy)

    # Act
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet")

    # Assert: the run is unaffected, and the repair is reported in one session only.
    assert proc.returncode == 0, proc.stderr
    sessions = json.loads((tmp_path / "out" / "sessions.json").read_text())
    repaired = [s["quality"]["AAPL"]["repaired_out_of_order"] for s in sessions]
    assert repaired[0] > 0 and repaired[1:] == [0] * (len(repaired) - 1)
