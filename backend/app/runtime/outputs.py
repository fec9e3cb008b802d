"""Write a run's files: fills.csv, equity.csv, sessions.json, summary.json, reports, config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from app.metrics.report import format_report, to_json
from app.metrics.stats import compute_run_summary, open_positions, symbol_pnl
from app.runtime.build import Pipeline
from app.runtime.records import quality_rollup
from app.runtime.text_columns import fixed_decimals, iso_local, join_rows, text_column

__all__ = ["write_outputs"]


def _stamps(pipeline: Pipeline, ts_ns: np.ndarray) -> np.ndarray:
    return iso_local(ts_ns, pipeline.tm.utc_offsets_s(ts_ns))


def _csv_field(text: str) -> str:
    """Quote a field as csv.writer (QUOTE_MINIMAL, lineterminator "\\n") does."""
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_fills(pipeline: Pipeline, path: Path) -> None:
    fills = pipeline.broker.fills
    header = b"timestamp,symbol,side,quantity,price,commission\n"
    if not fills:
        _write(path, header)
        return
    names = {s: _csv_field(s) for s in {f.symbol for f in fills}}
    body = join_rows([
        _stamps(pipeline, np.array([f.filled_at_ns for f in fills], dtype=np.int64)), ",",
        text_column([names[f.symbol] for f in fills]), ",",
        text_column([f.side.name.lower() for f in fills]), ",",
        text_column([str(f.quantity) for f in fills]), ",",
        fixed_decimals([f.price for f in fills]), ",",
        fixed_decimals([f.commission for f in fills]), "\n",
    ])
    _write(path, header, body)


def _write_equity(pipeline: Pipeline, path: Path) -> None:
    res = pipeline.engine.results
    ts_ns = np.asarray(res.equity_ns, dtype=np.int64)
    body = join_rows([_stamps(pipeline, ts_ns), ",", fixed_decimals(res.equity), ",",
                      fixed_decimals(res.cash), "\n"]) if ts_ns.shape[0] else b""
    _write(path, b"timestamp,equity,cash\n", body)


JSON_CHUNK = 64
"""Items encoded at a time by `_write_json_list` (bounds its memory, keeps its per-call cost low)."""


def _write_json_list(path: Path, items: list[Any]) -> None:
    """Write ``to_json(items)`` a chunk of items at a time (the same bytes; memory bounded by a chunk).

    ``indent=2`` writes a list as ``[``, each item indented two more spaces, ``,`` between them,
    and ``]`` (an empty list as ``[]``), so a chunk's document minus its brackets is that chunk's
    part of the whole.
    """
    with path.open("w", encoding="utf-8") as fh:
        if not items:
            fh.write("[]\n")
            return
        fh.write("[\n")
        for lo in range(0, len(items), JSON_CHUNK):
            text = to_json(items[lo : lo + JSON_CHUNK])
            fh.write(("" if lo == 0 else ",\n") + text[2:-2])  # without "[\n" and "\n]"
        fh.write("\n]\n")


def _write(path: Path, *parts: bytes) -> None:
    with path.open("wb") as fh:
        for part in parts:
            fh.write(part)


def write_outputs(pipeline: Pipeline, out_dir: Path, status: str, elapsed_s: float,
                  resolved_config: dict[str, Any], startup_s: float | None = None,
                  ) -> dict[str, Any]:
    """Write every output file (also after a failure: what exists so far) and return the summary.

    The summary's ``metrics.breakdown`` times the process's phases: `startup_s` (process start
    to run start, when given), the run's `elapsed_s` and data loading within it, and the
    outputs up to the summary itself (the summary and report.txt are written after it).
    """
    sw = pipeline.stopwatch
    began = sw.now_ns()
    _write_fills(pipeline, out_dir / "fills.csv")
    _write_equity(pipeline, out_dir / "equity.csv")
    config_text = json.dumps(resolved_config, indent=2, sort_keys=True)
    (out_dir / "config.resolved.json").write_text(config_text + "\n")
    records = pipeline.records
    _write_json_list(out_dir / "sessions.json", records)
    summary = build_summary(pipeline, status, elapsed_s)
    summary["metrics"]["breakdown"] = _breakdown(summary["metrics"], startup_s, elapsed_s,
                                                 sw.elapsed_ns(began) / 1e9)
    (out_dir / "summary.json").write_text(to_json(summary) + "\n", encoding="utf-8")
    text = format_report(records, summary)  # the run's status first, then its report, then each session's
    (out_dir / "report.txt").write_text(text + "\n", encoding="utf-8")
    return summary


def _breakdown(metrics: dict[str, Any], startup_s: float | None, run_s: float,
               outputs_s: float) -> dict[str, float]:
    stages = metrics.get("stages", {})
    load_ms = sum(stages.get(name, {}).get("total_ms", 0.0)
                  for name in ("data_loading_initial", "data_loading_subsequent"))
    out = {"run_s": run_s, "load_s": load_ms / 1e3, "outputs_s": outputs_s}
    if startup_s is not None:
        out["startup_s"] = startup_s
    return out


def build_summary(pipeline: Pipeline, status: str, elapsed_s: float) -> dict[str, Any]:
    """Return summary.json's content: totals and statistics, timing under "metrics"."""
    res = pipeline.engine.results
    broker = pipeline.broker
    cfg = pipeline.config
    records = pipeline.records
    summary: dict[str, Any] = dict(compute_run_summary(
        np.asarray(res.equity_ns, dtype=np.int64), np.asarray(res.equity, dtype=np.float64),
        [r["trading"]["equity_end"] for r in records], broker.closed_trades, cfg.trading.starting_cash,
        len(broker.fills), res.bars, rejected_orders=len(broker.rejections)))
    books = {s: (p.quantity, p.avg_price, broker.last_price(s)) for s, p in broker.positions.items()}
    summary["trading"]["by_symbol"] = symbol_pnl(broker.fills, {}, books)
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
        "open_positions": open_positions(books),
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
