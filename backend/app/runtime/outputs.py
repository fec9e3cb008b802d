"""Write a run's files: fills.csv, equity.csv, sessions.json, summary.json, reports, config."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from app.metrics.report import format_run_report, format_session_report, to_json
from app.metrics.stats import compute_run_summary
from app.runtime.build import Pipeline
from app.runtime.records import quality_rollup

__all__ = ["write_outputs"]


def _write_fills(pipeline: Pipeline, path: Path) -> None:
    fills = pipeline.broker.fills
    stamps = pipeline.tm.isoformat_many(np.array([f.filled_at_ns for f in fills], dtype=np.int64))
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["timestamp", "symbol", "side", "quantity", "price", "commission"])
        for stamp, f in zip(stamps, fills, strict=True):
            out.writerow([stamp, f.symbol, f.side.name.lower(), f.quantity, f"{f.price:.4f}", f"{f.commission:.4f}"])


def _write_equity(pipeline: Pipeline, path: Path) -> None:
    res = pipeline.engine.results
    stamps = pipeline.tm.isoformat_many(np.array(res.equity_ns, dtype=np.int64))
    with path.open("w", encoding="utf-8") as fh:
        fh.write("timestamp,equity,cash\n")
        fh.writelines(f"{t},{eq:.4f},{cash:.4f}\n" for t, eq, cash in zip(stamps, res.equity, res.cash, strict=True))


def write_outputs(pipeline: Pipeline, out_dir: Path, status: str, elapsed_s: float,
                  resolved_config: dict[str, Any]) -> dict[str, Any]:
    """Write every output file (also after a failure: what exists so far) and return the summary."""
    _write_fills(pipeline, out_dir / "fills.csv")
    _write_equity(pipeline, out_dir / "equity.csv")
    (out_dir / "config.resolved.json").write_text(json.dumps(resolved_config, indent=2, sort_keys=True) + "\n")
    records = pipeline.records
    (out_dir / "sessions.json").write_text(to_json(records) + "\n", encoding="utf-8")
    summary = build_summary(pipeline, status, elapsed_s)
    (out_dir / "summary.json").write_text(to_json(summary) + "\n", encoding="utf-8")
    text = "\n\n".join([*(format_session_report(r) for r in records), format_run_report(summary)])
    (out_dir / "report.txt").write_text(text + "\n", encoding="utf-8")
    return summary


def build_summary(pipeline: Pipeline, status: str, elapsed_s: float) -> dict[str, Any]:
    """Return summary.json's content: totals and statistics, timing under "metrics"."""
    res = pipeline.engine.results
    broker = pipeline.broker
    cfg = pipeline.config
    records = pipeline.records
    summary: dict[str, Any] = dict(compute_run_summary(
        np.asarray(res.equity_ns, dtype=np.int64), np.asarray(res.equity, dtype=np.float64),
        [r["trading"]["equity_end"] for r in records], broker.closed_trades, cfg.trading.starting_cash,
        len(broker.fills), res.bars, elapsed_s, rejected_orders=len(broker.rejections)))
    summary.update({
        "session_name": cfg.session_name,
        "status": status,
        "calendar": cfg.calendar,
        "symbols": list(pipeline.plan.symbols),
        "base_interval": pipeline.plan.base.label,
        "streams": [pipeline.plan.base.label, *(i.label for i in pipeline.derived)],
        "sessions_planned": len(pipeline.plan.sessions),
        "first_session": records[0]["date"] if records else None,
        "last_session": records[-1]["date"] if records else None,
        "steps": res.steps,
        "open_positions": {s: broker.position(s) for s in pipeline.plan.symbols if broker.position(s)},
        "clock": {"mode": pipeline.metrics.mode, "requested_speed": pipeline.metrics.requested_speed},
    })
    if records:
        detail = {s: {"quality_pct": float(np.mean([r["quality"][s]["quality_pct"] for r in records])),
                      "gaps": [g for r in records for g in r["quality"][s]["gaps"]],
                      "missing": sum(r["quality"][s]["missing"] or 0 for r in records),
                      "rejected": _sum_dicts(r["quality"][s]["rejected"] for r in records),
                      "derived_bars_skipped": _sum_dicts(r["quality"][s]["derived_bars_skipped"] for r in records)}
                  for s in pipeline.plan.symbols}
        for s in pipeline.plan.symbols:
            live = [r["quality"][s]["live"] for r in records if "live" in r["quality"][s]]
            if live:
                detail[s]["live"] = _sum_dicts({k: v for k, v in d.items() if isinstance(v, int)} for d in live)
        bars = {s: _sum_dicts(r["bars"][s] for r in records) for s in pipeline.plan.symbols}
        summary["data_quality"] = quality_rollup(detail, bars, pipeline.plan.base.label)
        summary["bars"] = bars
    if pipeline.feed_stats is not None:
        stats = pipeline.feed_stats
        summary["feed"] = {"messages": stats.messages, "bars": stats.bars, "updated_bars": stats.updated_bars,
                           "duplicates_dropped": stats.duplicates_dropped, "malformed": stats.malformed,
                           "unexpected": stats.unexpected, "reconnects": stats.reconnects,
                           "backfilled_bars": stats.backfilled_bars,
                           "errors": {str(k): v for k, v in sorted(stats.errors.items())}}
    metrics = pipeline.metrics.run_report(elapsed_s, res.bars, len(records))
    summary["metrics"] = {**summary.get("metrics", {}), **metrics}
    return summary


def _sum_dicts(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))
