"""The data CLI: ``python -m app.data sample|import|fetch|info`` (synthetic bars, import a file, download, list)."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.data.fetch_cli import add_fetch_parser, run_fetch
from app.data.import_progress import ImportProgress
from app.data.importer import import_bars
from app.data.sample import DEFAULT_SYMBOLS, write_sample
from app.errors import AppError, DataError
from app.store.bar import Interval, parse_interval
from app.store.files import check_symbol, read_bars_file
from app.timing.calendar import UnknownCalendarError, available_calendars

__all__ = ["main"]

_EXIT_OK = 0
_EXIT_DATA = 1
_EXIT_USAGE = 2
_EXIT_INTERRUPTED = 130


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2024-01-02, received {text!r}") from None


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m app.data", description="Create, import and list stored bars.")
    parser.add_argument("--traceback", action="store_true", help="print the full traceback on errors")
    # Not required=True: without a command, main prints the usage line, not only an error.
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    sample = commands.add_parser("sample", help="write deterministic synthetic bars (labelled synthetic)")
    sample.add_argument("--store", type=Path, required=True, help="store folder")
    sample.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS), help="comma-separated symbols")
    sample.add_argument("--start", type=_date, default=date(2024, 1, 2), help="first date (YYYY-MM-DD)")
    sample.add_argument("--end", type=_date, default=date(2024, 7, 31), help="last date (YYYY-MM-DD)")
    sample.add_argument("--calendar", default="XNYS", help="exchange calendar code (24/7 for 1s demos)")
    sample.add_argument("--interval", default="1m", help="base interval, e.g. 1m or 1s")
    sample.add_argument("--seed", type=int, default=7, help="random seed (>= 0)")
    sample.add_argument("--no-gaps", action="store_true", help="do not inject the listed gaps")
    imp = commands.add_parser("import", help="import a CSV or Parquet file of one symbol's bars")
    imp.add_argument("file", type=Path, help="CSV or Parquet (.parquet, .pq) source file")
    imp.add_argument("--symbol", required=True)
    imp.add_argument("--interval", required=True, help="bar interval of the file, e.g. 1m or 1d")
    imp.add_argument("--store", type=Path, required=True, help="store folder")
    imp.add_argument("--calendar", default="XNYS", help="exchange calendar code")
    imp.add_argument("--tz", default=None, help="time zone of timestamps without an offset")
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument("--replace", dest="mode", action="store_const", const="replace", help="overwrite the file")
    mode.add_argument("--merge", dest="mode", action="store_const", const="merge", help="merge; imported rows win")
    imp.set_defaults(mode="new")
    imp.add_argument("--keep-extended-hours", action="store_true", help="accept bars outside regular sessions")
    imp.add_argument("--quiet", "-q", action="store_true", help="no progress bar (shown after 2 s otherwise)")
    add_fetch_parser(commands)
    info = commands.add_parser("info", help="list the store's files")
    info.add_argument("--store", type=Path, required=True, help="store folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the data CLI and return the exit code (0 ok, 1 data error, 2 usage error, 130 interrupted)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        sys.stderr.write(f"error: {e}\n")
        return _EXIT_USAGE
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else _EXIT_OK
    if args.command is None:
        sys.stderr.write(parser.format_usage())
        sys.stderr.write("error: expected a command: sample, import, fetch or info (python -m app.data --help)\n")
        return _EXIT_USAGE
    try:
        return _run(args)
    except _UsageError as e:
        return _fail(args, e, _EXIT_USAGE)
    except AppError as e:
        return _fail(args, e, _EXIT_DATA)
    except ValueError as e:  # invalid symbol, interval, calendar, time zone, seed, dates
        return _fail(args, e, _EXIT_USAGE)
    except OSError as e:
        return _fail(args, e, _EXIT_DATA)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return _EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 -- CLI top level: a bug is still one error line, exit 1
        return _fail(args, e, _EXIT_DATA, prefix=f"internal error: {type(e).__name__}: ")


def _fail(args: argparse.Namespace, e: BaseException, code: int, prefix: str = "") -> int:
    if args.traceback:
        traceback.print_exception(e, file=sys.stderr)
    sys.stderr.write(f"error: {prefix}{e}\n")
    return code


def _check_option(option: str, check: Callable[[str], object], value: str) -> None:
    try:
        check(value)
    except ValueError as e:
        raise _UsageError(f"{option}: {e}") from None


def _check_tz(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as 'America/New_York', received {name!r}") from None


def _check_calendar(code: str) -> None:
    if code not in available_calendars():
        raise UnknownCalendarError(code)


def _check_options(args: argparse.Namespace) -> None:
    _check_option("--interval", parse_interval, args.interval)
    _check_option("--calendar", _check_calendar, args.calendar)
    if args.command == "import":
        _check_option("--symbol", check_symbol, args.symbol)
        if args.tz is not None:
            _check_option("--tz", _check_tz, args.tz)
    else:
        for symbol in _symbols(args.symbols) or [""]:
            _check_option("--symbols", check_symbol, symbol)


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        return _info(args.store)
    _check_options(args)
    if args.command == "sample":
        return _sample(args)
    if args.command == "fetch":
        return run_fetch(args)
    with ImportProgress(f"import {args.symbol}", quiet=args.quiet) as progress:
        report = import_bars(
            args.file, args.symbol, parse_interval(args.interval), args.store, args.calendar, args.tz,
            args.mode, keep_extended_hours=args.keep_extended_hours, progress=progress,
        )
    sys.stdout.write(report.summary() + "\n")
    return _EXIT_OK


def _sample(args: argparse.Namespace) -> int:
    report = write_sample(
        args.store, _symbols(args.symbols), args.start, args.end, args.calendar, args.interval, args.seed,
        inject_gaps=not args.no_gaps,
    )
    total = sum(report.rows.values())
    sys.stdout.write(
        f"wrote {total:,} synthetic {report.interval} bars of {', '.join(report.rows)} "
        f"({len(report.sessions)} {report.calendar} sessions {report.sessions[0]}..{report.sessions[-1]}, "
        f"{len(report.gaps)} gaps injected) and their 1d bars into {report.store}; "
        f"see {report.store / 'README.txt'}\n"
    )
    return _EXIT_OK


def _symbols(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _info(store: Path) -> int:
    if not store.is_dir():
        raise DataError(str(store), "expected a store folder, received a missing path")
    lines: list[str] = []
    for interval, folder in _interval_folders(store):
        for path in sorted(folder.glob("*.parquet")):
            if path.name.startswith("."):
                continue
            bars = read_bars_file(path)
            span = "no bars" if not len(bars) else f"{_utc(int(bars.start.min()))} .. {_utc(int(bars.start.max()))}"
            lines.append(f"{interval:>4} {path.stem:<10} {len(bars):>12,} rows  {span}")
    sys.stdout.write("\n".join(lines) + "\n" if lines else f"no bar files in {store}\n")
    return _EXIT_OK


def _interval_folders(store: Path) -> Sequence[tuple[str, Path]]:
    found: list[tuple[Interval, Path]] = []
    for folder in store.iterdir():
        if not folder.is_dir():
            continue
        try:
            found.append((parse_interval(folder.name), folder))
        except ValueError:
            continue
    return [(interval.label, folder) for interval, folder in sorted(found, key=lambda item: item[0])]


def _utc(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    frac = ns % 1_000_000_000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


if __name__ == "__main__":
    sys.exit(main())
