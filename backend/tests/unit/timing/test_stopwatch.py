"""Stopwatch, Deadline and ManualTime: real time for durations and waits, moved by hand in tests."""

from __future__ import annotations

import math

import pytest
from app.timing.stopwatch import NEVER, ManualTime, Stopwatch, process_age_ns


def test_a_stopwatch_reads_its_source():
    real = ManualTime(7)
    sw = Stopwatch(real)
    t0 = sw.now_ns()
    real.jump(0.25)
    assert t0 == 7 and sw.now_ns() == 7 + 250_000_000 and sw.elapsed_ns(t0) == 250_000_000


def test_a_deadline_counts_down_on_the_stopwatch():
    real = ManualTime()
    deadline = Stopwatch(real).deadline(2.0)
    assert deadline.remaining_s() == 2.0 and not deadline.expired
    real.jump(1.9)
    assert deadline.remaining_s() == pytest.approx(0.1) and not deadline.expired
    real.jump(0.1)
    assert deadline.expired and deadline.remaining_s() == 0.0
    real.jump(1.0)
    assert deadline.remaining_s() == -1.0


def test_a_zero_or_negative_timeout_has_expired_at_once():
    sw = Stopwatch(ManualTime())
    assert sw.deadline(0).expired and sw.deadline(-1.0).expired


def test_no_timeout_is_never_and_reads_no_counter():
    def unreadable() -> int:
        raise AssertionError("read")

    deadline = Stopwatch(unreadable).deadline(None)
    assert deadline is NEVER
    assert not deadline.expired and deadline.remaining_s() == math.inf


def test_manual_time_never_goes_back():
    real = ManualTime(10)
    with pytest.raises(ValueError, match="expected seconds >= 0"):
        real.jump(-1)
    assert real() == 10


def test_the_process_started_before_now_on_any_stopwatch():
    assert process_age_ns() > 0
    sw = Stopwatch(ManualTime(10**18))
    assert sw.process_start_ns() < 10**18
    real = Stopwatch()
    assert real.process_start_ns() < real.now_ns()


def test_only_the_default_counter_is_system_wide():
    # Another process (the output writer) may time from a reading of the default counter only.
    assert Stopwatch().system_wide
    assert not Stopwatch(ManualTime()).system_wide
