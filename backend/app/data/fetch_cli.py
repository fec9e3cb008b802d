"""The ``fetch`` subcommand of ``python -m app.data``: options, keys from the environment, the progress bar."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

from app.data.alpaca_history import ALPACA_DATA_URL, MAX_LIMIT, HistoryClient, RetryPolicy
from app.data.fetch import FetchSettings, Progress, fetch_history
from app.progress import Progress as AppProgress
from app.store.bar import parse_interval
from app.store.files import check_symbol
from app.timing.clocks import WallClock
from app.timing.time_manager import TimeManager

__all__ = ["add_fetch_parser", "run_fetch"]

DEFAULT_KEY_ENV: Final = "APCA_API_KEY_ID"
DEFAULT_SECRET_ENV: Final = "APCA_API_SECRET_KEY"
"""The variables live mode reads by default (``live.key_env`` / ``live.secret_env``)."""
_ENV_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2024-01-02, received {text!r}") from None


def add_fetch_parser(commands: Any) -> None:
    """Add ``fetch`` to the data CLI's subcommands (`commands` is argparse's subparsers action)."""
    p = commands.add_parser("fetch", help="download historical bars from a provider into the store (resumable)")
    p.add_argument("--provider", choices=("alpaca",), default="alpaca", help="data provider")
    p.add_argument("--symbols", required=True, help="comma-separated symbols, e.g. AAPL,MSFT")
    p.add_argument("--interval", default="1m", help="bar interval: 1m or 1d")
    p.add_argument("--start", type=_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--end", type=_date, required=True, help="last day, included (YYYY-MM-DD)")
    p.add_argument("--store", type=Path, required=True, help="store folder")
    p.add_argument("--feed", choices=("iex", "sip"), default="iex", help="Alpaca feed (sip needs a paid plan)")
    p.add_argument("--adjustment", choices=("raw", "split", "dividend", "all"), default="raw", help="price adjustment")
    p.add_argument("--key-env", default=DEFAULT_KEY_ENV, help="environment variable holding the API key")
    p.add_argument("--secret-env", default=DEFAULT_SECRET_ENV, help="environment variable holding the API secret")
    p.add_argument("--rest-url", default=ALPACA_DATA_URL, help="market-data REST URL (e.g. a local feed server)")
    p.add_argument("--calendar", default="XNYS", help="exchange calendar code of the trading days")
    p.add_argument("--keep-extended-hours", action="store_true", help="keep bars outside regular sessions")
    p.add_argument("--days-per-request", type=int, default=5, help="trading days asked per request (>= 1)")
    p.add_argument("--page-limit", type=int, default=MAX_LIMIT, help=f"bars per page, 1..{MAX_LIMIT}")
    p.add_argument("--retries", type=int, default=5, help="retries of a request answered 5xx, in a row (>= 0)")
    p.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS", help="first retry wait; doubles, max 60")
    p.add_argument("--refetch-empty", action="store_true", help="ask again for days remembered without bars")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _settings(args: argparse.Namespace) -> FetchSettings:
    symbols = tuple(dict.fromkeys(s.strip() for s in args.symbols.split(",") if s.strip()))
    if not symbols:
        raise ValueError("--symbols: expected comma-separated symbols such as AAPL,MSFT, received none")
    for symbol in symbols:
        try:
            check_symbol(symbol)
        except ValueError as e:
            raise ValueError(f"--symbols: {e}") from None
    interval = parse_interval(args.interval)
    if interval.label not in ("1m", "1d", "1s"):
        raise ValueError(f"--interval: expected 1m or 1d (an Alpaca timeframe), received {args.interval!r}")
    if args.end < args.start:
        raise ValueError(f"--end: expected a day on or after --start {args.start}, received {args.end}")
    if args.days_per_request < 1:
        raise ValueError(f"--days-per-request: expected N >= 1, received {args.days_per_request}")
    if not 1 <= args.page_limit <= MAX_LIMIT:
        raise ValueError(f"--page-limit: expected 1..{MAX_LIMIT}, received {args.page_limit}")
    if args.retries < 0 or not args.backoff >= 0:
        raise ValueError(f"--retries, --backoff: expected values >= 0, received {args.retries}, {args.backoff}")
    if not _is_http_url(args.rest_url):
        raise ValueError(f"--rest-url: expected an http:// or https:// URL with a host, received {args.rest_url!r}")
    return FetchSettings(
        symbols=symbols, interval=interval, start=args.start, end=args.end, store=args.store, feed=args.feed,
        adjustment=args.adjustment, provider=args.provider, keep_extended_hours=args.keep_extended_hours,
        days_per_request=args.days_per_request, refetch_empty=args.refetch_empty,
    )


def _is_http_url(text: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        return False
    has_port = not parts.netloc.endswith(":")  # "http://host:" (an empty port) is a typo, not a default
    return parts.scheme in ("http", "https") and bool(parts.hostname) and has_port and (port is None or port > 0)


def _credentials(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    # The values never leave this function but in request headers: no message names them.
    for option, name in (("--key-env", args.key_env), ("--secret-env", args.secret_env)):
        if not _ENV_RE.match(name):
            raise ValueError(f"{option}: expected the name of an environment variable, received {name!r}")
        if not environ.get(name):
            raise ValueError(
                f"{option}: expected environment variable {name} to hold the Alpaca API "
                f"{'key' if option == '--key-env' else 'secret'}, received nothing (export {name}=...)"
            )
    return environ[args.key_env], environ[args.secret_env]


def progress_bar(total: int, done: int, quiet: bool) -> Progress:
    """Return the progress display over (symbol, trading day) pairs, `done` of them already stored."""
    bar = AppProgress(total, "symbol-days", "fetch", quiet=quiet, delay=2.0)
    bar.done = done
    return bar


def run_fetch(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run ``fetch``; print one line per symbol; return 0.

    Raises
    ------
    ValueError
        For bad options or missing credentials (the CLI exits 2).
    FetchError, FeedError, DataError
        When the download stops (the CLI exits 1; the message says what was saved).
    """
    settings = _settings(args)
    key, secret = _credentials(args, os.environ if environ is None else environ)
    if args.quiet:  # the retry notices too: only the result lines and errors
        logging.getLogger("app.data.alpaca_history").setLevel(logging.ERROR)
    time_manager = TimeManager(args.calendar, WallClock())
    client = HistoryClient(
        args.rest_url, key, secret, feed=settings.feed, adjustment=settings.adjustment, limit=args.page_limit,
        policy=RetryPolicy(server_retries=args.retries, backoff_s=args.backoff),
    )
    report = fetch_history(settings, client, time_manager, lambda total, done: progress_bar(total, done, args.quiet))
    stats = client.stats
    lines = report.lines()
    lines.append(
        f"{stats.requests} requests, {stats.pages} pages; {stats.rate_limited} answered 429, "
        f"{stats.server_errors} answered 5xx; waited {sum(stats.waits_s):.1f} s; store {settings.store}"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
