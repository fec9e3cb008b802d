"""Helpers for the recording and replay tests: a 1s store the local feed server streams, a live config."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from app.store.bar import BarArrays, parse_interval
from app.store.files import write_bars
from support.serving import live_session_config

NS = 1_000_000_000
DAY0 = int(np.datetime64("2024-01-02T00:00:00", "ns").astype(np.int64))
STEPS = 600
MSFT_NO_TRADES = 7
BASE_OPEN = {"AAPL": 100.0, "MSFT": 200.0}
KEY, SECRET = "test-key", "test-secret"
HERE = Path(__file__).parent


def write_store_1s(root: Path) -> Path:
    """Stored step k: AAPL open 100 + k, MSFT 200 + k (MSFT has no bar at k = 7)."""
    for symbol, base in BASE_OPEN.items():
        ks = np.array([k for k in range(STEPS) if not (symbol == "MSFT" and k == MSFT_NO_TRADES)], dtype=np.int64)
        opens = base + ks.astype(np.float64)
        write_bars(root, parse_interval("1s"), symbol,
                   BarArrays(DAY0 + ks * NS, opens, opens + 0.5, opens - 0.5, opens + 0.25, np.full(len(ks), 100.0)))
    return root


def live_config(path: Path, ws_url: str, rest_url: str, store: Path, **live: object) -> Path:
    """A 24/7 live session on 1s bars, traded by `DecidesEveryBar`."""
    return live_session_config(path, ws_url, rest_url, store, session_name="replay_test",
                               strategy="replay_strategies:DecidesEveryBar", **live)


def cli_env() -> dict[str, str]:
    """PYTHONPATH for a CLI subprocess that loads `replay_strategies`."""
    backend = HERE.parents[1]
    return {"PYTHONPATH": os.pathsep.join([str(backend), str(backend / "tests"), str(HERE)]),
            "TEST_LIVE_KEY": KEY, "TEST_LIVE_SECRET": SECRET}
