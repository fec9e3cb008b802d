"""``python -m app.report RUN_DIR [-o FILE]`` and ``python -m app.report --compare RUN_A RUN_B [-o FILE]``.

Exit codes: 0 written (the path printed), 1 the page could not be written, 2 usage or a folder
that is not a run folder (one line naming it), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from app.report.html import ReportError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m app.report",
                description="Write a run's report.html from its files, or compare two runs on one page.")
    p.add_argument("run_dir", nargs="?", type=Path, help="run folder (written by python -m app.backtest)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"),
                   help="put two runs side by side: equity, metrics and the fills that differ")
    p.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="page to write (default: RUN_DIR/report.html; with --compare, "
                        "compare_<A>_vs_<B>.html in the current folder)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.compare and args.run_dir:
            raise _UsageError("give either RUN_DIR or --compare RUN_A RUN_B, not both")
        if not args.compare and not args.run_dir:
            raise _UsageError("the following arguments are required: RUN_DIR (or --compare RUN_A RUN_B)")
    except _UsageError as e:
        sys.stderr.write(f"{parser.format_usage().rstrip()}\npython -m app.report: error: {e}\n")
        return EXIT_USAGE
    try:
        if args.compare:
            from app.report.compare_page import write_compare_report

            a, b = args.compare
            out = args.output or Path(f"compare_{a.resolve().name}_vs_{b.resolve().name}.html")
            path = write_compare_report(a, b, out)
        else:
            from app.report.run_page import write_run_report

            path = write_run_report(args.run_dir, args.output)
    except ReportError as e:
        sys.stderr.write(f"python -m app.report: error: {e}\n")
        return EXIT_USAGE
    except OSError as e:
        sys.stderr.write(f"python -m app.report: error: {e.filename or ''}: cannot write the page "
                         f"({e.strerror or e})\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("python -m app.report: interrupted\n")
        return EXIT_INTERRUPTED
    sys.stdout.write(f"{path}\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
