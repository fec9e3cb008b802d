"""Helpers for the live-feed tests: a tiny bar store and the local feed server as a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.store.bar import BarArrays, parse_interval
from app.store.files import write_bars
from support.serving import serving

BACKEND = Path(__file__).resolve().parents[2]
KEY, SECRET = "test-key", "test-secret"
STORE_START_NS = int(np.datetime64("2024-03-01T14:30:00", "ns").astype(np.int64))
N_MINUTES = 60
MSFT_MISSING_MINUTE = 7  # stored minute with no MSFT bar (no trades, no bar)


def stored_open(symbol: str, minute: int) -> float:
    """Open of the fixture bar: AAPL 100 + minute, MSFT 200 + minute (a naive oracle for the tests)."""
    return {"AAPL": 100.0, "MSFT": 200.0}[symbol] + minute


def write_store(root: Path) -> Path:
    """Write 1m bars for AAPL and MSFT (MSFT lacks one minute) and three 1d bars each."""
    for symbol in ("AAPL", "MSFT"):
        minutes = [m for m in range(N_MINUTES) if not (symbol == "MSFT" and m == MSFT_MISSING_MINUTE)]
        start = STORE_START_NS + np.array(minutes, dtype=np.int64) * 60_000_000_000
        opens = np.array([stored_open(symbol, m) for m in minutes])
        volume = np.full(len(minutes), 1000.0)
        write_bars(root, parse_interval("1m"), symbol, BarArrays(start, opens, opens + 1, opens - 1, opens + 0.5, volume))
    day0 = int(np.datetime64("2024-03-01", "ns").astype(np.int64))
    for symbol in ("AAPL", "MSFT"):
        start = day0 + np.arange(3, dtype=np.int64) * 86_400_000_000_000
        opens = stored_open(symbol, 0) + np.arange(3.0) * 10
        write_bars(root / "daily", parse_interval("1d"), symbol, BarArrays(start, opens, opens + 5, opens - 5, opens + 1, np.full(3, 1e6)))
    return root


@dataclass(frozen=True)
class Server:
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/iex"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def run_server(store_dir: Path, *args: str, log_dir: Path, timeout_s: float = 15.0):
    """Start ``python -m app.feed serve`` on a free port; terminate and wait on exit (it must exit 0)."""
    log_path = log_dir / f"server-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "app.feed", "serve", "--store", str(store_dir), "--port", "0", *args]
    with serving(cmd, "feed server listening on 127.0.0.1:", log_path, timeout_s, check_exit=True) as (proc, port):
        yield Server(port, proc, log_path)
