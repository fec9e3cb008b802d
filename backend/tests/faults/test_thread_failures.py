"""Fault suite: a failure in each of the four pipeline threads, mid-run (issue 8, "a failure in each thread").

Each fault (`support.thread_faults`) raises ``RuntimeError("injected failure in <THREAD>")`` from
a call that thread makes once the run reaches 2024-07-03 11:00, in the third of four sessions,
with 30 steps per hand-off so that the session is only part-way handed off. The run must fail
(`SessionAborted`, exit 1) naming the thread and the exception, join every thread, and leave
outputs that parse and cover the two sessions that finished before the failure.
"""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest
from app.config import load_session_config
from app.errors import SessionAborted
from app.runtime.run import run
from support import thread_faults
from support.runs import cli, make_store, write_config
from support.thread_faults import FAIL_SESSION, THREADS

FINISHED = ["2024-07-01", "2024-07-02"]  # the sessions before 2024-07-03 (2024-07-05 never starts)
# No fill after the failure: the last bar the engine can have seen (upkeep fails at the close).
LAST_BAR = {"DataUpkeep": "2024-07-03T12:59"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _config(tmp_path: Path, store: Path, thread: str) -> Path:
    return write_config(tmp_path / "s.yaml", store, run={"batch_steps": 30},
                        strategy=thread_faults.strategy_for(thread))


def _assert_outputs_parse_and_cover_the_finished_sessions(out: Path, thread: str) -> None:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert thread in summary["status_detail"] and f"RuntimeError: injected failure in {thread}" in summary[
        "status_detail"]
    assert summary["sessions"] == len(FINISHED) and summary["sessions_planned"] == 4
    records = json.loads((out / "sessions.json").read_text())
    assert [r["date"] for r in records] == FINISHED
    assert all(r["bars_processed"] > 0 for r in records)
    with open(out / "equity.csv", newline="") as fh:
        equity = list(csv.DictReader(fh))
    assert len(equity) == summary["steps"]
    assert {row["timestamp"][:10] for row in equity} >= set(FINISHED)
    assert "2024-07-02T16:00:00-04:00" in {row["timestamp"] for row in equity}  # to the close of the last
    assert all(float(row["equity"]) > 0 for row in equity)
    with open(out / "fills.csv", newline="") as fh:
        fills = list(csv.DictReader(fh))
    assert len(fills) == summary["trading"]["fills"]
    last_bar = LAST_BAR.get(thread, "2024-07-03T11:00")
    assert all(row["timestamp"][:16] <= last_bar for row in fills), fills[-1]  # nothing after the failure
    report = (out / "report.txt").read_text()
    first = report.splitlines()[0]
    assert "FAILED" in first and thread in first, first
    assert "2 of 4 sessions" in report
    assert f"{thread} failed" in (out / "run.log").read_text()


@pytest.mark.parametrize("thread", THREADS)
def test_a_failure_in_each_thread_fails_the_run_naming_it_and_keeps_the_finished_sessions(
        store, tmp_path, monkeypatch, thread):
    # Arrange
    cfg = _config(tmp_path, store, thread)
    thread_faults.inject(thread, monkeypatch.setattr)

    # Act
    with pytest.raises(SessionAborted) as info:
        run(load_session_config(cfg), tmp_path / "out")

    # Assert: the thread and its exception are named; every pipeline thread has been joined
    # (before run() raised: the leak guard would wait for stragglers); the outputs parse.
    error = info.value
    assert error.thread == thread
    assert f"{thread} failed" in str(error) and f"RuntimeError: injected failure in {thread}" in str(error)
    assert isinstance(error.__cause__, RuntimeError) and str(error.__cause__) == f"injected failure in {thread}"
    assert error.outputs_dir == str(tmp_path / "out")
    assert not [t.name for t in threading.enumerate() if t.name in THREADS]
    _assert_outputs_parse_and_cover_the_finished_sessions(tmp_path / "out", thread)


@pytest.mark.parametrize("thread", [
    "SessionCoordinator", "DataProcessor", "DataUpkeep", "AnalysisEngine",
])
def test_a_thread_failure_names_the_session_it_happened_in(store, tmp_path, monkeypatch, thread):
    # README: exit 1 "a thread failed (the message names it, the clock time and the session ...)".
    cfg = _config(tmp_path, store, thread)
    thread_faults.inject(thread, monkeypatch.setattr)
    with pytest.raises(SessionAborted) as info:
        run(load_session_config(cfg), tmp_path / "out")
    assert info.value.session == FAIL_SESSION
    assert f"{thread} failed at {FAIL_SESSION} " in str(info.value) and f"(session {FAIL_SESSION})" in str(info.value)


@pytest.mark.parametrize("thread", THREADS)
def test_the_cli_exits_1_naming_the_failed_thread_and_writes_the_outputs(store, tmp_path, thread):
    # Arrange: the CLI in a subprocess, with the fault installed before it starts.
    cfg = _config(tmp_path, store, thread)

    # Act
    proc = cli("-m", "support.thread_faults", thread, str(cfg), "--output", str(tmp_path / "out"))

    # Assert
    assert proc.returncode == 1, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {thread} failed") and line.endswith(f"RuntimeError: injected failure in {thread}")
    assert f"partial report written to {tmp_path / 'out'}" in proc.stderr
    _assert_outputs_parse_and_cover_the_finished_sessions(tmp_path / "out", thread)
