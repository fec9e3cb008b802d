"""CLI: ``python -m app.backtest CONFIG [--output DIR]`` runs one session config end to end."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from app.errors import AppError, ConfigError, NoBarsError, SessionAborted, ThreadStuckError
from app.progress import Progress
from app.timing.clocks import local_stamp

if TYPE_CHECKING:
    from app.runtime.run import Progress as RunProgress

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.backtest",
        description="Run a trading session config: a backtest over stored bars (data-driven or "
                    "clock-driven) or a live session, and write its reports.")
    p.add_argument("config", nargs="?", help="path of the session config YAML (see session_configs/)")
    p.add_argument("--recover", metavar="RUN_DIR",
                   help="finish the files of a run whose process was killed (kill -9), from its journal, and exit")
    p.add_argument("--replay", metavar="RUN_DIR",
                   help="replay a recorded run (live, or a backtest with run.record) through the same pipeline and "
                        "diff every decision: parity.json and a Parity section in report.txt (default --output "
                        "RUN_DIR/replay)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="folder for the run's files (default: runs/<session_name>-<timestamp>)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary report (no progress bar)")
    p.add_argument("--timings", action="store_true",
                   help="print each session's full engine timing blocks (default: one compact Timings block)")
    p.add_argument("--traceback", action="store_true", help="also print full tracebacks on errors")
    p.add_argument("--outputs", choices=("auto", "process", "inline"), default="auto",
                   help="who encodes the output files: 'process', a second process, from the run's journal while "
                        "the run goes on (on another core); 'inline', this process after the run; 'auto' (default) "
                        "a second process when a core looks free (the 1-minute load average leaves 1.5 "
                        "cores: one for the run, most of one for the writer). The same bytes either way")
    return p


_COLLECTOR_OFF = False
"""True in the CLI's own process (``python -m app.backtest``) from its start until the run starts."""


def _collector_back_on() -> None:
    # Start-up (the config's imports: numpy, pyarrow, yaml, the pipeline's modules; the config and
    # its checks) runs without the cyclic collector in the CLI's own process: what it allocates
    # lives for the whole run and leaves few cycles, and its ~80 young collections were ~20-30 ms
    # of a backtest's ~0.3 s start-up. Freeze what is there (nothing in it is scanned again;
    # run() freezes once more after build: app.runtime.run._prepare_collector), then collect as usual.
    global _COLLECTOR_OFF
    if _COLLECTOR_OFF:
        _COLLECTOR_OFF = False
        gc.freeze()
        gc.enable()


PROGRESS_DELAY_S = 2.0
"""A data-driven run shows its progress bar only once it has lasted this long (APP_PROGRESS_DELAY)."""


def _session_progress(bar: Progress) -> RunProgress:
    """run()'s per-session callback, drawn by `bar`: sessions done/total, bars/s, ETA (app.progress)."""

    def on_session(done: int, total: int, session: date, bars: int) -> None:
        if bar.total != total:
            bar.set_total(total)
        bar.update(done - bar.done, work=bars - bar.work)

    return on_session


class _ConsoleFormatter(logging.Formatter):
    """Console lines without tracebacks: the message says what failed, and run.log keeps the
    full traceback (``--traceback`` prints it here too)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


FREE_CORES_FOR_A_WRITER = 1.5
"""`--outputs auto` starts an output writer process when the load average leaves this many cores."""


def _outputs_process(choice: str) -> bool:
    """Whether an output writer process encodes the files (`--outputs`): on 'auto', when a core looks free."""
    if choice != "auto":
        return choice == "process"
    if os.name != "posix":  # (its pipes are POSIX's: non-blocking writes, select)
        return False
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # (no load average on this platform: cores only)
        load = 0.0
    return cores - load >= FREE_CORES_FOR_A_WRITER


def _default_output(session_name: str) -> Path:
    stamp = local_stamp()
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in session_name)
    return Path("runs") / f"{safe}-{stamp}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 run failed, 2 config/usage, 130 Ctrl-C)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.recover or args.replay:  # finish a killed run's files, or replay a recorded one
        _collector_back_on()
        return _run_dir_command(args)
    if not args.config:
        parser.error("the following arguments are required: config (or --recover RUN_DIR)")
    console = _console_logging(args.traceback)
    from app.config import load_session_config  # here: after the CLI process turned the collector off

    try:
        config = load_session_config(args.config)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    # Paced runs (clock-driven, live) can last long: a status line every 10 s on stderr (below).
    paced = config.pacing != "data_driven"
    # Data-driven runs: a progress bar on a terminal once the run lasts 2 s, a line every 10 s off one.
    try:
        bar = Progress(None, "sessions", "backtest", quiet=args.quiet or paced, delay=PROGRESS_DELAY_S,
                       work_unit="bars")
    except ValueError as e:  # APP_PROGRESS_DELAY / APP_PROGRESS_INTERVAL
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    console.progress = bar  # warnings during the run go above the bar
    out_dir = Path(args.output) if args.output else _default_output(config.session_name)
    problem = _output_problem(out_dir, given=bool(args.output))
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    from app.runtime.controls import RunControls
    from app.runtime.run import run as run_config

    controls = RunControls(on_status=(lambda line: print(line, file=sys.stderr, flush=True)) if paced else None)
    # SIGTERM (docker stop, systemd, CI runners) ends a run like Ctrl-C: threads stopped, reports written.
    signal.signal(signal.SIGTERM, _terminated)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` pauses a backtest; again resumes it
        signal.signal(signal.SIGUSR1, lambda *_: print(controls.toggle(), file=sys.stderr, flush=True))
    _collector_back_on()
    try:
        with bar:
            result = run_config(config, out_dir, progress=_session_progress(bar), controls=controls,
                                outputs_process=_outputs_process(args.outputs))
    except (ConfigError, AppError, KeyboardInterrupt, ThreadStuckError) as e:
        return _failed(e, out_dir, args.traceback)
    from app.metrics.report import format_run_report, format_session_report  # after the run: not start-up

    if not args.quiet:
        for record in result.records:
            print(format_session_report(record, timings=args.timings))
            print()
    print(format_run_report(result.summary))
    s = result.summary
    print(f"{s['session_name']}: {s['sessions']} sessions, {s['bars_processed']:,} bars, "
          f"return {s['trading']['total_return_pct']:.2f}%; reports in {out_dir}", file=sys.stderr)
    return EXIT_OK


class _ConsoleHandler(logging.StreamHandler):
    """Console log lines; while the progress bar is drawn they are written above it, not through it."""

    progress: Progress | None = None

    def emit(self, record: logging.LogRecord) -> None:
        bar = self.progress
        if bar is None or not bar.drawing:
            super().emit(record)
            return
        try:
            bar.write(self.format(record))
        except (OSError, ValueError):
            self.handleError(record)


def _console_logging(show_traceback: bool) -> _ConsoleHandler:
    console = _ConsoleHandler()
    console.setLevel(logging.WARNING)  # run.log also gets INFO (session starts); the console does not
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s [%(threadName)s] %(message)s",
                        handlers=[console])
    if not show_traceback:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_ConsoleFormatter(handler.formatter))
    return console


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised on the main thread like Ctrl-C's KeyboardInterrupt (the run ends the same way)."""

    signal_name = "SIGTERM"


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def _output_problem(out_dir: Path, given: bool) -> str | None:
    # One line when the run folder cannot be used (an existing file, an unwritable place), else None.
    from app.runtime.out_dir import folder_problem

    name = f"--output {out_dir}" if given else f"run folder {out_dir}"
    return folder_problem(out_dir, name, "the run's files")


