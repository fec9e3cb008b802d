"""Command line of the local feed server: parse options, load the replay, run the loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date
from pathlib import Path

from app.errors import DataError
from app.feed.archive import Archive
from app.feed.replay import Replay, load_steps, served_interval
from app.feed.rest_faults import parse_rate_limit
from app.feed.server import FeedServer, ServerOptions
from app.timing.clocks import WallClock

__all__ = ["main"]


def _drops(text: str) -> frozenset[tuple[str, int]]:
    out = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        symbol, sep, nth = item.rpartition(":")
        if not sep or not symbol or not nth.isdigit():
            raise argparse.ArgumentTypeError(f"expected SYM:K[,SYM:K] with K >= 0, received {item!r}")
        out.add((symbol, int(nth)))
    return frozenset(out)


def _rate_limit(text: str) -> object:
    try:
        return parse_rate_limit(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.feed", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve a bar store over the Alpaca v2 protocol on 127.0.0.1")
    p.add_argument("--store", type=Path, required=True, help="bar store folder (<store>/<interval>/<SYMBOL>.parquet)")
    p.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    p.add_argument("--speed", type=int, default=1, help="stream N times finer than stored (1m at 60 -> 1s bars)")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first stored day to replay (YYYY-MM-DD)")
    p.add_argument("--interval", default=None, help="stored interval folder (default: the only one)")
    p.add_argument("--symbols", default=None, help="comma-separated subset of stored symbols")
    p.add_argument("--history-steps", type=int, default=0, help="steps already closed at start (REST history)")
    p.add_argument("--key", default="test-key", help="accepted API key")
    p.add_argument("--secret", default="test-secret", help="accepted API secret")
    p.add_argument(
        "--drop", type=_drops, default=frozenset(), help="SYM:K[,SYM:K]: do not stream SYM's K-th bar (0-based)"
    )
    p.add_argument("--disconnect-after", type=float, default=None, metavar="SECONDS", help="abort every client once")
    p.add_argument(
        "--malformed-after", type=int, default=None, metavar="N", help="send one malformed frame after N bar frames"
    )
    p.add_argument("--reject-auth", action="store_true", help="answer every auth with 402 (REST with 403)")
    p.add_argument(
        "--late", type=_drops, default=frozenset(), metavar="SYM:K[,SYM:K]",
        help="stream SYM's K-th bar (0-based) 1.5 intervals after it closes (REST has it at once)",
    )
    p.add_argument("--updated-bars", action="store_true", help="restate every 10th bar half an interval later")
    p.add_argument(
        "--rest-delay", type=float, default=0.0, metavar="SECONDS", help="answer each REST bars request this late"
    )
    p.add_argument(
        "--rest-archive", action="store_true",
        help="REST serves the stored bars at their stored times, all closed (for python -m app.data fetch)",
    )
    p.add_argument(
        "--rate-limit", type=_rate_limit, default=None, metavar="N/min",
        help="answer REST bars requests beyond N per minute (or N/s) with 429 and Retry-After",
    )
    p.add_argument("--fail-rest", type=int, default=0, metavar="N", help="answer N REST bars requests with 500")
    p.add_argument(
        "--fail-rest-after", type=int, default=0, metavar="K", help="... starting after K requests were served"
    )
    p.add_argument("--stop-after", type=float, default=None, metavar="SECONDS", help="exit after this long")
    p.add_argument("--auth-timeout", type=float, default=10.0, metavar="SECONDS", help="404 if no auth by then")
    p.add_argument("--verbose", action="store_true", help="log at INFO to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 after a clean stop, 2 for bad options or data)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.fail_rest < 0 or args.fail_rest_after < 0:
        parser.error("--fail-rest and --fail-rest-after: expected N >= 0")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("app.feed.websockets").setLevel(logging.WARNING)
    clock = WallClock()
    try:
        symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
        stored = load_steps(args.store, args.interval, symbols, args.start)
        interval = served_interval(stored.interval, args.speed)
    except (DataError, ValueError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    replay = Replay(stored, interval, clock.now_ns(), history_steps=args.history_steps, updates=args.updated_bars)
    options = ServerOptions(
        port=args.port, key=args.key, secret=args.secret, drops=args.drop, lates=args.late,
        disconnect_after_s=args.disconnect_after,
        malformed_after=args.malformed_after, reject_auth=args.reject_auth, stop_after_s=args.stop_after,
        auth_timeout_s=args.auth_timeout, rest_delay_s=args.rest_delay, rest_archive=args.rest_archive,
        rate_limit=args.rate_limit, fail_rest=args.fail_rest, fail_rest_after=args.fail_rest_after,
    )
    server = FeedServer(replay, options, clock)
    if args.rest_archive:
        server.serve_rest_from(Archive(stored))

    def announce(port: int) -> None:
        sys.stdout.write(
            f"feed server listening on 127.0.0.1:{port} (interval {interval.label}, {len(stored.symbols)} symbols, "
            f"start {stored.first_session.isoformat()})\n"
        )
        sys.stdout.flush()

    try:
        asyncio.run(server.run(announce))
    except KeyboardInterrupt:
        pass
    return 0
