"""app.progress: the bar on a (pseudo-)terminal, a line per interval off one, nothing when quiet.

Time is a `ManualTime` moved by the test: no sleeps, no timed asserts.
"""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app.progress import ENV_DELAY, ENV_INTERVAL, Progress, format_duration
from app.timing.stopwatch import ManualTime, Stopwatch
from hypothesis import given
from hypothesis import strategies as st

BACKEND = Path(__file__).resolve().parents[2]


def _progress(stream: io.StringIO | object, time: ManualTime, **kw: object) -> Progress:
    return Progress(10, "sessions", "backtest", stream=stream, work_unit="bars",  # type: ignore[arg-type]
                    stopwatch=Stopwatch(time), **kw)  # type: ignore[arg-type]


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, io.TextIOWrapper]]:
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w", encoding="utf-8")
    try:
        yield master, stream
    finally:
        stream.close()
        os.close(master)


def _read_all(master: int) -> str:
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0)
        if not ready:
            return out.decode("utf-8", "replace")
        out += os.read(master, 65536)


def test_off_a_terminal_one_line_per_interval_then_a_final_line():
    time, out = ManualTime(), io.StringIO()
    with _progress(out, time, interval=10.0) as bar:
        for _ in range(10):
            time.jump(3)
            bar.update(1, work=390)
    lines = out.getvalue().splitlines()
    # updates at 3, 6, ..., 30 s: a line at the first update 10 s after the last (12 s, 24 s), then the end
    assert lines == [
        "backtest: 4/10 sessions (40%), 0.3 sessions/s, 130 bars/s, elapsed 0:12, ETA 0:18",
        "backtest: 8/10 sessions (80%), 0.3 sessions/s, 130 bars/s, elapsed 0:24, ETA 0:06",
        "backtest: done 10/10 sessions in 0:30, 0.3 sessions/s, 130 bars/s",
    ]


def test_off_a_terminal_a_run_shorter_than_the_interval_prints_nothing():
    time, out = ManualTime(), io.StringIO()
    with _progress(out, time, interval=10.0) as bar:
        for _ in range(10):
            time.jump(0.5)
            bar.update(1, work=390)
    assert out.getvalue() == ""


def test_interval_zero_writes_a_line_per_update_and_postfix_items():
    time, out = ManualTime(), io.StringIO()
    with _progress(out, time, interval=0.0) as bar:
        for k in range(3):
            time.jump(1)
            bar.update(1, work=100, failed=k)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[2].endswith("ETA 0:07, failed=2") and lines[3].startswith("backtest: done 3/10 sessions in 0:03")


def test_an_exception_ends_with_a_stopped_line():
    time, out = ManualTime(), io.StringIO()
    with pytest.raises(KeyboardInterrupt), _progress(out, time, interval=1.0) as bar:
        time.jump(2)
        bar.update(1)
        raise KeyboardInterrupt
    assert out.getvalue().splitlines()[-1].startswith("backtest: stopped at 1/10 sessions in 0:02")


def test_unknown_total_then_set_total():
    time, out = ManualTime(), io.StringIO()
    bar = Progress(None, "runs", "sweep", stream=out, interval=0.0, stopwatch=Stopwatch(time))
    time.jump(1)
    bar.update(2)
    bar.set_total(4)
    time.jump(1)
    bar.update(1)
    bar.close()
    assert out.getvalue().splitlines() == [
        "sweep: 2 runs, 2.0 runs/s, elapsed 0:01",
        "sweep: 3/4 runs (75%), 1.5 runs/s, elapsed 0:02, ETA 0:01",
        "sweep: done 3/4 runs in 0:02, 1.5 runs/s",
    ]


def test_quiet_shows_nothing_anywhere(pty_pair: tuple[int, io.TextIOWrapper]):
    master, stream = pty_pair
    time, out = ManualTime(), io.StringIO()
    for target in (out, stream):
        with _progress(target, time, quiet=True, interval=0.0) as bar:
            time.jump(5)
            bar.update(3, work=10)
    stream.flush()
    assert out.getvalue() == "" and _read_all(master) == ""


def test_on_a_terminal_a_tqdm_bar_with_done_total_rates_and_eta(pty_pair: tuple[int, io.TextIOWrapper]):
    master, stream = pty_pair
    time = ManualTime()
    with _progress(stream, time, delay=2.0) as bar:
        assert bar.tty
        for _ in range(4):
            time.jump(1)
            bar.update(1, work=500)
    stream.flush()
    shown = _read_all(master)
    assert "\r" in shown and "backtest:" in shown and "|" in shown  # a bar, redrawn in place
    assert "4/10" in shown and "500 bars/s" in shown and "<" in shown  # done/total, work rate, ETA
    assert "1/10" not in shown  # the first update fell inside the delay: not drawn


def test_on_a_terminal_nothing_before_the_delay(pty_pair: tuple[int, io.TextIOWrapper]):
    master, stream = pty_pair
    time = ManualTime()
    with _progress(stream, time, delay=2.0) as bar:
        time.jump(1.5)
        bar.update(10, work=500)
    stream.flush()
    assert _read_all(master) == ""


def test_tqdm_is_imported_only_when_a_bar_is_drawn():
    code = ("import sys, io, os\n"
            "from app.progress import Progress\n"
            "p = Progress(5, 'sessions', 'x', tty=True, stream=io.StringIO(), delay=60)\n"
            "p.update(5); p.close()\n"
            "assert 'tqdm' not in sys.modules, 'tqdm imported by a run that showed no bar'\n"
            "p = Progress(5, 'sessions', 'x', tty=True, stream=io.StringIO(), delay=0)\n"
            "p.update(5); p.close()\n"
            "assert 'tqdm' in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k not in (ENV_DELAY, ENV_INTERVAL)}
    subprocess.run([sys.executable, "-c", code], cwd=BACKEND, env=env, check=True, timeout=60)


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_environment_value_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv(ENV_INTERVAL, value)
    with pytest.raises(ValueError, match=f"environment variable {ENV_INTERVAL}=.*expected a number of seconds"):
        Progress(3, "runs", "sweep", stream=io.StringIO())


def test_environment_overrides_the_callers_delay_and_interval(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_DELAY, "0")
    monkeypatch.setenv(ENV_INTERVAL, "0.5")
    bar = Progress(3, "runs", "sweep", stream=io.StringIO(), delay=2.0, interval=10.0)
    assert (bar.delay_s, bar.interval_s) == (0.0, 0.5)


@given(st.floats(min_value=0, max_value=10 * 86400, allow_nan=False))
def test_format_duration_reads_back(seconds: float):
    parts = [int(p) for p in format_duration(seconds).split(":")]
    back = parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1]
    assert back == int(seconds + 0.5) and all(0 <= p < 60 for p in parts[1:])


def test_a_line_written_while_the_bar_is_drawn_goes_above_it(pty_pair: tuple[int, io.TextIOWrapper]):
    master, stream = pty_pair
    time = ManualTime()
    bar = _progress(stream, time)
    bar.write("before the bar")
    time.jump(1)
    bar.update(1, work=10)
    assert bar.drawing
    bar.write("WARNING a log line")
    bar.update(1, work=10)
    bar.close()
    bar.write("after the bar")
    stream.flush()
    shown = _read_all(master)
    assert shown.startswith("before the bar\r\n")
    ahead, after = shown.split("WARNING a log line")
    assert ahead.endswith("\r") and "2/10" in after  # from column 0 (the bar cleared), then redrawn
    assert after.endswith("after the bar\r\n")
