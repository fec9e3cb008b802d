"""Live latency on loopback: the local feed server (``python -m app.feed serve``) streaming 1s bars.

Two measurements; both print figures and exit 0 unless a ``--max-p99-ms`` target is given and
missed (or nothing was received).

Full pipeline (default)
    Writes a gap-free 24/7 store of 1s bars for ``--symbols`` symbols (``write_sample``, one day,
    trimmed to what the run streams so the server starts in well under a second), starts the
    feed server on it (``--interval 1s``, speed 1, port 0), writes a ``mode: live`` session
    config pointing at it (``streams: --streams``, SmaCross 3/8), and runs
    ``app.runtime.run.run`` in this process for ``live.stop_after_seconds = --seconds``. Every
    step is complete (no gaps), so no step waits ``live.bar_grace_s``. Prints
      bars received     : ``summary["feed"]["bars"]`` (first deliveries) and the feed counters;
      steps             : steps that reached the strategy (``feed_to_strategy`` count);
      socket->strategy  : ``summary["metrics"]["stages"]["feed_to_strategy"]`` p50/p99/max --
                          a step's last bar off the socket (adapter ``received_ns``) to the
                          strategy's first ``on_bar`` callback of that step (p50/p99 are
                          log-bucket estimates, within 6.25 %; with ~15 steps p99 is the max);
      stage time/step   : p50/max of the coordinator, data_processor and analysis_engine stages
                          (where the socket->strategy time goes);
      close->receipt    : per bar, the bar's close (start + 1 s) to the adapter's ``received_ns``:
                          the server's emit delay plus the socket and frame parsing;
      receipt->poll     : per bar, ``received_ns`` to ``AlpacaFeed.poll_blocks`` returning it to
                          the coordinator (both wrapped around ``poll``/``poll_blocks`` in this
                          process: one ``time.time_ns()`` per non-empty poll, no per-bar work on
                          that thread; a frame's block is expanded to its bars afterwards);
      peak RSS          : this process (pipeline plus the script) and the feed server.
    ``--max-p99-ms`` applies to the socket->strategy p99 (the issue's target: under 2 ms), of
    every run. ``--runs N`` repeats the whole measurement N times (new store, server and
    pipeline each time) and ends with the median, min and max of the runs' p50 and p99: on a
    shared machine one 15-step run's p99 is its slowest step.

Adapter only (``--adapter-only``, the original measurement)
    ``AlpacaFeed`` alone polling the server (a 1m store replayed at ``--speed 60`` as 1s bars);
    per bar, close->return (bar close to ``poll()`` returning it) and recv->return (adapter
    receipt to ``poll()`` returning it). ``--max-p99-ms`` applies to close->return p99.

Run from the repo root:

    python verify/live_latency.py [--symbols 20] [--seconds 15] [--streams 1s,5s,1m]
                                  [--max-p99-ms 2] [--runs 1]
    python verify/live_latency.py --adapter-only [--symbols 20] [--seconds 15] [--max-p99-ms 250]
"""

# ruff: noqa: T201  (a script: it prints its figures)

from __future__ import annotations

import argparse
import gc
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BACKEND = Path(__file__).resolve().parents[1] / "backend"
sys.path.insert(0, str(BACKEND))

from app.feeds.alpaca import AlpacaFeed  # noqa: E402
from app.feeds.live_block import BarBlock  # noqa: E402
from app.store.bar import BarArrays, parse_interval  # noqa: E402
from app.store.files import read_bars_file, write_bars  # noqa: E402

KEY_ENV, SECRET_ENV = "VERIFY_LIVE_KEY", "VERIFY_LIVE_SECRET"


def _store(root: Path, n_symbols: int, minutes: int) -> list[str]:
    start0 = int(np.datetime64("2024-03-01T14:30:00", "ns").astype(np.int64))
    symbols = [f"SYM{i:03d}" for i in range(n_symbols)]
    for i, symbol in enumerate(symbols):
        start = start0 + np.arange(minutes, dtype=np.int64) * 60_000_000_000
        opens = 10.0 + i + np.arange(minutes) * 0.01
        bars = BarArrays(start, opens, opens + 0.1, opens - 0.1, opens, np.full(minutes, 100.0))
        write_bars(root, parse_interval("1m"), symbol, bars)
    return symbols


