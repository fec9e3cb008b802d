"""Running timing statistics in fixed memory, and the per-run PerformanceMetrics that holds them.

Nothing here reads a clock: callers measure durations (through ``app.timing``) and pass
integer nanoseconds. ``PerformanceMetrics.sample_process`` reads process CPU time and memory
(``os.times`` and ``/proc/self/statm``; psutil where there is no /proc, imported only then: its
import cost ~15 ms of a short backtest's start-up).
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import os
import sys
from typing import Final

__all__ = ["STAGES", "MetricsSnapshot", "PerformanceMetrics", "RunningStat", "StatSnapshot", "metrics_dict",
           "stat_dict"]

#: Timing stages every run records (a stage with no records reports count 0).
STAGES: Final = (
    "coordinator",
    "data_processor",
    "data_upkeep",
    "analysis_engine",
    "data_loading_initial",
    "data_loading_subsequent",
    "session_gap",
    "session_duration",
    "gap_refetch",  # live: one REST re-request of missing bars (DataUpkeep)
    "feed_to_strategy",  # live: a step's last bar off the socket -> the strategy's first callback
)

_SUB_BITS: Final = 3  # 8 sub-buckets per power of two
_SUB: Final = 1 << _SUB_BITS
_EXACT: Final = 2 * _SUB  # values below 16 get a bucket each
_BUCKETS: Final = (64 - _SUB_BITS + 1) * _SUB  # covers every value < 2**64 ns (~584 years)
_ZEROS: Final = (0,) * _BUCKETS
_UNITS: Final = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
_KEYS: Final = {unit: ("count", *(f"{k}_{unit}" for k in ("total", "min", "max", "mean", "p50", "p99")))
                for unit in _UNITS}
_MB: Final = 1024 * 1024


def _index(value_ns: int) -> int:
    # The bucket of a duration >= 0.
    if value_ns < _EXACT:
        return value_ns
    bits = value_ns.bit_length()
    sub = (value_ns >> (bits - _SUB_BITS - 1)) & (_SUB - 1)  # 3 bits after the leading 1
    return ((bits - _SUB_BITS) << _SUB_BITS) | sub


def _bucket_bounds(index: int) -> tuple[int, int]:
    # [low, high) of the values that land in bucket `index`.
    if index < _EXACT:
        return index, index + 1
    bits = index // _SUB + _SUB_BITS
    width = 1 << (bits - _SUB_BITS - 1)
    low = (_SUB + index % _SUB) * width
    return low, low + width


class RunningStat:
    """Count, total, min, max, mean and p50/p99 of integer durations, in fixed memory.

    Percentiles come from a log-bucket histogram: values below 16 ns are exact; above, each
    power of two is split into 8 buckets, so a percentile reported as its bucket's midpoint
    (clamped to ``[min, max]``) is within 1/16 (6.25 %) of a recorded value of that rank.

    Warnings
    --------
    Not thread-safe: one writer thread per instance. Read it after the writer has stopped, or
    accept a momentarily inconsistent snapshot; combine per-thread instances with `merge`.
    """

    __slots__ = ("_buckets", "count", "max_ns", "min_ns", "total_ns")

    def __init__(self) -> None:
        self.count = 0
        self.total_ns = 0
        self.min_ns = 0
        self.max_ns = 0
        self._buckets = [0] * _BUCKETS

    def record(self, value_ns: int) -> None:
        """Add one duration in integer nanoseconds (>= 0).

        Raises
        ------
        ValueError
            If `value_ns` is negative.
        """
        if value_ns < 0:
            raise ValueError(f"expected a duration >= 0 ns, received {value_ns!r}")
        self._buckets[_index(value_ns)] += 1
        if self.count:
            if value_ns < self.min_ns:
                self.min_ns = value_ns
            elif value_ns > self.max_ns:
                self.max_ns = value_ns
        else:
            self.min_ns = self.max_ns = value_ns
        self.count += 1
        self.total_ns += value_ns

    def record_many(self, value_ns: int, n: int) -> None:
        """Add `n` records of the same duration (a batch's time shared by its items)."""
        if n <= 0:
            return
        count = self.count
        self.record(value_ns)  # bucket, min and max of one record ...
        self._buckets[_index(value_ns)] += n - 1  # ... then the other n - 1 of the same value
        self.count = count + n
        self.total_ns += value_ns * (n - 1)

    def reset(self) -> None:
        """Forget every record (in place: writers keep their reference)."""
        if self.count:  # only the occupied range [bucket of min, bucket of max] holds counts
            lo, hi = _index(self.min_ns), _index(self.max_ns) + 1
            if hi - lo == 1:  # one bucket (a batch's shared time): the usual per-session stat
                self._buckets[lo] = 0
            else:
                self._buckets[lo:hi] = _ZEROS[: hi - lo]
        self.count = self.total_ns = self.min_ns = self.max_ns = 0

    def merge(self, other: RunningStat) -> None:
        """Add every record of `other` to this statistic."""
        if not other.count:
            return
        if not self.count:  # nothing to add to: take a copy of the other's counts
            self.count, self.total_ns = other.count, other.total_ns
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
            self._buckets = list(other._buckets)
            return
        low, high = other.min_ns, other.max_ns
        if low < self.min_ns:
            self.min_ns = low
        if high > self.max_ns:
            self.max_ns = high
        self.count += other.count
        self.total_ns += other.total_ns
        if low == high:  # every record in one bucket (a batch's shared time): the usual session stat
            self._buckets[_index(low)] += other.count
            return
        lo, hi = _index(low), _index(high) + 1  # the other's occupied range
        self._buckets[lo:hi] = map(operator.add, self._buckets[lo:hi], other._buckets[lo:hi])

    @property
    def mean_ns(self) -> float:
        """Mean duration in ns (0.0 when empty)."""
        return self.total_ns / self.count if self.count else 0.0

    def percentile_ns(self, q: float) -> float:
        """Return the nearest-rank `q`-quantile (0 < q <= 1) in ns, approximated (0.0 when empty).

        Raises
        ------
        ValueError
            If `q` is not in ``(0, 1]``.
        """
        return self._percentiles((q,))[0]

    def _percentiles(self, qs: tuple[float, ...]) -> list[float]:
        for q in qs:
            if not 0.0 < q <= 1.0:
                raise ValueError(f"expected a quantile in (0, 1], received {q!r}")
        if not self.count:
            return [0.0] * len(qs)
        first = _index(self.min_ns)  # no count below the bucket of min nor above that of max
        cumulative = list(itertools.accumulate(self._buckets[first : _index(self.max_ns) + 1]))
        out = []
        for q in qs:
            rank = max(1, math.ceil(round(q * self.count, 9)))  # round: 0.29 * 100 is 28.999...
            index = first + bisect.bisect_left(cumulative, rank)
            if index >= first + len(cumulative):
                out.append(float(self.max_ns))  # unreachable while counts add up
                continue
            low, high = _bucket_bounds(index)
            mid = low if high - low == 1 else (low + high) / 2
            out.append(float(min(max(mid, self.min_ns), self.max_ns)))
        return out

    def snapshot(self) -> StatSnapshot:
        """Return ``(count, total_ns, min_ns, max_ns, p50_ns, p99_ns)``: what `as_dict` shows, before
        units (`stat_dict` turns it into `as_dict`'s dict)."""
        low, high = self.min_ns, self.max_ns
        if low == high:  # empty, or one value (a batch's shared time): every percentile
            value = float(low)
            return self.count, self.total_ns, low, high, value, value
        p50, p99 = self._percentiles((0.5, 0.99))
        return self.count, self.total_ns, low, high, p50, p99

    def drain_into(self, into: RunningStat) -> StatSnapshot:
        """Return `snapshot`, add every record to `into` (`merge`) and `reset`, in one pass (a
        session's stat at its end: usually empty, or one value recorded for a batch)."""
        count = self.count
        if not count:
            return _EMPTY
        low, high = self.min_ns, self.max_ns
        if low != high:
            snap = self.snapshot()
            into.merge(self)
            self.reset()
            return snap
        total = self.total_ns
        index = _index(low)
        if into.count:
            if low < into.min_ns:
                into.min_ns = low
            if high > into.max_ns:
                into.max_ns = high
        else:  # an empty stat's buckets are all 0 (as `merge`'s copy of ours would be, but one)
            into.min_ns, into.max_ns = low, high
        into.count += count
        into.total_ns += total
        into._buckets[index] += count
        self._buckets[index] = 0
        self.count = self.total_ns = self.min_ns = self.max_ns = 0
        value = float(low)
        return count, total, low, high, value, value

    def as_dict(self, unit: str = "ms") -> dict[str, float | int]:
        """Return ``count`` and ``total/min/max/mean/p50/p99`` in `unit` (keys end in ``_<unit>``).

        Raises
        ------
        ValueError
            If `unit` is not one of ns, us, ms, s.
        """
        return stat_dict(self.snapshot(), unit)


StatSnapshot = tuple[int, int, int, int, float, float]
"""A `RunningStat.snapshot`: ``(count, total_ns, min_ns, max_ns, p50_ns, p99_ns)``."""
_EMPTY: StatSnapshot = (0, 0, 0, 0, 0.0, 0.0)


def stat_dict(snap: StatSnapshot, unit: str = "ms") -> dict[str, float | int]:
    """`RunningStat.as_dict` of a `RunningStat.snapshot`.

    Raises
    ------
    ValueError
        If `unit` is not one of ns, us, ms, s.
    """
    keys = _KEYS.get(unit)
    if keys is None:
        raise ValueError(f"expected unit 'ns', 'us', 'ms' or 's', received {unit!r}")
    scale = _UNITS[unit]
    count, total_ns, low, high, p50, p99 = snap
    k_count, k_total, k_min, k_max, k_mean, k_p50, k_p99 = keys
    return {k_count: count, k_total: total_ns / scale, k_min: low / scale, k_max: high / scale,
            k_mean: (total_ns / count if count else 0.0) / scale, k_p50: p50 / scale, k_p99: p99 / scale}


class PerformanceMetrics:
    """The timings, counters and process samples of a run (or of one session).

    Attributes
    ----------
    stages : dict of str to RunningStat
        One RunningStat per name in `STAGES`; record with ``metrics.stages[name].record(ns)``
        or `record`.
    counters : dict of str to int
        Event counters such as ``backpressure.coordinator_processor``,
        ``backpressure.processor_analysis`` and ``overruns.<edge>``.

    Warnings
    --------
    Not thread-safe. Each stage and counter must have a single writer thread, and readers
    should read after the writers stopped (at session end). Alternatively give each thread
    its own instance and `merge` them.
    """

    def __init__(self) -> None:
        self.stages: dict[str, RunningStat] = {name: RunningStat() for name in STAGES}
        self.counters: dict[str, int] = {}
        self.cpu_s = 0.0
        self.rss_bytes = 0
        self.peak_rss_bytes = 0

    def record(self, stage: str, value_ns: int) -> None:
        """Record a duration for `stage`.

        Raises
        ------
        ValueError
            If `stage` is not one of `STAGES`, or the duration is negative.
        """
        stat = self.stages.get(stage)
        if stat is None:
            raise ValueError(f"expected a stage in {', '.join(STAGES)}, received {stage!r}")
        stat.record(value_ns)

    def increment(self, counter: str, n: int = 1) -> None:
        """Add `n` to `counter` (created at 0)."""
        self.counters[counter] = self.counters.get(counter, 0) + n

    def sample_process(self) -> None:
        """Record this process's CPU seconds (user + system), RSS and peak RSS."""
        times = os.times()  # this process's threads, not its children (as psutil's cpu_times)
        self.cpu_s = float(times.user + times.system)
        self.rss_bytes = _rss_bytes()
        self.peak_rss_bytes = max(self.peak_rss_bytes, self.rss_bytes, _peak_rss_bytes())

    def merge(self, other: PerformanceMetrics) -> None:
        """Add `other`'s records and counters; keep the larger process sample."""
        for name, stat in other.stages.items():
            mine = self.stages.get(name)
            if mine is None:  # (not setdefault: it would build a histogram per call)
                mine = self.stages[name] = RunningStat()
            mine.merge(stat)
        for name, n in other.counters.items():
            self.increment(name, n)
        self.cpu_s = max(self.cpu_s, other.cpu_s)
        self.rss_bytes = max(self.rss_bytes, other.rss_bytes)
        self.peak_rss_bytes = max(self.peak_rss_bytes, other.peak_rss_bytes)

    def snapshot(self) -> MetricsSnapshot:
        """Return what `as_dict` shows, before units and dicts (`metrics_dict` turns it into `as_dict`'s
        dict): ``(stage names, the stages' RunningStat.snapshot values one after the other,
        counter names sorted, their counts, process)``; the names are None when they are `STAGES`,
        process is ``(cpu_s, rss_bytes, peak_rss_bytes)`` or None before `sample_process`. A few
        flat tuples: cheap to take and to pickle once per session."""
        values: list[float | int] = []
        for stat in self.stages.values():
            values += stat.snapshot()
        return self._snapshot(values)

    def _snapshot(self, values: list[float | int]) -> MetricsSnapshot:
        names = tuple(self.stages)
        counters = sorted(self.counters.items())
        return (None if names == STAGES else names, tuple(values), tuple([k for k, _ in counters]),
                tuple([n for _, n in counters]),
                (self.cpu_s, self.rss_bytes, self.peak_rss_bytes) if self.peak_rss_bytes else None)

    def drain_into(self, into: PerformanceMetrics) -> MetricsSnapshot:
        """Return `snapshot`, `into.merge(self)` and forget every record and counter (in place: the
        stage threads hold their stats), in one pass over the stages."""
        values: list[float | int] = []
        mine = into.stages
        for name, stat in self.stages.items():
            if not stat.count:  # (most stages, most sessions: nothing to merge nor reset)
                values += _EMPTY
                continue
            run = mine.get(name)
            if run is None:
                run = mine[name] = RunningStat()
            values += stat.drain_into(run)
        snap = self._snapshot(values)
        for name, n in self.counters.items():
            into.increment(name, n)
        self.counters.clear()
        into.cpu_s = max(into.cpu_s, self.cpu_s)
        into.rss_bytes = max(into.rss_bytes, self.rss_bytes)
        into.peak_rss_bytes = max(into.peak_rss_bytes, self.peak_rss_bytes)
        return snap

    def as_dict(self) -> dict[str, object]:
        """Return ``{"stages": {...}, "counters": {...}, "process": {...}}``.

        ``stages`` maps each stage to ``RunningStat.as_dict("ms")``; ``process`` (``cpu_s``,
        ``rss_mb``, ``peak_rss_mb``) is present only after `sample_process`.
        """
        return metrics_dict(self.snapshot())


MetricsSnapshot = tuple[tuple[str, ...] | None, tuple[float | int, ...], tuple[str, ...], tuple[int, ...],
                        tuple[float, int, int] | None]
"""A `PerformanceMetrics.snapshot`."""


def metrics_dict(snap: MetricsSnapshot) -> dict[str, object]:
    """`PerformanceMetrics.as_dict` of a `PerformanceMetrics.snapshot`."""
    names, values, counter_names, counts, process = snap
    stages = {name: stat_dict(values[i : i + 6])  # type: ignore[arg-type]
              for name, i in zip(STAGES if names is None else names, range(0, len(values), 6), strict=True)}
    out: dict[str, object] = {"stages": stages, "counters": dict(zip(counter_names, counts, strict=True))}
    if process is not None:
        cpu_s, rss_bytes, peak_rss_bytes = process
        out["process"] = {"cpu_s": cpu_s, "rss_mb": rss_bytes / _MB, "peak_rss_mb": peak_rss_bytes / _MB}
    return out


def _rss_bytes() -> int:
    # Resident pages (statm's second field, as psutil reads it on Linux); psutil elsewhere.
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return int(psutil.Process().memory_info().rss)


def _peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux, bytes on macOS; unavailable on Windows.
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
