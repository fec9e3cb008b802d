"""Test servers as real subprocesses, and the live session config the live-mode tests share."""

from __future__ import annotations

import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

BACKEND = Path(__file__).resolve().parents[2]


@contextmanager
def serving(cmd: list[str], ready: str, log_path: Path, timeout_s: float = 20.0,
            check_exit: bool = False) -> Iterator[tuple[subprocess.Popen, int]]:
    """Start `cmd` (a server printing a first line that starts with `ready` and names
    ``127.0.0.1:PORT``); yield ``(process, port)``; terminate and wait on exit.

    With `check_exit`, a server that does not exit 0 on SIGTERM fails the test.
    """
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    with open(log_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        ok, _, _ = select.select([proc.stdout], [], [], timeout_s)
        line = proc.stdout.readline() if ok else ""
        if not line.startswith(ready):
            raise AssertionError(f"{' '.join(cmd[1:4])} did not start: {line!r}; log: {log_path.read_text()}")
        yield proc, int(line.split("127.0.0.1:")[1].split()[0].split("/")[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
    if check_exit and proc.returncode != 0:  # SIGTERM must stop the server cleanly (exit 0)
        raise AssertionError(f"server exited {proc.returncode}; log: {log_path.read_text()}")


def live_session_config(path: Path, ws_url: str, rest_url: str, store: Path, *, session_name: str,
                        strategy: str, **live: object) -> Path:
    """A 24/7 live session on 1s bars (5s derived) of AAPL and MSFT against a local feed server."""
    cfg = {
        "session_name": session_name, "mode": "live", "calendar": "24/7",
        "live": {"stream_url": ws_url, "rest_url": rest_url, "key_env": "TEST_LIVE_KEY",
                 "secret_env": "TEST_LIVE_SECRET", "stop_after_seconds": 6, "bar_grace_s": 0.3,
                 "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0, **live},
        "symbols": ["AAPL", "MSFT"], "streams": ["1s", "5s"],
        "gap_filler": {"max_retries": 3, "retry_interval_seconds": 0.3},
        "data": {"store": str(store)},
        "strategy": {"class": strategy},
        "trading": {"starting_cash": 100000, "max_per_trade": 20000, "max_per_symbol": 20000,
                    "max_open_positions": 2},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
