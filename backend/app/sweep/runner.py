"""Run a sweep's tasks on a Dask cluster: submit every run, take results as they complete, submit
each walk-forward test run once its window's train runs are in, cancel what is pending on Ctrl-C."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.sweep.plan import RunSpec, Window, best_row, window_test_run
from app.sweep.task import FIGURES, TaskInput, base_row, error_text, run_one

if TYPE_CHECKING:
    from distributed import Client, Future

    from app.progress import Progress

__all__ = ["Outcome", "SweepExecution", "WalkForward"]

log = logging.getLogger(__name__)

_IDLE_S = 0.1  # between looks at the completed queue: Ctrl-C and progress lines stay prompt


@dataclass(frozen=True, slots=True)
class WalkForward:
    """The second phase of a walk-forward sweep: `best_by` on each window's train runs picks its test run."""

    windows: Sequence[Window]
    best_by: str
    ascending: bool


@dataclass
class Outcome:
    """What a sweep produced: one row per submitted run, one summary per (window, group), and how it ended."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


class SweepExecution:
    """Submits runs to `client` and collects their rows (the caller's thread does everything).

    Parameters
    ----------
    client : distributed.Client
    make_task : callable
        RunSpec -> TaskInput (the base config data and where outputs go).
    progress : app.progress.Progress
        Counted once per finished run; refreshed while waiting.
    walk : WalkForward or None
    """

    def __init__(self, client: Client, make_task: Callable[[RunSpec], TaskInput], progress: Progress,
                 walk: WalkForward | None = None) -> None:
        self.client = client
        self.make_task = make_task
        self.progress = progress
        self.walk = walk
        self.outcome = Outcome()
        self._prefix = f"app-sweep-{uuid.uuid4().hex[:8]}"
        self._runs: dict[str, RunSpec] = {}
        self._futures: dict[str, Future] = {}
        self._taken: set[str] = set()
        self._train_left: dict[tuple[int, int], int] = {}
        self._train_rows: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._summaries: dict[tuple[int, int], dict[str, Any]] = {}
        self._failed = 0

    def run(self, runs: Sequence[RunSpec]) -> Outcome:
        """Submit `runs`, wait for every row (and walk-forward's test runs); on KeyboardInterrupt,
        cancel what has not finished, keep what has, and return with ``interrupted`` set."""
        from distributed import as_completed

        for spec in runs:
            if spec.phase == "train" and spec.window is not None:
                cohort = (spec.window, spec.group)
                self._train_left[cohort] = self._train_left.get(cohort, 0) + 1
        queue = as_completed([self._submit(spec) for spec in runs], loop=self.client.loop)
        try:
            while not queue.is_empty():
                if not queue.has_ready():
                    self.progress.refresh()
                    time.sleep(_IDLE_S)
                    continue
                for future in self._take(next(queue)):
                    queue.add(future)
        except KeyboardInterrupt:
            self._interrupted()
        return self.outcome

    def _submit(self, spec: RunSpec) -> Future:
        key = f"{self._prefix}-{spec.run_id}"
        self._runs[key] = spec
        future = self.client.submit(run_one, self.make_task(spec), key=key, pure=False)
        self._futures[key] = future
        return future

    def _take(self, future: Future) -> list[Future]:
        # One finished future -> its row; returns the futures this made necessary (a test run).
        key = str(future.key)
        if key in self._taken:
            return []
        self._taken.add(key)
        spec = self._runs[key]
        row = self._row(future, spec)
        self.outcome.rows.append(row)
        self._failed += row["status"] != "completed"
        log.info("run %s %s%s", spec.run_id, row["status"], f": {row['error']}" if row["error"] else "")
        bars = row.get("bars_processed")
        self.progress.update(1, work=bars if isinstance(bars, int | float) and bars == bars else 0.0,
                             failed=self._failed)
        if self.walk is None or spec.window is None:
            return []
        cohort = (spec.window, spec.group)
        if spec.phase == "test":
            self._summaries[cohort].update(_test_columns(row, self.walk.best_by))
            return []
        self._train_rows.setdefault(cohort, []).append(row)
        self._train_left[cohort] -= 1
        return [] if self._train_left[cohort] else self._choose(cohort)

    def _row(self, future: Future, spec: RunSpec) -> dict[str, Any]:
        if future.status == "finished":
            row: dict[str, Any] = future.result()
            return row
        row = base_row(spec)
        if future.status == "error":
            row.update(status="failed", error=error_text(future.exception()))
        else:
            row.update(status="cancelled", error=f"the task was {future.status} by the cluster")
        return row

    def _choose(self, cohort: tuple[int, int]) -> list[Future]:
        assert self.walk is not None
        window = self.walk.windows[cohort[0]]
        rows = self._train_rows[cohort]
        best = best_row(rows, self.walk.best_by, self.walk.ascending)
        summary = _window_columns(window, rows, self.walk.best_by, best)
        self.outcome.windows.append(summary)
        self._summaries[cohort] = summary
        if self.outcome.interrupted:  # the train runs finished as Ctrl-C came: the pick is kept, not tested
            summary.update(status="cancelled", error="cancelled by Ctrl-C before the test run started")
            return []
        if best is None:
            summary.update(status="failed", error=f"no train run completed with a finite {self.walk.best_by}")
            self.progress.set_total(None if self.progress.total is None else self.progress.total - 1)
            return []
        chosen = next(s for s in self._runs.values() if s.run_id == best["run_id"])
        return [self._submit(window_test_run(window, chosen))]

    def _interrupted(self) -> None:
        self.outcome.interrupted = True
        waiting = [f for k, f in self._futures.items() if k not in self._taken and not f.done()]
        if waiting:
            self.client.cancel(waiting)
        for key, future in list(self._futures.items()):
            if key in self._taken:
                continue
            if future.status in ("finished", "error"):
                self._take(future)  # finished before the cancel: kept (a walk-forward test is not submitted now)
            else:
                self._taken.add(key)
                row = base_row(self._runs[key])
                row.update(status="cancelled", error="cancelled by Ctrl-C before it finished")
                self.outcome.rows.append(row)
        for summary in self.outcome.windows:
            if not summary["status"]:
                summary.update(status="cancelled", error="cancelled by Ctrl-C before the test run finished")

    def pending_windows(self, groups: Sequence[tuple[str, ...] | None]) -> list[dict[str, Any]]:
        """Return a cancelled summary for each (window, group) whose train runs never all finished."""
        assert self.walk is not None
        out = []
        for w in self.walk.windows:
            for g, symbols in enumerate(groups):
                if (w.index, g) not in self._summaries:
                    summary = _window_columns(w, self._train_rows.get((w.index, g), []), self.walk.best_by, None)
                    summary.update(group=g, symbols="" if symbols is None else ",".join(symbols), status="cancelled",
                                   error="cancelled by Ctrl-C before the window's train runs finished")
                    out.append(summary)
        return out


def _window_columns(window: Window, rows: Sequence[Mapping[str, Any]], best_by: str,
                    best: Mapping[str, Any] | None) -> dict[str, Any]:
    first = rows[0] if rows else {}
    out: dict[str, Any] = {
        "window": window.index, "group": first.get("group"), "symbols": first.get("symbols", ""),
        "train_start": window.train_start.isoformat(), "train_end": window.train_end.isoformat(),
        "test_start": window.test_start.isoformat(), "test_end": window.test_end.isoformat(),
        "train_runs": len(rows), "train_completed": sum(r["status"] == "completed" for r in rows),
        "chosen_run": "" if best is None else best["run_id"],
        "param_set": None if best is None else best["param_set"],
    }
    if best is not None:
        out.update({k: v for k, v in best.items() if k.startswith("param.")})
    out[f"train_{best_by}"] = None if best is None else best[best_by]
    out.update({f"test_{name}": None for name in FIGURES})
    out.update(test_run="", status="", error="")
    return out


def _test_columns(row: Mapping[str, Any], best_by: str) -> dict[str, Any]:
    out = {f"test_{name}": row[name] for name in FIGURES}
    out.update(test_run=row["run_id"], status=row["status"], error=row["error"])
    out[f"test_{best_by}"] = row[best_by]
    return out
