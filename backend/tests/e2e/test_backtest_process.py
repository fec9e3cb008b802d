"""What a backtest process loads and how it reports its own time (issue 7, target 3).

Start-up is most of a short backtest's time, so a backtest must not import what only a live
session needs, and a warm calendar cache spares it exchange_calendars. Timings are reported
(summary.json and report.txt), never asserted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.runs import cli, make_store, write_config

from app.timing.calendar import CACHE_ENV

LIVE_ONLY = ("websockets", "msgpack", "app.feed", "app.feeds.alpaca", "app.feeds._alpaca_wire",
             "app.feeds.alpaca_rest", "app.feeds.live_source", "app.threads.live_stream", "app.bars.gapfill")
# Reading local Parquet needs none of these (app.store.parquet_file): pyarrow.parquet would bring
# pyarrow.fs, and with it ssl and the cloud filesystems (~25 ms of start-up); pandas is ~0.5 s.
NOT_FOR_LOCAL_FILES = ("ssl", "_ssl", "pyarrow.parquet", "pyarrow.fs", "pyarrow._fs", "pyarrow._s3fs", "pandas")
# Only a wrong name needs these (the "did you mean" of a config or calendar error).
ONLY_FOR_ERRORS = ("difflib",)

_RUN_AND_LIST_MODULES = """
import json, sys
from app.backtest import main
code = main(sys.argv[1:])
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _backtest_modules(cfg: Path, out: Path, *args: str) -> list[str]:
    proc = cli("-c", _RUN_AND_LIST_MODULES, str(cfg), "--output", str(out), "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["exit"] == 0
    return result["modules"]


def _imported(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("way", ["inline", "process"])
def test_a_backtest_imports_nothing_only_live_sessions_or_remote_files_need(store, tmp_path, way):
    # Arrange
    cfg = write_config(tmp_path / "s.yaml", store)

    # Act
    modules = _backtest_modules(cfg, tmp_path / "out", "--outputs", way)

    # Assert
    assert _imported(modules, LIVE_ONLY) == []
    assert _imported(modules, NOT_FOR_LOCAL_FILES) == []
    assert _imported(modules, ONLY_FOR_ERRORS) == []
    if way == "process":  # the page and the writer's code are the writer process's alone
        assert _imported(modules, ("app.report", "app.runtime.outputs_follower")) == []


def test_with_a_warm_calendar_cache_a_backtest_never_imports_exchange_calendars(
        store, tmp_path, monkeypatch):
    # Arrange: an empty cache, filled by the first run
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "s.yaml", store)
    cold = _backtest_modules(cfg, tmp_path / "cold")

    # Act
    warm = _backtest_modules(cfg, tmp_path / "warm")

    # Assert
    assert "exchange_calendars" in cold
    assert _imported(warm, ("exchange_calendars",)) == []
    fills = [(tmp_path / run / "fills.csv").read_bytes() for run in ("cold", "warm")]
    assert fills[0] == fills[1]


def test_the_summary_breaks_the_process_time_down_by_phase(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "s.yaml", store)

    # Act
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet")

    # Assert
    assert proc.returncode == 0, proc.stderr
    breakdown = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["breakdown"]
    assert set(breakdown) == {"startup_s", "load_s", "run_s", "outputs_s"}
    assert all(value >= 0 for value in breakdown.values())
    assert breakdown["load_s"] <= breakdown["run_s"]  # loading happens within the run
    report = (tmp_path / "out" / "report.txt").read_text()
    process = report[report.rindex("Process:"):].splitlines()
    assert any(line.startswith("  - Startup: ") and "| Outputs: " in line for line in process[:4])
    assert "  - Startup: " in proc.stdout


def test_the_summary_says_how_much_cpu_each_pipeline_thread_used(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "s.yaml", store)

    # Act
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet")

    # Assert: the four threads, each > 0 and together within the process's CPU time
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]
    threads = metrics["threads"]
    assert set(threads) == {"SessionCoordinator", "DataProcessor", "DataUpkeep", "AnalysisEngine"}
    assert all(t["cpu_s"] > 0 for t in threads.values())
    assert sum(t["cpu_s"] for t in threads.values()) <= metrics["process"]["cpu_s"]
    [line] = [ln for ln in (tmp_path / "out" / "report.txt").read_text().splitlines() if "Thread CPU:" in ln]
    assert re.fullmatch(r"  - Thread CPU: SessionCoordinator [\d.]+ s \| DataProcessor [\d.]+ s \| "
                        r"DataUpkeep [\d.]+ s \| AnalysisEngine [\d.]+ s", line)


def _probe_sessions(store: Path, tmp_path: Path) -> list[dict]:
    # Run the CLI with support.collector_probe's strategy: what it saw at each session start.
    seen = tmp_path / "probe.jsonl"
    cfg = write_config(tmp_path / "s.yaml", store, strategy={"class": "support.collector_probe:CollectorProbe",
                                                             "params": {"out": str(seen)}})
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    sessions = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(sessions) == json.loads((tmp_path / "out" / "summary.json").read_text())["sessions"] > 0
    return sessions


def test_the_cli_runs_the_sessions_with_the_garbage_collector_on(store, tmp_path, monkeypatch):
    # The CLI process loads its modules with the collector off (app.backtest): it must be back on
    # before the first session, or a long run would keep every cycle it makes.
    # Arrange
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)

    # Act
    sessions = _probe_sessions(store, tmp_path)

    # Assert: and one BLAS thread (no OpenBLAS threads spinning at numpy's import)
    assert all(s["gc_enabled"] for s in sessions)
    assert all(s["blas_threads"] == "1" for s in sessions)


def test_the_users_own_blas_thread_count_is_kept(store, tmp_path, monkeypatch):
    # Arrange
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")

    # Act
    sessions = _probe_sessions(store, tmp_path)

    # Assert
    assert all(s["blas_threads"] == "3" for s in sessions)
