"""Per-session records: what sessions.json holds for each session (deterministic except "metrics")."""

from __future__ import annotations

from typing import Any

from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager

__all__ = ["session_record"]


def _quality(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "quality_pct": round(float(report.quality_pct), 4),
        "expected": int(report.expected),
        "present": int(report.present),
        "missing": int(report.missing),
        "gaps": [{"start": int(g.start_ns), "end": int(g.end_ns), "count": int(g.count)} for g in report.gaps],
    }


def session_record(state: SessionState, index: int, tm: TimeManager, symbols: tuple[str, ...], base: str,
                   derived: tuple[str, ...], trading: dict[str, Any], enable_quality: bool) -> dict[str, Any]:
    """Return the JSON-ready record of one finished session (read after every stage acked it)."""
    bars: dict[str, dict[str, int]] = {}
    quality: dict[str, Any] = {}
    for symbol in symbols:
        bars[symbol] = {label: len(state.bars[(symbol, label)]) for label in (base, *derived)
                        if (symbol, label) in state.bars}
        q = _quality(state.quality.get((symbol, base)))
        if q is None:
            q = {"quality_pct": 100.0, "expected": None, "present": bars[symbol][base], "missing": None,
                 "gaps": [], "detection": "disabled" if not enable_quality else "none"}
        for gap in q["gaps"]:
            gap["start_local"] = tm.format_ns(gap["start"])
        q["rejected"] = dict(sorted(state.rejected.get(symbol, {}).items()))
        q["repaired_out_of_order"] = state.repairs.get(symbol, 0)
        q["derived_skipped"] = {label: state.derived_skipped.get((symbol, label), 0) for label in derived
                                if (symbol, label) in state.derived_skipped}
        q["historical"] = {k[1]: round(v, 4) for k, v in sorted(state.historical_quality.items()) if k[0] == symbol}
        quality[symbol] = q
    pnl = trading["equity_end"] - trading["equity_start"]
    return {
        "index": index,
        "session": state.session.isoformat(),
        "open": tm.format_ns(state.open_ns),
        "close": tm.format_ns(state.close_ns),
        "early_close": state.early_close,
        "bars": bars,
        "quality": quality,
        "trading": {**trading, "pnl": pnl},
    }
