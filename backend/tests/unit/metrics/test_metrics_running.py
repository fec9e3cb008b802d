"""RunningStat and PerformanceMetrics: counts, bounded-error percentiles, merge, dict shape."""

from __future__ import annotations

import pytest

from app.metrics.running import STAGES, PerformanceMetrics, RunningStat


def test_counts_min_max_mean_total():
    stat = RunningStat()
    for v in (300, 100, 200, 1_000):
        stat.record(v)

    assert (stat.count, stat.min_ns, stat.max_ns, stat.total_ns) == (4, 100, 1_000, 1_600)
    assert stat.mean_ns == 400.0


def test_small_values_are_exact():
    stat = RunningStat()
    for v in range(16):
        stat.record(v)

    # nearest rank: p50 of 16 values is the 8th (7), p99 the 16th (15)
    assert stat.percentile_ns(0.5) == 7.0
    assert stat.percentile_ns(0.99) == 15.0
    assert stat.percentile_ns(1.0) == 15.0
    assert stat.percentile_ns(0.01) == 0.0


def test_percentiles_report_the_bucket_midpoint():
    stat = RunningStat()
    for v in range(100, 10_001, 100):
        stat.record(v)

    # p50 is 5,000: bucket [4,608, 5,120) (9 x 512), midpoint 4,864
    assert stat.percentile_ns(0.5) == 4_864.0
    # p99 is 9,900: bucket [9,216, 10,240) (9 x 1,024), midpoint 9,728
    assert stat.percentile_ns(0.99) == 9_728.0


def test_percentile_is_clamped_to_min_and_max():
    above, below = RunningStat(), RunningStat()
    above.record(1_000)  # bucket [960, 1,024), midpoint 992 < min
    below.record(960)  # same bucket, midpoint 992 > max
    below.record(961)

    assert above.percentile_ns(0.5) == 1_000.0
    assert below.percentile_ns(0.99) == 961.0


def test_empty_stat_reports_zeros():
    assert RunningStat().as_dict("ms") == {
        "count": 0, "total_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0,
        "mean_ms": 0.0, "p50_ms": 0.0, "p99_ms": 0.0,
    }


def test_as_dict_converts_units():
    stat = RunningStat()
    stat.record(2_000_000)
    stat.record(4_000_000)

    assert stat.as_dict("ms") == {
        "count": 2, "total_ms": 6.0, "min_ms": 2.0, "max_ms": 4.0, "mean_ms": 3.0,
        # 2,000,000 sits in [1,966,080, 2,097,152): midpoint 2,031,616 ns
        "p50_ms": 2.031616, "p99_ms": 4.0,
    }
    assert stat.as_dict("s")["total_s"] == pytest.approx(0.006)
    assert stat.as_dict("us")["max_us"] == 4_000.0


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match=r"expected a duration >= 0 ns, received -1"):
        RunningStat().record(-1)


@pytest.mark.parametrize("q", [0.0, -0.5, 1.5])
def test_quantile_out_of_range_is_refused(q):
    with pytest.raises(ValueError, match=r"expected a quantile in \(0, 1\], received"):
        RunningStat().percentile_ns(q)


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match=r"expected unit 'ns', 'us', 'ms' or 's', received 'h'"):
        RunningStat().as_dict("h")


def test_merge_adds_counts_and_extremes():
    a, b, empty = RunningStat(), RunningStat(), RunningStat()
    for v in (5, 7):
        a.record(v)
    for v in (3, 100):
        b.record(v)

    a.merge(b)
    a.merge(empty)
    empty.merge(a)

    for stat in (a, empty):
        assert (stat.count, stat.min_ns, stat.max_ns, stat.total_ns) == (4, 3, 100, 115)
        assert stat.percentile_ns(0.5) == 5.0


def test_performance_metrics_records_stages_and_counters():
    metrics = PerformanceMetrics()
    metrics.record("analysis_engine", 1_500_000)
    metrics.stages["data_processor"].record(250_000)
    metrics.increment("backpressure.processor_analysis")
    metrics.increment("backpressure.processor_analysis", 2)
    metrics.increment("overruns.DataProcessor")

    out = metrics.as_dict()

    assert list(out) == ["stages", "counters"]  # no process sample yet
    assert tuple(out["stages"]) == STAGES
    assert out["stages"]["analysis_engine"]["count"] == 1
    assert out["stages"]["analysis_engine"]["max_ms"] == 1.5
    assert out["stages"]["data_processor"]["mean_ms"] == 0.25
    assert out["stages"]["coordinator"]["count"] == 0
    assert out["counters"] == {"backpressure.processor_analysis": 3, "overruns.DataProcessor": 1}


def test_unknown_stage_is_refused():
    message = r"expected a stage in coordinator, data_processor, .*, received 'engine'"
    with pytest.raises(ValueError, match=message):
        PerformanceMetrics().record("engine", 1)


def test_merge_combines_sessions_into_a_run():
    run, day1, day2 = PerformanceMetrics(), PerformanceMetrics(), PerformanceMetrics()
    day1.record("session_duration", 10)
    day1.increment("backpressure.coordinator_processor", 2)
    day2.record("session_duration", 30)
    day2.increment("backpressure.coordinator_processor", 1)
    day2.increment("overruns.AnalysisEngine", 4)

    run.merge(day1)
    run.merge(day2)

    duration = run.stages["session_duration"]
    assert (duration.count, duration.min_ns, duration.max_ns) == (2, 10, 30)
    assert run.counters == {"backpressure.coordinator_processor": 3, "overruns.AnalysisEngine": 4}


def test_sample_process_reads_cpu_and_memory():
    metrics = PerformanceMetrics()
    metrics.sample_process()

    process = metrics.as_dict()["process"]

    assert process["cpu_s"] > 0.0
    assert process["rss_mb"] > 1.0
    assert process["peak_rss_mb"] >= process["rss_mb"]
