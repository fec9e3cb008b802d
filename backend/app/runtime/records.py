"""Per-session records: what sessions.json holds for each session (deterministic except "metrics")."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.metrics.collect import session_metrics_dict
from app.metrics.stats import compute_session_stats, open_positions, symbol_pnl
from app.runtime.local_seconds import local_seconds
from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager

__all__ = ["complete_record", "quality_rollup", "session_record"]


def _detail(state: SessionState, symbol: str, base: str, derived: tuple[str, ...], tm: TimeManager) -> dict[str, Any]:
    report = state.quality.get((symbol, base))
    if report is None:  # enable_session_quality: false -> no gap detection, quality reads 100
        q: dict[str, Any] = {"quality_pct": 100.0, "expected": None, "present": len(state.bars[(symbol, base)]),
                             "missing": None, "gaps": [], "gap_detection": False}
    else:
        q = {"quality_pct": float(report.quality_pct), "expected": int(report.expected),
             "present": int(report.present), "missing": int(report.missing), "gap_detection": True,
             "gaps": [{"start": tm.format_ns(int(g.start_ns)), "end": tm.format_ns(int(g.end_ns)),
                       "bars": int(g.count)} for g in report.gaps] if report.gaps else []}
    rejected = state.rejected.get(symbol)
    q["rejected"] = dict(sorted(rejected.items())) if rejected else {}
    q["repaired_out_of_order"] = state.repairs.get(symbol, 0)
    skipped = state.derived_skipped
    q["derived_bars_skipped"] = {label: skipped.get((symbol, label), 0) for label in derived
                                 if (symbol, label) in skipped} if skipped else {}
    q["historical_quality_pct"] = {k[1]: v for k, v in sorted(state.historical_quality.items()) if k[0] == symbol}
    if state.stream_start_ns is not None:  # live
        q["live"] = _live_detail(state, symbol, base, tm, q["expected"])
    # Present only when there is something to say (complete data keeps the record as it was).
    if symbol in state.no_bars:
        q["no_bars"] = dict(state.no_bars[symbol])
    if state.history_shortfall:
        short = {k[1]: dict(zip(_SHORTFALL, v, strict=True)) for k, v in sorted(state.history_shortfall.items())
                 if k[0] == symbol}
        if short:
            q["history_shortfall"] = short
    return q


_SHORTFALL = ("days_expected", "days_found", "bars_expected", "bars_found")


def _data_warnings(symbol: str, q: dict[str, Any]) -> list[str]:
    # The lines the report's Data Quality block lists under "Warning:".
    out = []
    missing = q.get("no_bars")
    if missing:
        action = "left out of the session" if missing["policy"] == "skip" else "every bar counted as missing"
        out.append(f"{symbol} {missing['interval']}: no bars, {action} (data.on_missing: {missing['policy']}); "
                   f"{missing['looked_at']}")
    for label, h in q.get("history_shortfall", {}).items():
        out.append(f"{symbol} {label} history: {h['days_found']} of {h['days_expected']} trailing days "
                   f"({h['bars_found']:,} of {h['bars_expected']:,} bars)")
    return out


def _live_detail(state: SessionState, symbol: str, base: str, tm: TimeManager, expected: int | None) -> dict[str, Any]:
    lo, hi = state.streamed
    fills = state.fills.get(symbol)
    shown = len(state.bars[(symbol, base)])  # every bar the strategy decided on (fill at grace included)
    at_decision = state.decision_fills.get(symbol, {})
    filled_at = sorted(t for t, what in at_decision.items() if what == "filled")
    no_trades = set(fills.no_trades) if fills else set()
    no_trades.update(t for t, what in at_decision.items() if what == "no_trades")
    late = {int(b.start_ns) for b in state.late.get(symbol, [])}
    filled_after = set(fills.filled) if fills else set()
    unfilled = set(fills.missing) if fills else set()
    iso = _iso_list(tm)
    return {
        "streamed_from": tm.format_ns(lo), "streamed_to": tm.format_ns(hi),
        # The real start and end (the session duration's span): mid-step, or a stop_after_seconds deadline.
        "started": _iso_ms(tm, state.clock_span[0]), "ended": _iso_ms(tm, state.clock_span[1]),
        "streamed_bars": shown - len(filled_at),
        "late_bars": len(late),
        "filled_bars": len(filled_after),
        "no_trades": len(no_trades),
        "unfilled_bars": len(unfilled),
        "refetch_requests": fills.requests if fills else 0,
        "corrections": state.corrections.get(symbol, 0),
        "filled_at_decision": len(filled_at),
        "seen_at_decision": shown,
        "expected": expected if expected is not None else shown,
        # What the strategy saw against what exists now (no-trades minutes are not expected).
        "complete_at_decision_pct": _pct(shown, expected),
        # Per base interval, every minute (bar start, ISO exchange time) that was not a plain
        # in-time stream bar: missed at decision (late, filled after, unfilled), and how each ended.
        "minutes": {base: {
            "missing_at_decision": iso(sorted((late | filled_after | unfilled) - no_trades)),
            "filled_at_decision": iso(filled_at),
            "filled_after_decision": iso(sorted(filled_after)),
            "late": iso(sorted(late)),
            "no_trades": iso(sorted(no_trades)),
            "unfilled": iso(sorted(unfilled)),
            "corrected": iso(sorted(set(state.corrected.get(symbol, [])))),
        }},
    }


def _pct(shown: int, expected: int | None) -> float:
    if not expected:
        return 100.0
    return round(100.0 * min(shown, expected) / expected, 2)


def _iso_ms(tm: TimeManager, ts_ns: int) -> str:
    return tm.to_local(ts_ns).isoformat(timespec="milliseconds")


def _iso_list(tm: TimeManager) -> Any:
    def iso(starts: list[int]) -> list[str]:
        return tm.isoformat_many(np.array(starts, dtype=np.int64)) if starts else []
    return iso



def quality_rollup(detail: dict[str, dict[str, Any]], bars: dict[str, dict[str, int]], base: str) -> dict[str, Any]:
    """Return the report's QUALITY block from per-symbol details (derived report the base score)."""
    series: dict[str, dict[str, Any]] = {}
    rejected: dict[str, int] = {}
    skipped = 0
    warnings: list[str] = []
    for symbol, q in detail.items():
        warnings += _data_warnings(symbol, q)
        if q.get("no_bars", {}).get("policy") != "skip":  # a skipped symbol has no score to show
            series[symbol] = {label: {"quality_pct": q["quality_pct"], "gaps": len(q["gaps"]),
                                      "missing_bars": q["missing"] or 0, "derived": label != base}
                              for label in bars[symbol]}
        for reason, count in q["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + count
        skipped += sum(q["derived_bars_skipped"].values())
    out = {"series": series, "rejected_bars": dict(sorted(rejected.items())), "derived_bars_skipped": skipped}
    if warnings:
        out["warnings"] = warnings
    live = [q["live"] for q in detail.values() if "live" in q]
    if live:  # the counts summed over symbols (the streamed span's text stays per symbol)
        totals: dict[str, Any] = {k: sum(d[k] for d in live) for k, v in live[0].items() if isinstance(v, int)}
        if "seen_at_decision" in totals:  # absent from records written before the fill at grace
            totals["complete_at_decision_pct"] = _pct(totals["seen_at_decision"], totals["expected"])
        out["live"] = totals
        for symbol, q in detail.items():  # the headline says when the strategy saw less than exists now
            seen = _pct(q["live"]["seen_at_decision"], q["live"]["expected"]) if "expected" in q.get("live", {}) \
                else 100.0
            if symbol in series and seen < q["quality_pct"]:
                for label in series[symbol]:
                    series[symbol][label]["at_decision_pct"] = seen
    return out


_FAST_UNTIL = 4_000_000_000
"""Whole seconds below this (2096) are exact as ``ns / 1e9`` (`TimeManager.to_local`'s float)."""


def _format_ns(tm: TimeManager, ts_ns: int) -> str:
    """``tm.format_ns(ts_ns)`` (``YYYY-MM-DD HH:MM:SS <tz>``), from `LocalSeconds`'s per-day cache for
    whole seconds of 1970-2096 (a datetime and ``strftime`` per call cost more than the record's
    other text)."""
    sec, part = divmod(ts_ns, 1_000_000_000)
    if part or not 0 <= sec < _FAST_UNTIL:
        return tm.format_ns(ts_ns)
    tz = tm.uncached.tz
    iso = local_seconds(tz)(sec)  # YYYY-MM-DDTHH:MM:SS+HH:MM
    return f"{iso[:10]} {iso[11:19]} {tz}"


def session_record(state: SessionState, index: int, tm: TimeManager, symbols: tuple[str, ...], base: str,
                   derived: tuple[str, ...], trading: dict[str, Any], clock: dict[str, Any],
                   quality_later: bool = False,
                   fold_into: tuple[dict[str, float], dict[str, int]] | None = None) -> dict[str, Any]:
    """Return the JSON-ready record of one finished session (read after every stage acked it).

    With `quality_later`, ``data_quality`` is None: the journal's reader computes it
    (`complete_record`: it is the quality rollup of the record's own ``quality`` and ``bars``).
    `fold_into`: the run's per-symbol ``(cash, count)`` totals, to fold the session's fills
    into in the same pass as the record's ``by_symbol`` (`app.metrics.stats.symbol_pnl`).
    """
    series = state.bars
    labels = (base, *derived)
    bars = {s: {label: len(series[(s, label)]) for label in labels if (s, label) in series} for s in symbols}
    detail = {s: _detail(state, s, base, derived, tm) for s in symbols}
    record = compute_session_stats(
        state.session.isoformat(), trading["equity_start"], trading["equity_end"], trading["fills"],
        trading["closed_trades"], rejected_orders=trading["orders_rejected"],
        bars_processed=sum([b[base] for b in bars.values()]))
    done = record["trading"]
    expired = trading.get("expired", [])
    done["rejections"] = trading["rejections"]
    done["orders_expired"] = len(expired)  # DAY orders unfilled at the close
    done["expired"] = expired
    books_end = trading["books_end"]
    done["by_symbol"] = symbol_pnl(trading["session_fills"], trading["books_start"], books_end, fold_into)
    done["open_positions"] = open_positions(books_end)
    record["index"] = index
    record["open"] = _format_ns(tm, state.open_ns)
    record["close"] = _format_ns(tm, state.close_ns)
    record["early_close"] = state.early_close
    record["bars"] = bars
    record["data_quality"] = None if quality_later else quality_rollup(detail, bars, base)
    record["quality"] = detail
    record["clock"] = clock
    return record


def complete_record(record: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Fill in, in place, the fields a journaled record left to its reader, and return it.

    `later` maps ``"data_quality"`` to the base interval's label (the field is then the
    `quality_rollup` of the record's ``quality`` and ``bars``, as `session_record` computes it)
    and ``"metrics"`` to a `SessionMetrics` snapshot (the field is then its dict). Work a
    finished session no longer does on the coordinator thread: it is done once, at the outputs.
    """
    if "data_quality" in later:
        record["data_quality"] = quality_rollup(record["quality"], record["bars"], later["data_quality"])
    if "metrics" in later:
        record["metrics"] = session_metrics_dict(later["metrics"])
    return record
