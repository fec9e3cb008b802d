"""A live session's duration and achieved speed count from the real start, not its step's
boundary, and ``stop_after_seconds`` runs to its deadline, not to the last whole step before it.

The local feed server streams 1 s bars (the live session tests' setup); a run joins mid-step as a
run started at 02:59:23 joins the 1 m step of 02:59:00. Bounds, no timed asserts: the deadline is
``stop_after_seconds`` after the pipeline was built, which is after the test read its clock.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from test_live_session import run_live, store_1s  # noqa: F401 -- store_1s: a fixture, used by name

STOP_AFTER_S = 3.6  # between whole seconds: the old stop ended at the last whole step, 0.6 s short


def _local(text: str) -> datetime:
    """``2024-01-02 10:00:03 UTC`` (format_ns) or ISO with an offset, as a naive exchange-local time."""
    return datetime.fromisoformat(text if text[10] == "T" else text.rsplit(" ", 1)[0]).replace(tzinfo=None)


@pytest.fixture(scope="module")
def mid_step_run(tmp_path_factory: pytest.TempPathFactory, store_1s, creds_module):  # noqa: F811
    tmp = tmp_path_factory.mktemp("clock_span")
    t0 = time.monotonic()
    result, _ = run_live(tmp, store_1s, stop_after_seconds=STOP_AFTER_S, bar_grace_s=0.05)
    return result, time.monotonic() - t0


@pytest.fixture(scope="module")
def creds_module():
    with pytest.MonkeyPatch.context() as mp:
        from live_support import KEY, SECRET

        mp.setenv("TEST_LIVE_KEY", KEY)
        mp.setenv("TEST_LIVE_SECRET", SECRET)
        yield


def test_session_duration_counts_from_the_real_start_to_the_deadline(mid_step_run):
    result, _ = mid_step_run
    [session] = result.records
    live = session["quality"]["AAPL"]["live"]
    started, ended = _local(live["started"]), _local(live["ended"])
    first, last = _local(live["streamed_from"]), _local(live["streamed_to"])
    assert first < started, "the start is the run's, not its step's boundary"
    assert last <= ended and started < ended
    duration_ms = session["metrics"]["stages"]["session_duration"]["total_ms"]
    assert duration_ms == pytest.approx((ended - started).total_seconds() * 1000, abs=2.0)
    # Real time over real time: the session's span is inside the wall time the stream took.
    assert 0 < session["metrics"]["clock"]["achieved_speed"] <= 1.001
    assert result.summary["status"] == "completed"


def test_stop_after_seconds_runs_until_its_deadline(mid_step_run):
    result, elapsed_s = mid_step_run
    [session] = result.records
    live = session["quality"]["AAPL"]["live"]
    assert elapsed_s >= STOP_AFTER_S  # a lower bound: the deadline is after the test's clock read
    # Only whole steps were published, but the session ran on to its deadline: it ends after the
    # last step shown, not at it (the old deadline was rounded down to that step's end).
    assert _local(live["streamed_to"]) < _local(live["ended"])
