"""Command line of the local trading server: ``python -m app.broker serve [options] [faults]``.

Prints one ready line ``trading server listening on http://127.0.0.1:PORT (stream
ws://127.0.0.1:PORT/stream)`` on stdout once bound (``--port 0`` picks a free port), then serves
until SIGINT/SIGTERM or ``--stop-after``. Exit 0 after a clean stop, 2 for bad options or files,
1 when the price source fails for good (the feed refused the credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from app.broker.server.app import ServerOptions, TradingServer
from app.broker.server.faults import DROP_MODES, GHOST_MODES, REJECT_MODES, Faults
from app.errors import DataError
from app.timing.clocks import WallClock

__all__ = ["main"]


def _position(text: str) -> tuple[str, Decimal, Decimal]:
    parts = text.split(":")
    try:
        if len(parts) != 3 or not parts[0]:
            raise ValueError
        return parts[0], Decimal(parts[1]), Decimal(parts[2])
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(f"expected SYMBOL:QTY:AVG_PRICE (e.g. AAPL:10:150.5), received {text!r}") \
            from None


def _per_minute(text: str) -> int:
    number = text.removesuffix("/min")
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"expected N/min with N >= 1 (e.g. 5/min), received {text!r}")
    return int(number)


def _numbers(text: str) -> frozenset[int]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items or not all(p.isdigit() and int(p) >= 1 for p in items):
        raise argparse.ArgumentTypeError(f"expected 1-based numbers K[,K...], received {text!r}")
    return frozenset(int(p) for p in items)


def _symbols(text: str) -> frozenset[str]:
    return frozenset(s.strip() for s in text.split(",") if s.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.broker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve a paper account over the Alpaca Trading API v2 on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 (default) picks a free one")
    p.add_argument("--key", default="test-key", help="accepted APCA-API-KEY-ID (default test-key)")
    p.add_argument("--secret", default="test-secret", help="accepted APCA-API-SECRET-KEY (default test-secret)")
    p.add_argument("--seed", default="local", help="seed of the deterministic order/execution ids (default local)")
    p.add_argument("--cash", type=Decimal, default=Decimal(100_000), help="starting cash (default 100000)")
    p.add_argument("--position", type=_position, action="append", default=[], metavar="SYM:QTY:AVG",
                   help="seed a position the run did not open (repeatable; negative QTY = short)")
    p.add_argument("--state-file", type=Path, default=None,
                   help="load the account from this file if it exists and save it after every change (restarts)")
    p.add_argument("--market-closed", action="store_true",
                   help="start with the market closed: orders stay accepted until POST /_control/market")
    p.add_argument("--text-frames", action="store_true", help="send trade_updates as text frames (default binary)")
    prices = p.add_mutually_exclusive_group()
    prices.add_argument("--feed-url", default=None, help="follow bars from a feed server, e.g. ws://127.0.0.1:P/v2/iex")
    prices.add_argument("--store", type=Path, default=None, help="replay this bar store here (no feed server)")
    p.add_argument("--feed-key", default="test-key", help="key for the feed server (default test-key)")
    p.add_argument("--feed-secret", default="test-secret", help="secret for the feed server (default test-secret)")
    p.add_argument("--feed-interval", type=float, default=None, metavar="SECONDS",
                   help="bar length of the feed (default: inferred from the bars)")
    p.add_argument("--interval", default=None, help="with --store: stored interval folder (default: the only one)")
    p.add_argument("--symbols", type=_symbols, default=frozenset(), help="with --store: comma-separated subset")
    p.add_argument("--speed", type=int, default=1, help="with --store: stream N times finer (1m at 60 -> 1s bars)")
    p.add_argument("--stop-after", type=float, default=None, metavar="SECONDS", help="exit after this long")
    p.add_argument("--verbose", action="store_true", help="log at INFO to stderr")
    f = p.add_argument_group("faults")
    f.add_argument("--reject-every", type=int, default=None, metavar="N", help="reject every N-th order")
    f.add_argument("--reject-symbols", type=_symbols, default=frozenset(), metavar="SYM[,SYM]",
                   help="reject every order for these symbols")
    f.add_argument("--reject-mode", choices=REJECT_MODES, default="async",
                   help="async: 200 accepted then a rejected event (default); rest: 403 insufficient buying power")
    f.add_argument("--fill-delay", type=float, default=0.0, metavar="SECONDS", help="apply each fill this late")
    f.add_argument("--partial-fills", type=int, default=1, metavar="N", help="fill each order in N parts, one per bar")
    f.add_argument("--drop-stream-after", type=int, default=None, metavar="N",
                   help="drop every trade_updates connection after the N-th event sent (once)")
    f.add_argument("--drop-mode", choices=DROP_MODES, default="abrupt", help="how a stream drop happens")
    f.add_argument("--slot-busy", type=float, default=0.0, metavar="SECONDS",
                   help="after a drop, refuse stream upgrades with 429 this long")
    f.add_argument("--rate-limit", type=_per_minute, default=None, metavar="N/min",
                   help="answer 429 with Retry-After beyond N requests a minute")
    f.add_argument("--ghost-submit", type=_numbers, default=frozenset(), metavar="K[,K]",
                   help="the K-th POST /v2/orders creates the order but its answer is lost")
    f.add_argument("--ghost-mode", choices=GHOST_MODES, default="drop",
                   help="drop the connection (default), stall, or answer 504")
    f.add_argument("--ghost-stall", type=float, default=30.0, metavar="SECONDS", help="stall length (ghost-mode stall)")
    f.add_argument("--dup-events", action="store_true", help="send every new and fill event twice")
    f.add_argument("--cancel-race", action="store_true",
                   help="DELETE /v2/orders/{id} answers 204, then order_cancel_rejected; the order stays working")
    return parser


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    """Return the `ServerOptions` of parsed CLI arguments (raises ValueError for bad fault values)."""
    faults = Faults(
        reject_every=args.reject_every, reject_symbols=args.reject_symbols, reject_mode=args.reject_mode,
        fill_delay_s=args.fill_delay, partial_fills=args.partial_fills, drop_stream_after=args.drop_stream_after,
        drop_mode=args.drop_mode, slot_busy_s=args.slot_busy, rate_limit=args.rate_limit,
        ghost_submits=args.ghost_submit, ghost_mode=args.ghost_mode, ghost_stall_s=args.ghost_stall,
        dup_events=args.dup_events, cancel_race=args.cancel_race,
    )
    if args.cash < 0:
        raise ValueError(f"--cash: expected an amount >= 0, received {args.cash}")
    if args.store is None and (args.interval is not None or args.symbols or args.speed != 1):
        raise ValueError("--interval, --symbols and --speed apply to --store: expected --store DIR with them")
    if args.feed_url is None and args.feed_interval is not None:
        raise ValueError("--feed-interval applies to --feed-url: expected --feed-url URL with it")
    if args.feed_interval is not None and args.feed_interval <= 0:
        raise ValueError(f"--feed-interval: expected seconds > 0, received {args.feed_interval}")
    return ServerOptions(
        host=args.host, port=args.port, key=args.key, secret=args.secret, cash=args.cash, seed=args.seed,
        text_frames=args.text_frames, market_closed=args.market_closed, positions=tuple(args.position),
        state_file=args.state_file, feed_url=args.feed_url, feed_key=args.feed_key, feed_secret=args.feed_secret,
        feed_interval_s=args.feed_interval, store=args.store, store_interval=args.interval,
        store_symbols=tuple(sorted(args.symbols)), speed=args.speed, stop_after_s=args.stop_after, faults=faults,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 after a clean stop, 2 for bad options or files)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("app.broker.websockets").setLevel(logging.WARNING)
    try:
        options = options_from_args(args)
        server = TradingServer(options, WallClock())
    except (ValueError, DataError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2

    def announce(srv: TradingServer) -> None:
        sys.stdout.write(f"trading server listening on {srv.base_url} (stream {srv.stream_url})\n")
        sys.stdout.flush()

    try:
        asyncio.run(server.run(announce))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        sys.stderr.write(f"error: cannot listen on {options.host}:{options.port}: {e}\n")
        return 2
    if server.failure is not None:
        sys.stderr.write(f"error: {server.failure}\n")
        return 1
    return 0
