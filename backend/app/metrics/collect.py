"""RunMetrics: per-session PerformanceMetrics rolled into the run's, plus sync and clock figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.metrics.running import MetricsSnapshot, PerformanceMetrics, RunningStat, metrics_dict

__all__ = ["RunMetrics", "SessionMetrics", "session_metrics_dict"]

SessionMetrics = tuple[MetricsSnapshot, dict[str, Any]]
"""`RunMetrics.end_session_snapshot`: the session's `PerformanceMetrics.snapshot` and its clock dict."""


def session_metrics_dict(snapshot: SessionMetrics) -> dict[str, Any]:
    """A session record's ``metrics`` (`RunMetrics.end_session`) from its snapshot."""
    metrics, clock = snapshot
    out = metrics_dict(metrics)
    out["clock"] = clock
    return out

_BACKPRESSURE = {
    "Coordinator→Processor": "backpressure.coordinator_processor",
    "Processor→Analysis": "backpressure.processor_analysis",
}
_COUNTER_KEYS: dict[str, tuple[str, ...]] = {}
"""Per edge name, the counters its overruns add to (built once per name)."""


class _Stats(Protocol):
    @property
    def overruns(self) -> int: ...  # read-only: SubscriptionStats is a NamedTuple


class _Sub(Protocol):
    def statistics(self) -> _Stats: ...

    def reset_max_lag(self) -> int: ...


class RunMetrics:
    """Stage timings for the current session and the whole run.

    Threads record into ``stat(name)`` (one writer thread per stage). At each session end,
    after every stage acked the session, `end_session` snapshots the session's figures,
    merges them into the run's and resets the session's stats in place.

    Warnings
    --------
    `stat` objects are written by their stage's thread only; `end_session` and `run_report`
    run while the stages are idle (between sessions, or after the threads joined).
    """

    def __init__(self, mode: str, requested_speed: float) -> None:
        self.session = PerformanceMetrics()
        self.run = PerformanceMetrics()
        self.mode = mode
        self.requested_speed = requested_speed
        self._overruns: dict[str, int] = {}
        self.session_wall_ns = 0
        self.session_virtual_ns = 0
        self.total_wall_ns = 0
        self.total_virtual_ns = 0
        self._edge_lag_ns: dict[str, int] = {}  # worst lateness per edge over the run
        self.thread_cpu_s: dict[str, float] = {}  # each pipeline thread's CPU time (set once they ended)

    def stat(self, name: str) -> RunningStat:
        """Return the session-level RunningStat of stage `name` (one of STAGES)."""
        return self.session.stages[name]

    def mark_session_clock(self, virtual_ns: int, wall_ns: int) -> None:
        """Record how much simulated and real time the session's stream took (coordinator)."""
        self.session_virtual_ns, self.session_wall_ns = virtual_ns, wall_ns
        self.total_virtual_ns += virtual_ns
        self.total_wall_ns += wall_ns

    def _sync_counters(self, subs: Mapping[str, _Sub], into: PerformanceMetrics) -> dict[str, int]:
        # Overruns are cumulative counters (deltas taken); the worst lateness is reset per session.
        lags = {}
        counters, seen, worst = into.counters, self._overruns, self._edge_lag_ns
        for name, sub in subs.items():
            keys = _COUNTER_KEYS.get(name)
            if keys is None:
                backpressure = _BACKPRESSURE.get(name)
                keys = _COUNTER_KEYS[name] = (f"overruns.{name}",) + ((backpressure,) if backpressure else ())
            overruns = sub.statistics().overruns
            delta = overruns - seen.get(name, 0)
            seen[name] = overruns
            for key in keys:
                counters[key] = counters.get(key, 0) + delta
            lag = lags[name] = sub.reset_max_lag()
            prev = worst.get(name, 0)
            worst[name] = lag if lag > prev else prev
        return lags

    def _clock(self, virtual_ns: int, wall_ns: int, lags_ns: Mapping[str, int]) -> dict[str, Any]:
        achieved = virtual_ns / wall_ns if wall_ns else 0.0
        return {"achieved_speed": achieved, "max_lag_s": max([*lags_ns.values(), 0]) / 1e9,
                "max_lag_s_by_edge": {name: ns / 1e9 for name, ns in sorted(lags_ns.items())}}

    def end_session(self, subs: Mapping[str, _Sub]) -> dict[str, Any]:
        """Return the finished session's metrics dict and fold it into the run's."""
        return session_metrics_dict(self.end_session_snapshot(subs))

    def end_session_snapshot(self, subs: Mapping[str, _Sub]) -> SessionMetrics:
        """`end_session`, returning the metrics as a `SessionMetrics` snapshot (the dict is
        ``session_metrics_dict(snapshot)``: the journal pickles the snapshot, its reader builds the dict)."""
        lags = self._sync_counters(subs, self.session)
        clock = self._clock(self.session_virtual_ns, self.session_wall_ns, lags)
        return self.session.drain_into(self.run), clock  # reset in place: the stage threads hold the stats

    def run_report(self, elapsed_s: float, bars: int, sessions: int) -> dict[str, Any]:
        """Return summary.json's ``metrics``: run stages, counters, process, clock, and the run's
        time under ``backtest`` (with throughput) or, for a live run, under ``live``."""
        self.run.merge(self.session)  # a partial last session (failure or Ctrl-C)
        self.run.sample_process()
        out = self.run.as_dict()
        if self.thread_cpu_s:  # where the CPU went: the four threads share one core's worth (the GIL)
            out["threads"] = {name: {"cpu_s": cpu} for name, cpu in self.thread_cpu_s.items()}
        out["clock"] = self._clock(self.total_virtual_ns, self.total_wall_ns, self._edge_lag_ns)
        if self.mode == "live":  # wall-clock paced: throughput says nothing about the engine
            out["live"] = {"total_time_s": elapsed_s,
                           "avg_per_session_s": elapsed_s / sessions if sessions else 0.0}
        else:
            out["backtest"] = {
                "total_time_s": elapsed_s,
                "avg_per_day_s": elapsed_s / sessions if sessions else 0.0,
                "bars_per_second": bars / elapsed_s if elapsed_s > 0 else 0.0,
            }
        return out
