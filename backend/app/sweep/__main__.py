"""CLI: ``python -m app.sweep SWEEP.yaml [--scheduler ADDRESS] [--workers N] [--output DIR] [--keep-runs]``."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Final, TextIO

from app.errors import ConfigError
from app.runtime.out_dir import folder_problem
from app.sweep.cluster import ClusterError, open_client
from app.sweep.prepare import Prepared, prepare
from app.sweep.results import compounded_test_return, rank_rows, walk_forward_table, write_json, write_table
from app.sweep.runner import Outcome, SweepExecution, WalkForward
from app.sweep.spec import load_sweep_spec
from app.timing.stopwatch import Stopwatch

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
TOP_ROWS: Final = 10
_OWN_FILES: Final = ("sweep.json", "results.csv", "results.parquet")

log = logging.getLogger("app.sweep")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.sweep",
        description="Run a parameter sweep (grid, list or seeded random sample over strategy.params, per symbol "
                    "or group, optionally walk-forward) of a session config on Dask, and rank the runs.")
    p.add_argument("sweep", help="path of the sweep file (YAML; see session_configs/sweep_demo.yaml)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="use an existing Dask cluster (tcp://HOST:8786) instead of a local one (overrides "
                        "sweep.scheduler)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: sweep.workers, else one per core)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="folder for results.parquet/csv, sweep.json, sweep.log (default: sweeps/<name>-<timestamp>)")
    p.add_argument("--keep-runs", action="store_true",
                   help="keep every run's full outputs in DIR/runs/<run_id> (on a cluster: DIR on shared storage)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or progress lines")
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised on the main thread like Ctrl-C (the sweep ends the same way)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 no run completed, 2 usage/config, 130 interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _console_logging()
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers: expected an integer >= 1, received {args.workers}")
    try:
        spec = load_sweep_spec(args.sweep)
        prepared = prepare(spec)
    except ConfigError as e:
        _say(str(e))
        return EXIT_USAGE
    scheduler = args.scheduler or spec.scheduler
    if scheduler and args.workers is not None:
        parser.error("--workers: applies to the local cluster only; an existing scheduler has its own workers")
    out_dir = Path(args.output) if args.output else _default_output(spec.name)
    problem = _output_problem(out_dir)
    if problem:
        _say(problem)
        return EXIT_USAGE
    handler = _log_to(out_dir / "sweep.log")
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run(prepared, args, scheduler, out_dir)
    except ClusterError as e:
        _say(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say(f"interrupted before the sweep started; nothing written to {out_dir}")
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: one line here, the traceback in sweep.log
        log.error("the sweep failed: %s: %s", type(e).__name__, e, exc_info=e)
        _say(f"error: the sweep failed: {type(e).__name__}: {e}; the traceback is in {out_dir / 'sweep.log'}")
        return EXIT_FAILED
    finally:
        logging.getLogger("app").removeHandler(handler)
        handler.close()


def _run(prepared: Prepared, args: argparse.Namespace, scheduler: str | None, out_dir: Path) -> int:
    from app.progress import Progress

    spec = prepared.spec
    keep_dir = out_dir / "runs" if args.keep_runs else None
    scratch = None if scheduler else out_dir / ".scratch"  # a remote worker uses its own temp folder
    workers = None if scheduler else (args.workers or spec.workers)
    walk = None if spec.walk_forward is None or prepared.windows is None else WalkForward(
        prepared.windows, spec.walk_forward.best_by, spec.walk_forward.ascending)
    sw = Stopwatch()
    t0 = sw.now_ns()
    with open_client(scheduler, workers) as (client, where):
        log.info("sweep %s: %d runs of %s on %s (dashboard: %s)", spec.name, prepared.total, spec.base_config, where,
                 client.dashboard_link)
        for path in (keep_dir, scratch):
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
        with Progress(prepared.total, "runs", "sweep", quiet=args.quiet, work_unit="bars", delay=2.0) as progress:
            execution = SweepExecution(client, lambda run: prepared.task(run, keep_dir, scratch), progress, walk)
            outcome = execution.run(prepared.runs)
            if outcome.interrupted and walk is not None:
                outcome.windows.extend(execution.pending_windows(prepared.groups))
            progress.close(stopped=outcome.interrupted)
        # Nothing stops the files from being written now (a second Ctrl-C included).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elapsed_s = sw.elapsed_ns(t0) / 1e9
        frame, windows = _write(prepared, outcome, out_dir, elapsed_s, where)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    _report(out_dir)
    if windows is not None:
        _print_windows(windows, spec.walk_forward.best_by if spec.walk_forward else spec.metric, spec.params.names)
    return _finish(prepared, outcome, frame, out_dir, elapsed_s)


def _write(prepared: Prepared, outcome: Outcome, out_dir: Path, elapsed_s: float, where: str) -> tuple[Any, Any]:
    spec = prepared.spec
    names = spec.params.names
    wf = spec.walk_forward
    frame = rank_rows(outcome.rows, spec.metric, spec.ascending, names, by_window=wf is not None)
    write_table(frame, out_dir, "results")
    counts = frame["status"].value_counts().to_dict()
    table = None
    meta: dict[str, Any] = {
        "name": spec.name, "sweep_file": str(Path(spec.file).resolve()), "base_config": str(spec.base_config),
        "metric": spec.metric, "ascending": spec.ascending, "params": names,
        "param_kind": spec.params.kind, "walk_forward": wf is not None,
        "status": "interrupted" if outcome.interrupted else "completed",
        "runs": len(frame), "planned": prepared.total, "completed": int(counts.get("completed", 0)),
        "failed": int(counts.get("failed", 0)), "cancelled": int(counts.get("cancelled", 0)),
        "cancelled_rows": "runs cancelled by Ctrl-C are rows with status cancelled",
        "elapsed_s": round(elapsed_s, 3), "runs_per_second": round(len(frame) / elapsed_s, 3) if elapsed_s else None,
        "cluster": where,
    }
    if wf is not None:
        table = walk_forward_table(outcome.windows, wf.best_by, names)
        write_table(table, out_dir, "walk_forward")
        meta.update(best_by=wf.best_by, best_by_ascending=wf.ascending, windows=len(prepared.windows or []),
                    train_sessions=wf.train_sessions, test_sessions=wf.test_sessions,
                    step_sessions=wf.step_sessions, anchored=wf.anchored)
        if wf.step_sessions >= wf.test_sessions and len(table):
            meta["test_return_pct_compounded"] = compounded_test_return(table)
    write_json(meta, out_dir / "sweep.json")
    return frame, table


def _report(out_dir: Path) -> None:
    # The HTML report is another package's; a failure there never loses the tables written above.
    try:
        found = importlib.util.find_spec("app.report.sweep_page") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        log.info("no sweep report: app.report.sweep_page is not available")
        return
    try:
        from app.report.sweep_page import write_sweep_report

        path = write_sweep_report(out_dir)
    except Exception as e:  # the report is optional: results.csv/parquet are already written
        log.error("the sweep report failed (results.csv and results.parquet are written): %s: %s",
                  type(e).__name__, e, exc_info=e)
        return
    log.info("sweep report: %s", path)


def _finish(prepared: Prepared, outcome: Outcome, frame: Any, out_dir: Path, elapsed_s: float) -> int:
    spec = prepared.spec
    if prepared.windows is None:  # walk-forward prints its windows instead
        _print_top(frame, spec.metric, spec.params.names, sys.stdout)
    done = int((frame["status"] == "completed").sum())
    failed = int((frame["status"] == "failed").sum())
    rate = len(frame) / elapsed_s if elapsed_s > 0 else 0.0
    line = (f"sweep {spec.name}: {done} completed, {failed} failed of {len(frame)} runs in {elapsed_s:.1f} s "
            f"({rate:.2f} runs/s); results in {out_dir}")
    if outcome.interrupted:
        cancelled = int((frame["status"] == "cancelled").sum())
        _say(f"interrupted; {line} ({cancelled} cancelled runs are rows with status cancelled)")
        return EXIT_INTERRUPTED
    _say(line)
    if done == 0:
        first = frame.loc[frame["status"] == "failed", "error"]
        _say(f"error: no run completed; the first error: {first.iloc[0] if len(first) else 'none'}")
        return EXIT_FAILED
    return EXIT_OK


def _print_windows(table: Any, best_by: str, params: list[str]) -> None:
    columns = ["window", "symbols", "test_start", "test_end", *(f"param.{p}" for p in params), f"train_{best_by}",
               f"test_{best_by}", "test_total_return_pct", "status"]
    shown = table[[c for c in columns if c in table.columns]].rename(columns=lambda c: c.removeprefix("param."))
    sys.stdout.write(f"Walk-forward, parameters chosen by train {best_by}:\n"
                     f"{shown.to_string(index=False, float_format=lambda v: f'{v:.4g}')}\n")


def _print_top(frame: Any, metric: str, params: list[str], out: TextIO) -> None:
    shown = frame[frame["rank"].notna()].head(TOP_ROWS)
    if shown.empty:
        return
    columns = ["rank", "run_id", *(f"param.{p}" for p in params), metric, "total_return_pct", "sharpe",
               "max_drawdown_pct", "trades", "win_rate_pct"]
    columns = list(dict.fromkeys(c for c in columns if c in shown.columns))
    table = shown[columns].rename(columns=lambda c: c.removeprefix("param."))
    out.write(f"Top {len(shown)} by {metric}:\n{table.to_string(index=False, float_format=lambda v: f'{v:.4g}')}\n")
    out.flush()


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _console_logging() -> None:
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[console])


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    app_log = logging.getLogger("app")
    app_log.addHandler(handler)
    app_log.setLevel(logging.INFO)
    return handler


def _default_output(name: str) -> Path:
    from app.timing.clocks import local_stamp

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return Path("sweeps") / f"{safe}-{local_stamp()}"


def _output_problem(out_dir: Path) -> str | None:
    # One line when the sweep folder cannot be used, else None (the folder is made).
    name = f"--output {out_dir}"
    held = [f for f in _OWN_FILES if (out_dir / f).exists()] if out_dir.is_dir() else []
    if held:
        return f"{name}: error: already holds a sweep ({held[0]}); expected a new or empty folder"
    return folder_problem(out_dir, name, "the sweep's files")


if __name__ == "__main__":
    sys.exit(main())