def _store_1s(root: Path, n_symbols: int, keep: int) -> list[str]:
    """Gap-free 24/7 1s sample bars, one day, each file trimmed to its first `keep` bars."""
    from app.data.sample import write_sample

    symbols = [f"SYM{i:03d}" for i in range(n_symbols)]
    day = datetime.now(UTC).date()
    write_sample(root, symbols=symbols, start=day, end=day, calendar_code="24/7", interval="1s",
                 inject_gaps=False)
    # A whole day (86,400 steps x N symbols) takes the server ~10 s and ~900 MB to load;
    # the run streams only `keep` steps.
    one_s = parse_interval("1s")
    for symbol in symbols:
        bars = read_bars_file(root / "1s" / f"{symbol}.parquet")
        write_bars(root, one_s, symbol, BarArrays(*(np.asarray(col)[:keep] for col in bars)))
    return symbols


def _start_server(store: Path, log: Path, extra: list[str]) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "app.feed", "serve", "--store", str(store), "--port", "0", *extra]
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONPATH": str(BACKEND)})
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if "127.0.0.1:" not in line:
        proc.kill()
        proc.wait(10)
        raise SystemExit(f"FAIL server did not start: {line!r}\n{log.read_text()[-2000:]}")
    return proc, int(line.split("127.0.0.1:")[1].split()[0])


def _stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, from /proc (Linux); None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _pct(values: list[float]) -> str:
    arr = np.asarray(values)
    return (f"p50 {np.percentile(arr, 50):7.2f} ms  p99 {np.percentile(arr, 99):7.2f} ms  "
            f"max {arr.max():7.2f} ms  (n={arr.size})")


def _target(p99: float, limit: float | None, what: str) -> int:
    if limit is None:
        return 0
    met = p99 <= limit
    print(f"target {what} p99 <= {limit:g} ms: {'met' if met else 'MISSED'} ({p99:.3f} ms)")
    return 0 if met else 1


def adapter_only(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        symbols = _store(Path(tmp) / "store", args.symbols, int(args.seconds) + 30)
        proc, port = _start_server(Path(tmp) / "store", Path(tmp) / "server.log", ["--speed", "60"])
        close_to_return, recv_to_return = [], []
        try:
            feed = AlpacaFeed(f"ws://127.0.0.1:{port}/v2/iex", f"http://127.0.0.1:{port}",
                              "test-key", "test-secret", symbols, parse_interval("1s"))
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
        finally:
            _stop_server(proc)
    if not close_to_return:
        print("FAIL no bars received")
        return 1
    print(f"adapter only: {args.symbols} symbols, 1s bars, {args.seconds:g} s on loopback; "
          f"stats {feed.stats}")
    print(f"close->return  {_pct(close_to_return)}")
    print(f"recv->return   {_pct(recv_to_return)}")
    return _target(float(np.percentile(close_to_return, 99)), args.max_p99_ms, "close->return")


def _live_config(path: Path, store: Path, port: int, symbols: list[str], seconds: float,
                 streams: list[str]) -> Path:
    path.write_text(yaml.safe_dump({
        "session_name": "live_latency",
        "mode": "live",
        "calendar": "24/7",
        "live": {"stream_url": f"ws://127.0.0.1:{port}/v2/iex", "rest_url": f"http://127.0.0.1:{port}",
                 "key_env": KEY_ENV, "secret_env": SECRET_ENV, "stop_after_seconds": seconds},
        "symbols": symbols,
        "streams": streams,
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross",
                     "params": {"fast": 3, "slow": 8, "quantity": 10}},
        "trading": {"starting_cash": 100000, "max_per_trade": 20000, "max_per_symbol": 20000,
                    "max_open_positions": 2},
    }, sort_keys=False))
    return path


