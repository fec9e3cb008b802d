"""Helpers for the broker tests: a 1s bar store, the local feed and trading servers, a scripted strategy."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml
from app.store.bar import BarArrays, parse_interval
from app.store.files import write_bars
from app.strategies.base import Strategy

BACKEND = Path(__file__).resolve().parents[2]
KEY, SECRET = "test-key", "test-secret"
NS = 1_000_000_000
DAY0 = int(np.datetime64("2024-01-02T00:00:00", "ns").astype(np.int64))
STEPS = 600
BASE_OPEN = {"AAPL": 100.0, "MSFT": 200.0}


def write_store_1s(root: Path) -> Path:
    """1s bars: stored step k has AAPL open 100 + k and MSFT open 200 + k (a price names its step)."""
    for symbol, base in BASE_OPEN.items():
        ks = np.arange(STEPS, dtype=np.int64)
        opens = base + ks.astype(np.float64)
        write_bars(root, parse_interval("1s"), symbol,
                   BarArrays(DAY0 + ks * NS, opens, opens + 0.5, opens - 0.5, opens + 0.25, np.full(STEPS, 100.0)))
    return root


@dataclass(frozen=True)
class Servers:
    feed_port: int
    trading_port: int

    @property
    def feed_ws(self) -> str:
        return f"ws://127.0.0.1:{self.feed_port}/v2/iex"

    @property
    def feed_rest(self) -> str:
        return f"http://127.0.0.1:{self.feed_port}"

    @property
    def trading_url(self) -> str:
        return f"http://127.0.0.1:{self.trading_port}"


@contextmanager
def _process(cmd: list[str], ready: str, log_path: Path, timeout_s: float = 20.0):
    # imported here: a CLI run imports this module as its strategy, without tests/ on its path
    from support.serving import serving

    with serving(cmd, ready, log_path, timeout_s) as (_, port):
        yield port


@contextmanager
def servers(store: Path, log_dir: Path, *trading_args: str):
    """The feed server (1s bars restamped to now) and the trading server following it."""
    feed = [sys.executable, "-m", "app.feed", "serve", "--store", str(store), "--interval", "1s", "--port", "0"]
    with _process(feed, "feed server listening on 127.0.0.1:", log_dir / f"feed-{time.monotonic_ns()}.log") as fp:
        trading = [sys.executable, "-m", "app.broker", "serve", "--port", "0",
                   "--feed-url", f"ws://127.0.0.1:{fp}/v2/iex", *trading_args]
        with _process(trading, "trading server listening on http://127.0.0.1:",
                      log_dir / f"trading-{time.monotonic_ns()}.log") as tp:
            yield Servers(fp, tp)


def rest(servers: Servers, path: str) -> Any:
    """GET `path` from the trading server (what the broker holds, to check the run against)."""
    req = urllib.request.Request(servers.trading_url + path,
                                 headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def broker_config(path: Path, srv: Servers, store: Path, *, stop_after: float = 6, broker: dict | None = None,
                  trading: dict | None = None, params: dict | None = None, name: str = "broker_test") -> Path:
    cfg = {
        "session_name": name, "mode": "live", "calendar": "24/7",
        "live": {"stream_url": srv.feed_ws, "rest_url": srv.feed_rest, "key_env": "TEST_BROKER_KEY",
                 "secret_env": "TEST_BROKER_SECRET", "stop_after_seconds": stop_after, "bar_grace_s": 0.3,
                 "fill_wait_s": 0, "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0},
        "symbols": ["AAPL", "MSFT"], "streams": ["1s"],
        "data": {"store": str(store)},
        "strategy": {"class": "broker_support:Scripted", "params": params or {}},
        "trading": {"starting_cash": 100000, "max_per_trade": 20000, "max_per_symbol": 20000,
                    "max_open_positions": 2, **(trading or {})},
        "broker": {"kind": "alpaca", "trading_url": srv.trading_url, "key_env": "TEST_BROKER_KEY",
                   "secret_env": "TEST_BROKER_SECRET", "timeout_s": 2, "poll_s": 1, **(broker or {})},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


SCRIPT_LOG: list[tuple[str, Any]] = []


class Scripted(Strategy):
    """Places the orders its params list, counted in its own bars of each symbol (1 = first bar seen).

    ``orders``: ``"SYMBOL:BAR:buy|sell:QTY[:LIMIT]"`` or ``"SYMBOL:BAR:cancel:K"`` (cancel the K-th
    order placed) items joined by ``;``. Every result (the order id or None, or cancel's bool) is
    appended to `SCRIPT_LOG`.
    """

    params: ClassVar[dict[str, Any]] = {"orders": ""}

    def on_session_start(self, ctx):
        self.seen: dict[str, int] = {}
        self.placed: list[int | None] = []
        self.plan = [item.split(":") for item in self.p["orders"].split(";") if item]

    def on_bar(self, ctx, bar):
        n = self.seen[bar.symbol] = self.seen.get(bar.symbol, 0) + 1
        for symbol, at, side, qty, *limit in self.plan:
            if symbol == bar.symbol and int(at) == n:
                if side == "cancel":
                    SCRIPT_LOG.append((f"{symbol}:{at}:cancel:{qty}", ctx.cancel(self.placed[int(qty) - 1])))
                    continue
                place = ctx.buy if side == "buy" else ctx.sell
                result = place(symbol, int(qty), float(limit[0]) if limit else None)
                self.placed.append(result)
                SCRIPT_LOG.append((f"{symbol}:{at}:{side}:{qty}", result))