def _run_dir_command(args: argparse.Namespace) -> int:
    if args.recover:
        return _recover(Path(args.recover))
    return _replay(Path(args.replay), Path(args.output) if args.output else None, args.traceback)


def _replay(run_dir: Path, output: Path | None, show_traceback: bool) -> int:
    # --replay RUN_DIR: the recording replayed and the final-bars backtest run, then the parity (app.recording.replay).
    _console_logging(show_traceback)
    out_dir = output or run_dir / "replay"
    problem = _output_problem(out_dir, given=output is not None)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    from app.metrics.parity import parity_section
    from app.recording.reader import RecordingError
    from app.recording.replay import replay_run

    try:
        parity = replay_run(run_dir, out_dir)
    except RecordingError as e:
        print(f"--replay {run_dir}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, AppError, KeyboardInterrupt, ThreadStuckError) as e:
        return _failed(e, out_dir, show_traceback)
    print(parity_section(parity))
    print(f"replay of {run_dir}: parity.json and report.txt in {out_dir}", file=sys.stderr)
    return EXIT_OK


def _recover(run_dir: Path) -> int:
    from app.runtime.recover import recover

    try:
        summary = recover(run_dir)
    except AppError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{run_dir}: {summary['status_detail']}; reports in {run_dir}", file=sys.stderr)
    return EXIT_OK


def _failed(error: BaseException, out_dir: Path, show_traceback: bool) -> int:
    # What a run that did not succeed prints, and its exit code (checked in the order of the
    # exception hierarchy: the specific AppErrors before AppError itself).
    if isinstance(error, ConfigError):
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, KeyboardInterrupt):
        print(f"interrupted; partial report written to {out_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(error, ThreadStuckError):
        # A thread ignored the stop request: its stacks were dumped and the reports written from
        # the finished sessions; a non-daemon thread would keep the process alive forever, so
        # this is the one place we hard-exit.
        print(f"error: {error}; giving up (thread stacks above); reports written to {out_dir}", file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED if error.interrupted else EXIT_FAILED)
    if show_traceback:
        traceback.print_exception(error)
    print(f"error: {error}", file=sys.stderr)
    if isinstance(error, SessionAborted):
        bug = error.__cause__ is not None and not isinstance(error.__cause__, AppError)
        where = f"; the traceback is in {out_dir / 'run.log'}" if bug and not show_traceback else ""
        print(f"partial report written to {out_dir}{where}", file=sys.stderr)
    elif isinstance(error, NoBarsError):
        print(f"reports written to {out_dir}", file=sys.stderr)
    return EXIT_FAILED


def _exit(code: int) -> NoReturn:
    """End the process with `code`, skipping the interpreter's teardown (~55 ms for a one-year run).

    Every file of the run is closed by now (a stuck thread, ThreadStuckError, cannot be joined
    anyway); the log handlers and the console streams are flushed first.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`... | head`): nothing more can be said there
            pass
    os._exit(code)


if __name__ == "__main__":
    # numpy (imported in main) loads OpenBLAS, which starts a thread per core that spins ~0.1 s
    # of CPU waiting for work the pipeline never gives it (~0.1 s of the process's ~1 s CPU, on
    # the core the pipeline threads and the output writer share). One BLAS thread, unless set.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.disable()  # until the run starts (_collector_back_on)
    _COLLECTOR_OFF = True
    _exit(main())