class _StepTimes:
    """Wall-clock marks (``time.time_ns``, the clock of ``received_ns``) along each live step's way.

    Installed by wrapping, as ``AlpacaFeed.poll`` is, and removed by `remove`: ``poll`` returning
    each bar, the coordinator publishing the step to the processor, the processor's ``_step``
    entry and exit, the engine's ``_walk`` entry and the strategy's first ``on_bar`` of the step.
    """

    def __init__(self) -> None:
        from app.strategies.sma_cross import SmaCross
        from app.sync.subscription import StreamSubscription
        from app.threads.analysis import AnalysisEngine
        from app.threads.processor import DataProcessor

        self.polled: list[tuple[int, list[Any]]] = []
        self.marks: dict[tuple[int, int], dict[str, int]] = {}
        self.first_bar: dict[int, int] = {}  # step end -> the strategy's first on_bar of the step
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, ms) of each collection
        self._gc_start = 0
        gc.callbacks.append(self._gc)
        self._undo: list[tuple[type, str, Any]] = []
        for cls, name, wrap in ((AlpacaFeed, "poll", self._poll), (AlpacaFeed, "poll_blocks", self._poll),
                                (StreamSubscription, "publish", self._publish),
                                (DataProcessor, "_step", self._step),
                                (AnalysisEngine, "_walk", self._walk),
                                (SmaCross, "on_bar", self._on_bar)):
            orig = getattr(cls, name)
            self._undo.append((cls, name, orig))
            setattr(cls, name, wrap(orig))

    def _mark(self, batch: Any, name: str) -> None:
        from app.threads.events import StepBatch

        if isinstance(batch, StepBatch) and batch.received_ns:
            key = (int(batch.ends[0]), batch.received_ns)
            self.marks.setdefault(key, {})[name] = time.time_ns()

    def _poll(self, orig: Any) -> Any:
        def timed(feed: AlpacaFeed, timeout_s: float) -> list[Any]:
            bars = orig(feed, timeout_s)
            if bars:
                self.polled.append((time.time_ns(), bars))  # blocks are expanded afterwards
            return bars
        return timed

    def polled_bars(self) -> list[tuple[int, list[Any]]]:
        """`polled` with each `BarBlock` (a frame's bars as columns) as its bars."""
        return [(t, [b for item in items for b in (item.bars() if isinstance(item, BarBlock) else (item,))])
                for t, items in self.polled]

    def _publish(self, orig: Any) -> Any:
        def timed(sub: Any, event: Any) -> int:
            if sub.name == "Coordinator→Processor":
                self._mark(event, "publish")
            return orig(sub, event)
        return timed

    def _step(self, orig: Any) -> Any:
        def timed(proc: Any, batch: Any) -> None:
            self._mark(batch, "proc_in")
            orig(proc, batch)
            self._mark(batch, "proc_out")
        return timed

    def _walk(self, orig: Any) -> Any:
        def timed(engine: Any, batch: Any) -> None:
            self._mark(batch, "engine")
            orig(engine, batch)
        return timed

    def _on_bar(self, orig: Any) -> Any:
        def timed(strategy: Any, ctx: Any, bar: Any) -> None:
            self.first_bar.setdefault(ctx.now_ns, time.time_ns())
            orig(strategy, ctx, bar)
        return timed

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter_ns()
        else:
            self.gc_pauses.append((info["generation"], (time.perf_counter_ns() - self._gc_start) / 1e6))

    def remove(self) -> None:
        gc.callbacks.remove(self._gc)
        for cls, name, orig in reversed(self._undo):
            setattr(cls, name, orig)

    def segments(self, base_ns: int) -> dict[str, list[float]]:
        """Per step, ms: receipt->poll (the step's last bar), poll->publish (coordinator),
        publish->processor (wake-up), processor, processor->engine, engine->on_bar (the engine's
        work before the first callback), and the total (receipt to the first callback)."""
        polled_at: dict[int, int] = {}
        for t, bars in self.polled_bars():
            for b in bars:
                polled_at[b.start_ns] = max(polled_at.get(b.start_ns, 0), t)
        names = ("receipt->poll", "poll->publish", "publish->processor", "processor",
                 "processor->engine", "engine->on_bar", "total")
        out: dict[str, list[float]] = {k: [] for k in names}
        for (end, received), m in sorted(self.marks.items()):
            polled, first = polled_at.get(end - base_ns), self.first_bar.get(end)
            if polled is None or first is None or len(m) < 4:
                continue
            for name, a, b in (("receipt->poll", received, polled),
                               ("poll->publish", polled, m["publish"]),
                               ("publish->processor", m["publish"], m["proc_in"]),
                               ("processor", m["proc_in"], m["proc_out"]),
                               ("processor->engine", m["proc_out"], m["engine"]),
                               ("engine->on_bar", m["engine"], first),
                               ("total", received, first)):
                out[name].append((b - a) / 1e6)
        return out


def pipeline(args: argparse.Namespace) -> int:
    """Run the full-pipeline measurement ``--runs`` times; with several, end with their spread."""
    codes, figures = [], []
    for k in range(args.runs):
        if args.runs > 1:
            print(f"--- run {k + 1} of {args.runs}")
        code, lat = _pipeline_once(args)
        codes.append(code)
        if lat is not None and lat["count"]:
            figures.append((float(lat["p50_ms"]), float(lat["p99_ms"])))
    if args.runs > 1 and figures:
        p50s, p99s = (sorted(f[i] for f in figures) for i in (0, 1))
        print(f"=== {len(figures)} runs, {args.symbols} symbols: socket->strategy "
              f"p50 median {p50s[len(p50s) // 2]:.3f} ms (min {p50s[0]:.3f}, max {p50s[-1]:.3f}), "
              f"p99 median {p99s[len(p99s) // 2]:.3f} ms (min {p99s[0]:.3f}, max {p99s[-1]:.3f})")
    return max(codes)


