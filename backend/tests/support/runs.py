"""Helpers to make tiny stores and configs and to run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
BACKEND = REPO / "backend"


def make_store(root: Path, symbols=("AAPL", "SPY"), start=date(2024, 6, 24), end=date(2024, 7, 9)) -> Path:
    from app.data.sample import write_sample

    write_sample(root, symbols=tuple(symbols), start=start, end=end)
    return root


def write_config(path: Path, store: Path, **overrides: Any) -> Path:
    cfg: dict[str, Any] = {
        "session_name": "test",
        "mode": "backtest",
        "calendar": "XNYS",
        "backtest": {"start_date": "2024-06-29", "end_date": "2024-07-07", "speed_multiplier": 0},
        "symbols": ["AAPL", "SPY"],
        "streams": ["1m", "5m", "15m"],
        "historical": {"data": [{"trailing_days": 1, "intervals": ["1m"]}]},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 5, "slow": 20, "quantity": 10}},
        "trading": {"starting_cash": 100000, "max_per_trade": 20000, "max_per_symbol": 20000,
                    "max_open_positions": 2, "commission_per_share": 0.005, "slippage_bps": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(BACKEND / "tests")])}
    env.pop("CI", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=kw.get("cwd", REPO))


@contextmanager
def running_cli(*args: str, env_extra: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start ``python -m app.backtest ARGS`` from the repo root (output piped, text); the process
    is killed if the test leaves before it ended."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(BACKEND / "tests")]), **(env_extra or {})}
    env.pop("CI", None)
    proc = subprocess.Popen([sys.executable, "-m", "app.backtest", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def wait_for_log(out_dir: Path, proc: subprocess.Popen, text: str = "", timeout_s: float = 60) -> None:
    """Wait until ``out_dir/run.log`` holds `text` (or exists, for ""), while `proc` still runs."""
    log, deadline = out_dir / "run.log", time.monotonic() + timeout_s
    while not (log.exists() and text in log.read_text()):
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {text!r} in {log} after {timeout_s} s"
        time.sleep(0.05)
