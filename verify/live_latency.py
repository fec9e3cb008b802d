"""Live latency on loopback: the local feed server streaming 1s bars to AlpacaFeed.

Prints, per bar, percentiles of
  close->return : poll() returned the bar, measured from the bar's close (start + 1 s) -- what a
                  strategy would wait at best; includes the server's emit delay and the socket;
  recv->return  : poll() returned the bar, measured from the adapter's receipt (parse + dedupe).
Run from the repo root:

    python verify/live_latency.py [--symbols 20] [--seconds 15] [--max-p99-ms 250]
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BACKEND = Path(__file__).resolve().parents[1] / "backend"
sys.path.insert(0, str(BACKEND))

from app.feeds.alpaca import AlpacaFeed  # noqa: E402
from app.store.bar import BarArrays, parse_interval  # noqa: E402
from app.store.files import write_bars  # noqa: E402


def _store(root: Path, n_symbols: int, minutes: int) -> list[str]:
    start0 = int(np.datetime64("2024-03-01T14:30:00", "ns").astype(np.int64))
    symbols = [f"SYM{i:03d}" for i in range(n_symbols)]
    for i, symbol in enumerate(symbols):
        start = start0 + np.arange(minutes, dtype=np.int64) * 60_000_000_000
        opens = 10.0 + i + np.arange(minutes) * 0.01
        write_bars(root, parse_interval("1m"), symbol, BarArrays(start, opens, opens + 0.1, opens - 0.1, opens, np.full(minutes, 100.0)))
    return symbols


def _start_server(store: Path, log: Path) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "app.feed", "serve", "--store", str(store), "--port", "0", "--speed", "60"]
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ, "PYTHONPATH": str(BACKEND)})
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    if "127.0.0.1:" not in line:
        proc.kill()
        raise SystemExit(f"FAIL server did not start: {line!r}")
    return proc, int(line.split("127.0.0.1:")[1].split()[0])


def _pct(values: list[float]) -> str:
    arr = np.asarray(values)
    return f"p50 {np.percentile(arr, 50):7.2f} ms  p99 {np.percentile(arr, 99):7.2f} ms  max {arr.max():7.2f} ms  (n={arr.size})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--max-p99-ms", type=float, default=250.0, help="FAIL above this close->return p99")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        symbols = _store(Path(tmp) / "store", args.symbols, int(args.seconds) + 30)
        proc, port = _start_server(Path(tmp) / "store", Path(tmp) / "server.log")
        feed = AlpacaFeed(f"ws://127.0.0.1:{port}/v2/iex", f"http://127.0.0.1:{port}", "test-key", "test-secret",
                          symbols, parse_interval("1s"))
        close_to_return, recv_to_return = [], []
        try:
            feed.connect()
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                bars = feed.poll(0.5)
                returned = time.time_ns()
                for bar in bars:
                    close_to_return.append((returned - bar.start_ns - 1_000_000_000) / 1e6)
                    recv_to_return.append((returned - bar.received_ns) / 1e6)
        finally:
            feed.close()
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()
    if not close_to_return:
        print("FAIL no bars received")
        return 1
    print(f"{args.symbols} symbols, 1s bars, {args.seconds:g} s on loopback; stats {feed.stats}")
    print(f"close->return  {_pct(close_to_return)}")
    print(f"recv->return   {_pct(recv_to_return)}")
    p99 = float(np.percentile(close_to_return, 99))
    ok = p99 <= args.max_p99_ms and feed.stats.malformed == 0 and feed.stats.duplicates_dropped == 0
    print(f"{'PASS' if ok else 'FAIL'} close->return p99 {p99:.2f} ms (limit {args.max_p99_ms:g} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