def _pipeline_once(args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    from app.config import load_session_config
    from app.runtime.run import run

    os.environ[KEY_ENV], os.environ[SECRET_ENV] = "test-key", "test-secret"
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        t0 = time.perf_counter()
        symbols = _store_1s(store, args.symbols, int(args.seconds) + 60)
        store_s = time.perf_counter() - t0
        proc, port = _start_server(store, Path(tmp) / "server.log",
                                   ["--interval", "1s", "--speed", "1"])
        server_rss = None
        try:
            config = load_session_config(_live_config(Path(tmp) / "live.yaml", store, port, symbols,
                                                      args.seconds, args.streams.split(",")))
            times = _StepTimes()
            t1 = time.perf_counter()
            try:
                result = run(config, Path(tmp) / "out")
            except BaseException:
                log = Path(tmp) / "out" / "run.log"
                if log.exists():
                    sys.stderr.write("run.log (tail):\n" + log.read_text()[-3000:] + "\n")
                raise
            finally:
                times.remove()
            run_s = time.perf_counter() - t1
            server_rss = _peak_rss_mb(proc.pid)
        finally:
            _stop_server(proc)
    summary = result.summary
    feed = summary.get("feed", {})
    lat = summary["metrics"]["stages"]["feed_to_strategy"]
    process = summary["metrics"].get("process", {})
    polled = times.polled_bars()
    close_to_recv = [(b.received_ns - b.start_ns - 1_000_000_000) / 1e6
                     for _, bars in polled for b in bars]
    recv_to_poll = [(t - b.received_ns) / 1e6 for t, bars in polled for b in bars]
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full pipeline: {args.symbols} symbols, streams {args.streams}, "
          f"live.stop_after_seconds {args.seconds:g} on loopback "
          f"(store written in {store_s:.1f} s, run {run_s:.1f} s, "
          f"status {summary.get('status', '?')})")
    print(f"bars received     {feed.get('bars', 0):,} (messages {feed.get('messages', 0):,}, "
          f"updated {feed.get('updated_bars', 0)}, duplicates {feed.get('duplicates_dropped', 0)}, "
          f"malformed {feed.get('malformed', 0)}, reconnects {feed.get('reconnects', 0)}, "
          f"backfilled {feed.get('backfilled_bars', 0)})")
    print(f"steps             {lat['count']:,} reached the strategy "
          f"({summary.get('bars_processed', 0):,} base bars processed, "
          f"{summary['trading']['fills']} fills)")
    if not lat["count"]:
        print("FAIL no step reached the strategy")
        return 1, lat
    print(f"socket->strategy  p50 {lat['p50_ms']:7.3f} ms  p99 {lat['p99_ms']:7.3f} ms  "
          f"max {lat['max_ms']:7.3f} ms  (mean {lat['mean_ms']:.3f} ms, n={lat['count']})")
    stages = summary["metrics"]["stages"]
    print("stage time/step   " + "  ".join(
        f"{name} p50 {stages[name]['p50_ms']:.3f} / max {stages[name]['max_ms']:.3f} ms"
        for name in ("coordinator", "data_processor", "analysis_engine")
        if stages.get(name, {}).get("count")))
    if close_to_recv:
        print(f"close->receipt    {_pct(close_to_recv)}")
        print(f"receipt->poll     {_pct(recv_to_poll)}")
    print("per step, socket->strategy split (exact percentiles of the steps):")
    for name, values in times.segments(parse_interval(args.streams.split(",")[0]).ns).items():
        if values:
            print(f"  {name:19s}{_pct(values)}")
    for gen in (0, 1, 2):
        pauses = [ms for g, ms in times.gc_pauses if g == gen]
        if pauses:
            print(f"gc gen {gen}          {len(pauses)} collections, max {max(pauses):.2f} ms, "
                  f"total {sum(pauses):.1f} ms")
    peak = process.get("peak_rss_mb")
    print(f"peak RSS          this process {self_rss:.0f} MB"
          + (f" (pipeline sampled {peak:.0f} MB)" if peak is not None else "")
          + (f"; feed server {server_rss:.0f} MB" if server_rss is not None else ""))
    return _target(float(lat["p99_ms"]), args.max_p99_ms, "socket->strategy"), lat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--streams", default="1s,5s,1m",
                        help="pipeline: session streams (base 1s first)")
    parser.add_argument("--runs", type=int, default=1,
                        help="pipeline: repeat the measurement this many times (a noisy machine)")
    parser.add_argument("--adapter-only", action="store_true",
                        help="measure AlpacaFeed alone (no pipeline)")
    parser.add_argument("--max-p99-ms", type=float, default=None,
                        help="exit 1 above this p99 (pipeline: socket->strategy, target 2; "
                             "adapter: close->return)")
    args = parser.parse_args()
    return adapter_only(args) if args.adapter_only else pipeline(args)


if __name__ == "__main__":
    sys.exit(main())
