"""Write a run's files: fills.csv, equity.csv, sessions.json, summary.json, reports, config."""

from __future__ import annotations

import csv
import datetime as _dt
import json
from pathlib import Path
from typing import Any

from app.metrics.report import format_run_report, format_session_report, to_json
from app.metrics.stats import compute_run_summary
from app.runtime.build import Pipeline

__all__ = ["write_outputs"]


def _iso(pipeline: Pipeline, ts_ns: int) -> str:
    return pipeline.tm.to_local(ts_ns).isoformat()


def _write_fills(pipeline: Pipeline, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["timestamp", "symbol", "side", "quantity", "price", "commission"])
        for f in pipeline.broker.fills:
            out.writerow([_iso(pipeline, f.filled_at_ns), f.symbol, f.side.name.lower(), f.quantity,
                          f"{f.price:.4f}", f"{f.commission:.4f}"])


def _write_equity(pipeline: Pipeline, path: Path) -> None:
    res = pipeline.engine.results
    tz = pipeline.tm.uncached.tz
    with path.open("w", encoding="utf-8") as fh:
        fh.write("timestamp,equity,cash\n")
        # One row per step; formatting is the cost here, so keep the loop plain.
        for ts, eq, cash in zip(res.equity_ns, res.equity, res.cash, strict=True):
            stamp = _dt.datetime.fromtimestamp(ts / 1e9, tz=tz).isoformat()
            fh.write(f"{stamp},{eq:.4f},{cash:.4f}\n")


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
    session_end_equity = [r["trading"]["equity_end"] for r in pipeline.records]
    stats = compute_run_summary(
        equity_ns=res.equity_ns, equity=res.equity, session_end_equity=session_end_equity,
        closed_trades=broker.closed_trades, starting_cash=cfg.trading.starting_cash,
        fills_count=len(broker.fills), bars_processed=res.bars, elapsed_s=elapsed_s)
    summary: dict[str, Any] = {
        "session_name": cfg.session_name,
        "status": status,
        "mode": cfg.mode.value,
        "calendar": cfg.calendar,
        "symbols": list(pipeline.plan.symbols),
        "base_interval": pipeline.plan.base.label,
        "sessions_planned": len(pipeline.plan.sessions),
        "sessions_completed": len(pipeline.records),
        "bars": res.bars,
        "steps": res.steps,
        "orders_rejected": len(broker.rejections),
        "final_equity": broker.equity,
        "final_cash": broker.cash,
        "open_positions": {s: broker.position(s) for s in pipeline.plan.symbols if broker.position(s)},
        **{k: v for k, v in stats.items() if k != "bars_per_second"},
    }
    summary["metrics"] = pipeline.metrics.run_report(pipeline.subscriptions, elapsed_s, res.bars, pipeline.config)
    return summary
