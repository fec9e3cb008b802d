"""The output writer process (app.runtime.outputs_process): whatever happens to it, the run's
files are whole and the same bytes as a run that writes them itself.

Real runs (`run()` on a small store, real threads) with a real writer process; the faults are
real signals to it. The reference is the same config written inline (`outputs_process=False`).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from datetime import date
from pathlib import Path
from typing import Any

import app.runtime.outputs_process as op
import app.runtime.run as run_module
import pytest
from app.config import load_session_config
from app.runtime.outputs_process import TMP_DIR
from support.golden import digests
from support.runs import make_store, write_config

pytestmark = pytest.mark.slow

F_SETPIPE_SZ = 1031  # (Linux: fcntl.F_SETPIPE_SZ from Python 3.10 on some builds only)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp("writer")
    store = make_store(root / "store", start=date(2024, 6, 3), end=date(2024, 7, 9))
    return load_session_config(write_config(root / "s.yaml", store,
                                            backtest={"start_date": "2024-06-04", "end_date": "2024-07-08",
                                                      "speed_multiplier": 0}))


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("inline") / "out"
    run_module.run(config, out)
    return digests(out)


def _capture_writer(monkeypatch) -> list[op.OutputsProcess]:
    started: list[op.OutputsProcess] = []
    real_start = op.OutputsProcess.start

    def start(*args: Any, **kwargs: Any) -> op.OutputsProcess | None:
        writer = real_start(*args, **kwargs)
        assert writer is not None
        started.append(writer)
        return writer

    monkeypatch.setattr(run_module.OutputsProcess, "start", start)
    return started


def _at_session(n: int, action) -> Any:
    def progress(done: int, total: int, session: date, bars: int) -> None:
        if done == n:
            action()
    return progress


def _assert_whole(out: Path) -> None:
    assert not (out / "journal").exists()
    assert not (out / TMP_DIR).exists()
    assert not list(out.glob("*.tmp"))
    assert (out / "report.html").stat().st_size > 0


def test_the_writer_process_writes_the_same_files_and_says_what_it_used(config, reference, tmp_path):
    out = tmp_path / "out"

    summary = run_module.run(config, out, outputs_process=True).summary

    assert digests(out) == reference
    writer = summary["metrics"]["process"]["writer"]
    assert writer["cpu_s"] > 0 and writer["peak_rss_mb"] > 0
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["metrics"]["process"]["writer"]["peak_rss_mb"] > 0
    outputs_s = summary["metrics"]["breakdown"]["outputs_s"]
    assert on_disk["metrics"]["breakdown"]["outputs_s"] == pytest.approx(outputs_s, abs=1e-6)
    assert "Output writer process: CPU " in (out / "report.txt").read_text()
    _assert_whole(out)


def test_a_writer_process_killed_mid_run_leaves_the_run_to_write_every_file(config, reference, tmp_path,
                                                                             monkeypatch):
    started = _capture_writer(monkeypatch)
    out = tmp_path / "out"

    summary = run_module.run(config, out, outputs_process=True,
                             progress=_at_session(3, lambda: os.kill(started[0].pid, signal.SIGKILL))).summary

    assert summary["status"] == "completed"
    assert digests(out) == reference
    assert "writer" not in summary["metrics"].get("process", {})
    assert "output writer process did not finish (nothing renamed" in (out / "run.log").read_text()
    _assert_whole(out)


def test_a_stuck_writer_process_is_stopped_after_its_timeout_and_the_run_writes_every_file(
        config, reference, tmp_path, monkeypatch):
    started = _capture_writer(monkeypatch)
    monkeypatch.setattr(op, "FINISH_TIMEOUT_S", 1.0)
    out = tmp_path / "out"

    run_module.run(config, out, outputs_process=True,
                   progress=_at_session(2, lambda: os.kill(started[0].pid, signal.SIGSTOP)))

    assert digests(out) == reference
    log = (out / "run.log").read_text()
    assert "output writer process: TimeoutError" in log and "did not finish" in log
    _assert_whole(out)


def test_commits_the_writer_missed_are_caught_up_from_the_next_ones(config, reference, tmp_path, monkeypatch):
    # Every other commit message dropped (as on a full pipe): each carries the whole committed
    # lengths, so the next one covers the dropped one, and the end covers the last.
    real = op.OutputsProcess.committed
    calls = [0]

    def every_other(self: op.OutputsProcess, lengths: dict[str, int]) -> None:
        calls[0] += 1
        if calls[0] % 2:
            real(self, lengths)

    monkeypatch.setattr(op.OutputsProcess, "committed", every_other)
    out = tmp_path / "out"

    summary = run_module.run(config, out, outputs_process=True).summary

    assert calls[0] > 10
    assert digests(out) == reference
    assert "writer" in summary["metrics"]["process"]


def test_a_full_pipe_skips_commit_messages_and_never_blocks_the_run(tmp_path):
    # Arrange: a writer process that reads nothing (stopped) behind a one-page pipe.
    from app.timing.stopwatch import Stopwatch

    (tmp_path / "run.log").touch()
    writer = op.OutputsProcess.start(tmp_path, "America/New_York", Stopwatch())
    assert writer is not None
    try:
        os.kill(writer.pid, signal.SIGSTOP)
        fcntl.fcntl(writer.stdin_fd, F_SETPIPE_SZ, 4096)
        lengths = {"fills.csv": 10**9, "journal/equity.bin": 10**9, "journal/sessions.pkl": 10**9}

        # Act: many more messages than the pipe holds.
        for _ in range(500):
            writer.committed(lengths)

        # Assert: every call returned; those that did not fit were counted, not queued.
        assert 0 < writer.skipped < 500
    finally:
        os.kill(writer.pid, signal.SIGCONT)
        writer.close()
    assert not (tmp_path / TMP_DIR).exists()


def test_sigterm_mid_run_with_a_writer_process_ends_interrupted_with_every_file_written(tmp_path):
    # The real CLI: the writer runs in its own session, so the signal is the run's alone; the
    # run hands the writer its end as after any other ending.
    from support.runs import running_cli, wait_for_log

    store = make_store(tmp_path / "store", start=date(2024, 6, 24), end=date(2024, 7, 9))
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.faulty:SlowSessions",
                                 "params": {"fast": 5, "slow": 20, "quantity": 10, "pause_s": 0.4}})
    out = tmp_path / "out"
    with running_cli(str(cfg), "--output", str(out), "--quiet", "--outputs", "process") as proc:
        wait_for_log(out, proc, "session 2024-07-01 ended")

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    summary = json.loads((out / "summary.json").read_text())
    sessions = json.loads((out / "sessions.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["sessions"] == len(sessions) >= 1
    assert "writer" in summary["metrics"]["process"]  # the writer wrote them
    assert (out / "report.txt").read_text().startswith("Run status: INTERRUPTED")
    _assert_whole(out)


def test_a_writer_process_that_cannot_start_leaves_the_run_to_write_every_file(config, reference, tmp_path,
                                                                               monkeypatch):
    def no_process(*args: Any, **kwargs: Any) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(op.subprocess, "Popen", no_process)
    out = tmp_path / "out"

    summary = run_module.run(config, out, outputs_process=True).summary

    assert digests(out) == reference
    assert "writer" not in summary["metrics"].get("process", {})
    assert "output writer process not started ([Errno 11] Resource temporarily unavailable)" in (
        out / "run.log").read_text()
    _assert_whole(out)


def test_the_outputs_time_counts_the_writer_catching_up_with_the_run(config, tmp_path, monkeypatch):
    # The writer is stopped for 0.5 s as the last session ends: the run waits for it, and the
    # outputs' time says so (it is timed from when the run began its outputs, not from when the
    # writer read the run's end).
    import threading

    started = _capture_writer(monkeypatch)
    resume: list[threading.Timer] = []

    def pause_the_writer() -> None:
        pid = started[0].pid
        os.kill(pid, signal.SIGSTOP)
        timer = threading.Timer(0.5, os.kill, (pid, signal.SIGCONT))
        resume.append(timer)
        timer.start()

    out = tmp_path / "out"
    planned = 23  # sessions of the fixture's range (asserted below)
    try:
        summary = run_module.run(config, out, outputs_process=True,
                                 progress=_at_session(planned, pause_the_writer)).summary
    finally:
        for timer in resume:
            timer.join()

    assert summary["sessions"] == planned and resume
    assert summary["metrics"]["breakdown"]["outputs_s"] >= 0.45
    assert "writer" in summary["metrics"]["process"]
