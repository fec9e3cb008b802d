"""Progress in the real CLIs: a bar on a pseudo-terminal, a line per interval in a pipe, nothing with --quiet.

``APP_PROGRESS_DELAY=0`` shows the bar from the first session whatever the machine's speed
(the 2 s default delay is a unit test with a ManualTime), and ``APP_PROGRESS_INTERVAL=0`` writes
a line per update in a pipe: no test depends on how long a run takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.runs import BACKEND, REPO, make_store, write_config

NO_DELAY = {"APP_PROGRESS_DELAY": "0"}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_PROGRESS_") and k != "CI"}
    return {**env, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(BACKEND / "tests")]), **extra}


def on_a_terminal(args: list[str], extra: dict[str, str]) -> tuple[int, str]:
    """Run ``python ARGS`` with stderr on a pseudo-terminal (stdout piped away); return (exit, stderr)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=_env(extra), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave)
    finally:
        os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout=120)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, out.decode("utf-8", "replace")


def in_a_pipe(args: list[str], extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=_env(extra), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    return write_config(root / "s.yaml", make_store(root / "store"))


def _sessions(out: Path) -> tuple[int, int]:
    summary = json.loads((out / "summary.json").read_text())
    return summary["sessions"], summary["bars_processed"]


def test_backtest_on_a_terminal_shows_the_bar(config: Path, tmp_path: Path):
    code, shown = on_a_terminal(["-m", "app.backtest", str(config), "-o", str(tmp_path / "out")], NO_DELAY)
    assert code == 0, shown
    sessions, _ = _sessions(tmp_path / "out")
    assert f"{sessions}/{sessions}" in shown and "backtest: 100%|" in shown, shown
    assert "bars/s" in shown and "\r" in shown  # the work rate, redrawn in place


def test_backtest_in_a_pipe_writes_a_line_per_interval_and_a_final_line(config: Path, tmp_path: Path):
    proc = in_a_pipe(["-m", "app.backtest", str(config), "-o", str(tmp_path / "out")],
                     {**NO_DELAY, "APP_PROGRESS_INTERVAL": "0"})
    assert proc.returncode == 0, proc.stderr
    sessions, _ = _sessions(tmp_path / "out")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("backtest: ")]
    assert [line.split(" sessions")[0] for line in lines] == [
        *(f"backtest: {k}/{sessions}" for k in range(1, sessions + 1)), f"backtest: done {sessions}/{sessions}"]
    assert "\r" not in proc.stderr and all("bars/s" in line for line in lines)
    assert "ETA" in lines[0]


def test_backtest_quiet_shows_no_bar(config: Path, tmp_path: Path):
    code, shown = on_a_terminal(["-m", "app.backtest", str(config), "-o", str(tmp_path / "out"), "--quiet"],
                                {**NO_DELAY, "APP_PROGRESS_INTERVAL": "0"})
    assert code == 0, shown
    assert "backtest:" not in shown and "%|" not in shown and "sessions" in shown  # the closing line only


def test_a_bad_progress_setting_is_one_line_and_exit_2(config: Path, tmp_path: Path):
    proc = in_a_pipe(["-m", "app.backtest", str(config), "-o", str(tmp_path / "out")],
                     {"APP_PROGRESS_INTERVAL": "often"})
    assert (proc.returncode, proc.stderr) == (
        2, "error: environment variable APP_PROGRESS_INTERVAL='often': expected a number of seconds >= 0\n")


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "aapl.csv"
    rows = [f"2024-07-01T{13 + (m + 30) // 60:02d}:{(m + 30) % 60:02d}:00Z,1,2,0.5,1.5,100" for m in range(390)]
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


def _import(csv_file: Path, store: Path, *more: str) -> list[str]:
    return ["-m", "app.data", "import", str(csv_file), "--symbol", "AAPL", "--interval", "1m",
            "--store", str(store), *more]


def test_data_import_on_a_terminal_shows_the_rows_read_then_parsed(csv_file: Path, tmp_path: Path):
    code, shown = on_a_terminal(_import(csv_file, tmp_path / "store"), NO_DELAY)
    assert code == 0, shown
    assert "import AAPL: read" in shown and "import AAPL: parse: 100%|" in shown and "390/390" in shown, shown


def test_data_import_in_a_pipe_and_quiet(csv_file: Path, tmp_path: Path):
    proc = in_a_pipe(_import(csv_file, tmp_path / "a"), {**NO_DELAY, "APP_PROGRESS_INTERVAL": "0"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("import AAPL: parse: done 390/390 rows in ")
    code, shown = on_a_terminal(_import(csv_file, tmp_path / "b", "--quiet"), NO_DELAY)
    assert (code, shown) == (0, "")
