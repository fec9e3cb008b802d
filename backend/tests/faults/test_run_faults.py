"""Runs that end badly still end with their reports: a stuck callback, SIGINT, SIGTERM, kill -9.

Each test runs the real CLI in a subprocess on a small store and then reads the run folder
the way a user would: every file that exists parses, and covers every finished session.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import time
from datetime import date
from pathlib import Path

import pytest
from support.runs import cli, make_store, running_cli, wait_for_log, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), start=date(2024, 6, 3), end=date(2024, 7, 9))


def _status_line(out: Path) -> str:
    return (out / "report.txt").read_text().splitlines()[0]


def _assert_written_by(summary: dict, way: str) -> None:
    # The output writer process reports its CPU and memory in the summary; the run's own does not.
    assert ("writer" in summary["metrics"].get("process", {})) == (way == "process")


def _parse_outputs(out: Path) -> tuple[dict, list[dict], list[list[str]], list[list[str]]]:
    summary = json.loads((out / "summary.json").read_text())
    sessions = json.loads((out / "sessions.json").read_text())
    fills = list(csv.reader(io.StringIO((out / "fills.csv").read_text())))
    equity = list(csv.reader(io.StringIO((out / "equity.csv").read_text())))
    return summary, sessions, fills, equity


# Who writes the files: the output writer process or the run's own (auto picks by the machine's load).
WAYS = pytest.mark.parametrize("way", ["process", "inline"])


@WAYS
def test_a_strategy_stuck_in_on_bar_fails_the_run_naming_method_symbol_bar_and_stack(store, tmp_path, way):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"],
                       strategy={"class": "support.faulty:SpinsForever", "params": {"at": 400},
                                 "callback_timeout_s": 1})

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(out), "--quiet", "--outputs", way, timeout=60)

    # One error line names the method, the symbol, the bar and where it was stuck; exit 1.
    assert proc.returncode == 1, proc.stderr
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert "SpinsForever.on_bar did not return within 1 s" in error
    assert "symbol AAPL" in error and "bar 2024-" in error and "faulty.py" in error
    assert "Traceback" not in proc.stderr
    # The whole stack is in run.log; the outputs cover the session that finished before.
    log = (out / "run.log").read_text()
    assert "the stuck thread's stack (SpinsForever.on_bar)" in log
    assert 'analysis.py", line' in log and 'faulty.py", line' in log
    summary, sessions, fills, equity = _parse_outputs(out)
    assert summary["status"] == "failed" and "SpinsForever.on_bar" in summary["status_detail"]
    _assert_written_by(summary, way)
    assert _status_line(out).startswith("Run status: FAILED — ")
    assert len(sessions) == 1  # the first session's bars; stuck at the 400th (in the second)
    # The equity points of the finished session, none of the batch the stuck callback was in.
    assert len(equity) - 1 == summary["steps"] > 0
    assert {row[0][:10] for row in equity[1:]} == {sessions[0]["date"]}


@WAYS
def test_a_callback_blocked_in_a_c_call_cannot_be_interrupted_yet_the_reports_are_written(store, tmp_path, way):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], run={"join_timeout_s": 1},
                       strategy={"class": "support.faulty:BlocksForever", "params": {"at": 400},
                                 "callback_timeout_s": 1})

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(out), "--quiet", "--outputs", way, timeout=60)

    assert proc.returncode == 1, proc.stderr
    assert "thread AnalysisEngine did not stop within 1 s; giving up" in proc.stderr
    summary, sessions, _, _ = _parse_outputs(out)
    assert summary["status"] == "failed"
    assert "BlocksForever.on_bar" in summary["status_detail"]
    _assert_written_by(summary, way)
    assert len(sessions) == 1 and summary["sessions"] == 1
    assert _status_line(out).startswith("Run status: FAILED")


@pytest.mark.parametrize("sig, how", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_a_signal_while_a_callback_is_stuck_ends_the_run_interrupted_with_reports(store, tmp_path, sig, how):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"],
                       strategy={"class": "support.faulty:SpinsForever", "params": {"at": 400},
                                 "callback_timeout_s": 0})  # the watchdog off: only the signal ends it
    with running_cli(str(cfg), "--output", str(out), "--quiet") as proc:
        wait_for_log(out, proc, "SpinsForever: stuck in on_bar")

        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    summary, sessions, _, _ = _parse_outputs(out)
    assert summary["status"] == "interrupted" and summary["status_detail"].startswith(how)
    assert len(sessions) == 1
    assert _status_line(out).startswith(f"Run status: INTERRUPTED — {how}")


def test_sigterm_mid_run_stops_cleanly_with_every_finished_session_reported(store, tmp_path):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.faulty:SlowSessions",
                                 "params": {"fast": 5, "slow": 20, "quantity": 10, "pause_s": 0.4}})
    with running_cli(str(cfg), "--output", str(out), "--quiet") as proc:
        wait_for_log(out, proc, "session 2024-07-01 ended")

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    summary, sessions, _, _ = _parse_outputs(out)
    assert summary["status"] == "interrupted"
    assert summary["sessions"] == len(sessions) >= 1
    assert [s["date"] for s in sessions][0] == "2024-07-01"
    assert not (out / "journal").exists()


def test_kill_9_loses_at_most_the_session_in_progress_and_recover_finishes_the_files(store, tmp_path):
    # Arrange: the reference run, uninterrupted, and the same run killed after a few sessions.
    cfg = write_config(tmp_path / "s.yaml", store,
                       backtest={"start_date": "2024-06-04", "end_date": "2024-07-08", "speed_multiplier": 0},
                       strategy={"class": "support.faulty:SlowSessions",
                                 "params": {"fast": 5, "slow": 20, "quantity": 10, "pause_s": 0.25}})
    ref = tmp_path / "ref"
    done = cli("-m", "app.backtest", str(cfg), "--output", str(ref), "--quiet", timeout=120)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    with running_cli(str(cfg), "--output", str(out), "--quiet") as proc:
        deadline = time.monotonic() + 60
        while True:  # until the journal has committed 4 sessions
            try:
                progress = json.loads((out / "summary.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):  # not there yet
                progress = {}
            if progress.get("sessions_completed", 0) >= 4:
                break
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)

        # Act
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # Assert: summary.json parses and holds the commit record; fills.csv holds every fill of
    # the committed sessions, row for row the reference's.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "running"
    k, committed = summary["sessions_completed"], summary["journal"]
    reference = json.loads((ref / "sessions.json").read_text())
    assert 4 <= k < len(reference)  # it really was killed mid-run
    last_day = reference[k - 1]["date"]

    def rows_until(name: str, day: str) -> str:
        return "".join(row for row in (ref / name).read_text().splitlines(keepends=True)
                       if row.startswith("timestamp") or row[:10] <= day)

    fills = (out / "fills.csv").read_bytes()[: committed["fills.csv"]].decode()
    assert fills == rows_until("fills.csv", last_day)
    assert not (out / "sessions.json").exists()  # never half-written: only whole files by rename

    # Act: finish the files from the journal.
    rec = cli("-m", "app.backtest", "--recover", str(out))

    # Assert: every file parses and covers exactly the k finished sessions, as the full run did.
    assert rec.returncode == 0, rec.stderr
    summary, sessions, _, _ = _parse_outputs(out)
    strip = lambda r: {key: v for key, v in r.items() if key != "metrics"}  # noqa: E731
    assert [strip(r) for r in sessions] == [strip(r) for r in reference[:k]]
    assert (out / "equity.csv").read_text() == rows_until("equity.csv", last_day)
    assert (out / "fills.csv").read_text() == rows_until("fills.csv", last_day)
    assert summary["status"] == "killed" and summary["sessions"] == k
    assert summary["last_session"] == last_day
    assert _status_line(out).startswith("Run status: KILLED — ")
    assert not (out / "journal").exists()
    # A second recovery refuses: the files are complete.
    again = cli("-m", "app.backtest", "--recover", str(out))
    assert again.returncode == 2 and "already complete" in again.stderr
    # The output writer process saw its input end: it renamed nothing and removed its own files.
    deadline = time.monotonic() + 10
    while (out / ".writer").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (out / ".writer").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())


@pytest.mark.parametrize("where, expected", [
    ("file", "is a file; expected a folder for the run's files"),
    ("/proc/nope", "cannot write the run's files there"),
])
def test_an_unusable_output_is_one_line_and_exit_2(store, tmp_path, where, expected):
    cfg = write_config(tmp_path / "s.yaml", store)
    target = tmp_path / "taken.txt" if where == "file" else Path(where)
    if where == "file":
        target.write_text("keep me")

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(target), "--quiet")

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith(f"--output {target}: error: ") and expected in proc.stderr
    if where == "file":
        assert target.read_text() == "keep me"  # nothing lost


@WAYS
def test_a_run_that_processed_no_bars_never_exits_0(store, tmp_path, way):
    # Every session past the store's end, skipped by choice: nothing to trade on.
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "s.yaml", store, data={"store": str(store), "on_missing": "skip"},
                       backtest={"start_date": "2024-08-01", "end_date": "2024-08-02", "speed_multiplier": 0})

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(out), "--quiet", "--outputs", way)

    assert proc.returncode == 1, proc.stderr
    assert "error: the run processed no bars (2 of 2 sessions finished)" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["bars_processed"] == 0
    _assert_written_by(summary, way)
    assert _status_line(out).startswith("Run status: FAILED — the run processed no bars")
