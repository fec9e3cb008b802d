"""The engine timing sections of the reports: per stage, data loading, session lifecycle,
throughput, backpressure, process and clock (the layout users know), and a session's compact
``Timings:`` block. Rendering only: the figures come from ``RunMetrics`` / ``PerformanceMetrics``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["clock_block", "num", "process_block", "run_timings", "session_timing_compact",
           "session_timing_detail", "stage"]

_HOUR_S: Final = 3600.0
_EDGES: Final = (
    (
        "backpressure.coordinator_processor",
        "Coordinator→Processor",
        "DataProcessor slower than Coordinator",
    ),
    (
        "backpressure.processor_analysis",
        "Processor→Analysis",
        "AnalysisEngine slower than DataProcessor",
    ),
)

_Lines = list[str]


def run_timings(summary: Mapping[str, Any], metrics: Mapping[str, Any], sessions: int) -> _Lines:
    """Return the run report's timing sections (``Data Loading`` and the backpressure block are
    always printed)."""
    lines = _stage_block(metrics, "analysis_engine", "Analysis Engine", "Cycles")
    lines += _stage_block(metrics, "data_processor", "Data Processor", "Items")
    lines += _stage_block(metrics, "data_upkeep", "Data Upkeep", "Cycles")
    initial = stage(metrics, "data_loading_initial")
    later = stage(metrics, "data_loading_subsequent")
    lines.append("Data Loading (All Symbols):")
    lines.append(f"  - Initial Load: {num(initial['total_ms'] / 1e3)} s")
    subsequent = _avg_min_max(later, "", "s") if later["count"] else "none"
    lines.append(f"  - Subsequent Load: {subsequent}")
    lines += _lifecycle_block(metrics, sessions)
    lines += _throughput_block(summary, metrics, sessions)
    counters = metrics.get("counters", {})
    lines.append("Pipeline Backpressure (Bottlenecks):")
    for key, label, why in _EDGES:
        lines += [f"  - {label}: {counters.get(key, 0):,} events", f"    ({why})"]
    lines += process_block(metrics.get("process"), metrics.get("breakdown"), metrics.get("threads"))
    lines += clock_block(summary.get("clock"), metrics)
    return lines


def _stage_block(metrics: Mapping[str, Any], name: str, title: str, noun: str) -> _Lines:
    stat = stage(metrics, name)
    if not stat["count"]:
        return []
    return [
        f"{title}:",
        f"  - {noun}: {stat['count']:,}",
        f"  - Min: {num(stat['min_ms'])} ms | Max: {num(stat['max_ms'])} ms "
        f"| Avg: {num(stat['mean_ms'])} ms",
        f"  - p50: {num(stat['p50_ms'])} ms | p99: {num(stat['p99_ms'])} ms",
    ]


def _lifecycle_block(metrics: Mapping[str, Any], sessions: int) -> _Lines:
    gap, duration = stage(metrics, "session_gap"), stage(metrics, "session_duration")
    if not (sessions or gap["count"] or duration["count"]):
        return []
    lines = ["Session Lifecycle:", f"  - Sessions: {sessions:,}"]
    if gap["count"]:
        lines.append("  - " + _avg_min_max(gap, " Gap", "s"))
    if duration["count"]:
        lines.append("  - " + _avg_min_max(duration, " Duration", _duration_unit(duration)))
    return lines


def session_timing_compact(metrics: Mapping[str, Any], clock: Mapping[str, Any] | None) -> _Lines:
    """Return a session's ``Timings:`` block: one line per engine stage, the session's length,
    any backpressure and its clock (the full blocks: `session_timing_detail`)."""
    lines = []
    for name, title, noun in (("analysis_engine", "Analysis Engine", "Cycles"),
                              ("data_processor", "Data Processor", "Items"),
                              ("data_upkeep", "Data Upkeep", "Cycles")):
        stat = stage(metrics, name)
        if stat["count"]:
            lines.append(f"  - {title}: {noun} {stat['count']:,} | Avg {num(stat['mean_ms'])} ms "
                         f"| p99 {num(stat['p99_ms'])} ms | Max {num(stat['max_ms'])} ms")
    gap, duration = stage(metrics, "session_gap"), stage(metrics, "session_duration")
    parts = []
    if duration["count"]:
        unit = _duration_unit(duration)
        parts.append(f"Duration {num(duration['mean_ms'] / 1e3 / (_HOUR_S if unit == 'hrs' else 1.0))} {unit}")
    if gap["count"]:
        parts.append(f"Gap {num(gap['mean_ms'] / 1e3)} s")
    if parts:
        lines.append("  - Session: " + " | ".join(parts))
    counters = metrics.get("counters", {})
    if any(counters.get(key, 0) for key, _, _ in _EDGES):
        lines.append("  - Backpressure: " + " | ".join(f"{label} {counters.get(key, 0):,}"
                                                      for key, label, _ in _EDGES))
    lines += _compact_clock(clock or {}, metrics)
    return ["Timings:", *lines] if lines else []


def _compact_clock(clock: Mapping[str, Any], metrics: Mapping[str, Any]) -> _Lines:
    # The Clock block on one line: mode, speed, overruns (per edge only when any), worst lag.
    timing = metrics.get("clock") or {}
    overruns = {k.removeprefix("overruns."): n for k, n in metrics.get("counters", {}).items()
                if k.startswith("overruns.")}
    parts = [clock["mode"]] if "mode" in clock else []
    speed = _speed_text(clock, timing)
    if speed:
        parts.append(speed)
    if any(overruns.values()):
        parts.append("Overruns " + ", ".join(f"{edge} {n:,}" for edge, n in sorted(overruns.items()) if n))
    elif overruns:
        parts.append("Overruns 0")
    if "max_lag_s" in timing:
        parts.append(f"Max Lag {num(timing['max_lag_s'])} s")
    return ["  - Clock: " + " | ".join(parts)] if parts else []


def session_timing_detail(metrics: Mapping[str, Any], clock: Mapping[str, Any] | None) -> _Lines:
    """Return a session's timing blocks in the layout users know (the CLI's ``--timings``)."""
    lines = _stage_block(metrics, "analysis_engine", "Analysis Engine", "Cycles")
    lines += _stage_block(metrics, "data_processor", "Data Processor", "Items")
    lines += _stage_block(metrics, "data_upkeep", "Data Upkeep", "Cycles")
    gap, duration = stage(metrics, "session_gap"), stage(metrics, "session_duration")
    for title, stat in (("Session Gap", gap), ("Session Duration", duration)):
        if stat["count"]:
            unit = "s" if stat is gap else _duration_unit(stat)
            lines += [f"{title}:", f"  - Sessions: {stat['count']:,}"]
            lines.append("  - " + _avg_min_max(stat, "", unit))
    counters = metrics.get("counters", {})
    if any(counters.get(key, 0) for key, _, _ in _EDGES):
        lines.append("Pipeline Backpressure:")
        lines += [f"  - {label}: {counters.get(key, 0):,} events" for key, label, _ in _EDGES]
    return lines + process_block(metrics.get("process")) + clock_block(clock, metrics)


def _throughput_block(summary: Mapping[str, Any], metrics: Mapping[str, Any], sessions: int) -> _Lines:
    live = (summary.get("clock") or {}).get("mode") == "live"
    run = metrics.get("live") if live else None
    run = run if run is not None else metrics.get("backtest")  # summaries written before metrics.live
    if run is None:
        return []
    if live:  # paced by the wall clock: bars per second says nothing about the engine
        per = run.get("avg_per_session_s", run.get("avg_per_day_s", 0.0))
        return ["Live Summary:", f"  - Total Time: {num(run['total_time_s'])} s", f"  - Sessions: {sessions:,}",
                f"  - Avg per Session: {num(per)} s", "  - Bars per Second: n/a (live)"]
    return [
        "Backtest Summary:",
        f"  - Total Time: {num(run['total_time_s'])} s",
        f"  - Trading Days: {sessions:,}",
        f"  - Avg per Day: {num(run['avg_per_day_s'])} s",
        f"  - Bars per Second: {round(run['bars_per_second']):,}",
    ]


_PIPELINE = ("SessionCoordinator", "DataProcessor", "DataUpkeep", "AnalysisEngine")


def process_block(process: Mapping[str, Any] | None,
                   breakdown: Mapping[str, Any] | None = None,
                   threads: Mapping[str, Mapping[str, float]] | None = None) -> _Lines:
    lines = []
    if process is not None:
        lines += [
            f"  - CPU: {num(process['cpu_s'])} s",
            f"  - RSS: {num(process['rss_mb'])} MB | Peak RSS: {num(process['peak_rss_mb'])} MB",
        ]
        writer = process.get("writer")
        if writer:  # the output writer process (app.runtime.outputs_process): its own CPU and memory
            lines.append(f"  - Output writer process: CPU {num(writer['cpu_s'])} s | "
                         f"Peak RSS: {num(writer['peak_rss_mb'])} MB")
    if breakdown is not None:
        startup = f"Startup: {num(breakdown['startup_s'])} s | " if "startup_s" in breakdown else ""
        lines.append(f"  - {startup}Run: {num(breakdown['run_s'])} s "
                     f"(Loading: {num(breakdown['load_s'])} s) | Outputs: {num(breakdown['outputs_s'])} s")
    if threads:  # each pipeline thread's share of the CPU (they take turns under the GIL), pipeline order
        names = sorted(threads, key=lambda n: (_PIPELINE.index(n) if n in _PIPELINE else len(_PIPELINE), n))
        lines.append("  - Thread CPU: " + " | ".join(f"{n} {num(threads[n]['cpu_s'])} s" for n in names))
    return ["Process:", *lines] if lines else []


def clock_block(clock: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> _Lines:
    clock, timing = clock or {}, metrics.get("clock") or {}
    counters = metrics.get("counters", {})
    overruns = {
        k.removeprefix("overruns."): n for k, n in counters.items() if k.startswith("overruns.")
    }
    if not (clock or timing or overruns):
        return []
    lines = ["Clock:"]
    if "mode" in clock:
        lines.append(f"  - Mode: {clock['mode']}")
    speed = _speed_text(clock, timing)
    if speed:
        lines.append(f"  - Speed: {speed}")
    if overruns:
        parts = (f"{edge} {n:,}" for edge, n in sorted(overruns.items()))
        lines.append("  - Overruns: " + " | ".join(parts))
    by_edge = timing.get("max_lag_s_by_edge") or {}
    if any(by_edge.values()):
        lines.append("  - Worst Lateness: " + " | ".join(f"{edge} {num(s)} s" for edge, s in sorted(by_edge.items())))
    if "max_lag_s" in timing:
        lines.append(f"  - Max Lag: {num(timing['max_lag_s'])} s")
    return lines


def _speed_text(clock: Mapping[str, Any], timing: Mapping[str, Any]) -> str:
    parts = []
    if clock.get("mode") == "live":
        return "wall clock"
    if "requested_speed" in clock:
        requested = clock["requested_speed"]
        text = f"requested {num(requested)}x" if requested else "requested max (data-driven)"
        parts.append(text)
    if "achieved_speed" in timing:
        parts.append(f"achieved {num(timing['achieved_speed'])}x")
    return " | ".join(parts)


_EMPTY_STAGE: Final = {"count": 0, "total_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0,
                       "p50_ms": 0.0, "p99_ms": 0.0}


def stage(metrics: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return metrics.get("stages", {}).get(name) or _EMPTY_STAGE


def num(value: float) -> str:
    return f"{value:,.2f}"


def _duration_unit(stat: Mapping[str, Any]) -> str:
    # Hours as users know them for live sessions; seconds for fast backtests ("0.00 hrs").
    return "hrs" if stat["max_ms"] / 1e3 >= _HOUR_S else "s"


def _avg_min_max(stat: Mapping[str, Any], label: str, unit: str) -> str:
    scale = 1e3 * (_HOUR_S if unit == "hrs" else 1.0)
    parts = (("Avg", "mean_ms"), ("Min", "min_ms"), ("Max", "max_ms"))
    return " | ".join(f"{name}{label}: {num(stat[key] / scale)} {unit}" for name, key in parts)
