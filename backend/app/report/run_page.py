"""report.html for one run: status, headline metrics, equity and drawdown, P&L, prices with fills,
data quality, stage latency and the config, from the run's finished files.

`write_run_report` is what ``python -m app.report RUN_DIR`` calls; `write_run_report_safely` is the
hook at the end of every run (`app.runtime.outputs`, `app.runtime.recover`): a report that cannot
be written is a warning in run.log, never a lost output.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.errors import AppError
from app.report.downsample import MAX_POINTS
from app.report.html import Page, esc, status_banner, table, trace_json, write_page
from app.report.memory import hand_back_freed
from app.report.prices import SessionSpans, rangebreaks, session_spans, symbol_price_line
from app.report.run_charts import (
    BLUE,
    GREEN,
    GREY,
    RED,
    SESSION_AXIS,
    EquityView,
    equity_figure,
    equity_view,
    fill_markers,
    group_fills,
    headline_metrics,
    latency_rows,
    quality_grid,
    session_pnl,
)
from app.report.run_files import Equity, RunFiles, SessionViews, load_run, sessions_with
from app.timing.stopwatch import Stopwatch

__all__ = ["REPORT_NAME", "SYMBOL_CHARTS", "build_run_page", "write_run_report", "write_run_report_safely"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
SYMBOL_CHARTS = 8
"""Up to this many symbols get a price chart each; more share one chart with a symbol menu."""

_BASE_SECONDS = {"1s": 1, "1m": 60, "1d": 86_400}


def write_run_report(run_dir: Path, out: Path | None = None, equity: Equity | EquityView | None = None,
                     sessions: list[dict[str, Any]] | SessionViews | None = None) -> Path:
    """Write the report of the run in `run_dir` to `out` (default ``run_dir/report.html``); return its path.

    `equity`, `sessions`: equity.csv and sessions.json as the run that just wrote them holds
    them (`load_run`): the same page, without reading them back.

    Raises
    ------
    ReportError
        If `run_dir` is not a run folder or one of its files is unreadable.
    """
    with _collector_paused():
        hand_back_freed()  # what the run's outputs freed, before the page's reads (`app.report.memory`)
        files = load_run(run_dir, equity, sessions)
        page = build_run_page(files)
        return write_page(page, out or run_dir / REPORT_NAME)


@contextmanager
def _collector_paused() -> Iterator[None]:
    # sessions.json becomes ~100,000 small objects (a year of sessions), none in a cycle: without a
    # pause the cyclic collector would scan them again and again while the page is built.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_run_report_safely(run_dir: Path, stopwatch: Stopwatch | None = None,
                            equity: Equity | EquityView | None = None,
                            sessions: list[dict[str, Any]] | SessionViews | None = None) -> Path | None:
    """Write ``run_dir/report.html``; on any failure log a warning and return None (the run's other
    files are already written and stay as they are). With `stopwatch`, run.log says how long it took;
    `equity` and `sessions` as for `write_run_report`."""
    began = stopwatch.now_ns() if stopwatch is not None else 0
    try:
        path = write_run_report(run_dir, equity=equity, sessions=sessions)
    except Exception as e:  # the report must never cost the run its outputs
        log.warning("report.html not written: %s: %s", type(e).__name__, e, exc_info=not isinstance(e, AppError))
        return None
    if stopwatch is not None:
        log.info("report.html written in %.3f s", stopwatch.elapsed_ns(began) / 1e9)
    return path


def build_run_page(files: RunFiles) -> Page:
    """Return the page of one run (sections for the files it has)."""
    s = files.summary
    name = str(s.get("session_name") or files.run_dir.name)
    page = Page(f"{name}: run report")
    page.add(f"<h1>Run report: {esc(name)}</h1>")
    page.add(f'<p class="sub">{esc(_subtitle(files))}</p>')
    page.add(status_banner(str(s.get("status", "unknown")), s.get("status_detail")))
    page.heading("Headline metrics")
    page.add(table(["metric", "value"], headline_metrics(s), "metrics"))
    symbols = [str(x) for x in s.get("symbols") or (files.config or {}).get("symbols") or []]
    spans = session_spans(sessions_with(files.sessions, "close", "date", "open"))
    breaks = rangebreaks(spans) if spans is not None else []
    _equity_section(page, files, breaks)
    _pnl_section(page, files, symbols)
    _price_section(page, files, symbols, spans, breaks)
    _quality_section(page, files, symbols)
    _latency_section(page, files)
    if files.config_text is not None:
        page.add("<h2>Config</h2><details><summary>config.yaml as run</summary><pre>"
                 f"{esc(files.config_text)}</pre></details>")
    return page


def _subtitle(files: RunFiles) -> str:
    s, cfg = files.summary, files.config or {}
    strategy = cfg.get("strategy") or {}
    parts = [f"{s.get('first_session') or '?'} to {s.get('last_session') or '?'}",
             f"symbols {', '.join(map(str, s.get('symbols') or cfg.get('symbols') or [])) or '?'}",
             f"base interval {s.get('base_interval') or '?'}",
             f"calendar {s.get('calendar') or cfg.get('calendar') or '?'}"]
    if strategy:
        params = ", ".join(f"{k}={v}" for k, v in (strategy.get("params") or {}).items())
        parts.append(f"strategy {strategy.get('class')}" + (f" ({params})" if params else ""))
    parts.append(f"folder {files.run_dir}")
    return " · ".join(parts)


def _equity_section(page: Page, files: RunFiles, breaks: list[dict[str, Any]]) -> None:
    page.heading("Equity and drawdown")
    view = equity_view(files.equity) if files.equity is not None else None
    if view is None or not view.total:
        page.note("No equity points: the run wrote no equity.csv rows.")
        return
    data, layout = equity_figure(view, breaks)
    page.chart("equity", data, layout, height=460)
    if view.thinned:
        page.note(f"Drawn: {len(view.x):,} of {view.total:,} points (per bucket of consecutive steps, the highest "
                  f"and lowest equity and drawdown are kept, so every peak and trough shows); equity.csv has all.")


def _pnl_section(page: Page, files: RunFiles, symbols: list[str]) -> None:
    page.heading("P&L per session and per symbol")
    if not files.sessions:
        page.note("No finished session (sessions.json is absent or empty).")
        return
    dates, per, totals = session_pnl(sessions_with(files.sessions, "date", "trading"), symbols)
    palette = [BLUE, "#e08a1e", "#7a4cc2", "#2aa198", "#c2477a", "#6b8e23", "#b8860b", "#4682b4"]
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": sym, "x": dates, "y": per[sym], "marker": {"color": palette[i % len(palette)]}}
        for i, sym in enumerate(symbols)]
    data.append({"type": "scatter", "mode": "markers", "name": "session total", "x": dates, "y": totals,
                 "marker": {"color": "#222", "symbol": "diamond", "size": 6}})
    page.chart("pnl_sessions", data, {"title": {"text": "P&L per session (stacked by symbol)"}, "barmode": "relative",
                                      "xaxis": SESSION_AXIS, "legend": {"orientation": "h", "y": 1.1}})
    by_symbol = ((files.summary.get("trading") or {}).get("by_symbol")) or {}
    if by_symbol:
        names = list(by_symbol)
        pnl = [float((by_symbol[n] or {}).get("pnl", 0.0)) for n in names]
        page.chart("pnl_symbols", [{"type": "bar", "name": "P&L", "x": names, "y": pnl,
                                    "marker": {"color": [GREEN if v >= 0 else RED for v in pnl]},
                                    "text": [f"{(by_symbol[n] or {}).get('fills', 0)} fills" for n in names]}],
                   {"title": {"text": "P&L per symbol (whole run)"}, "xaxis": {"type": "category"}}, height=300)


def _price_section(page: Page, files: RunFiles, symbols: list[str], spans: SessionSpans | None,
                   breaks: list[dict[str, Any]]) -> None:
    page.heading("Prices and fills")
    if not symbols:
        page.note("No symbols in the summary or config.")
        return
    fills = files.fills
    groups = group_fills(fills) if fills is not None else {}
    # Each symbol's traces are written as JSON as they are made (a long run's lines and fills took
    # ~1 MB a symbol as objects, all kept until the chart): in the menu's form when there are more
    # symbols than charts (`_price_menu`), else as they are.
    menu = len(symbols) > SYMBOL_CHARTS
    texts_by_symbol: dict[str, list[str]] = {}
    notes: list[str] = []
    for sym in symbols:
        traces = _price_traces(files, sym, spans, notes)
        if fills is not None:
            traces += fill_markers(fills, groups, sym)
        if not traces:
            notes.append(f"{sym}: no prices and no fills to draw")
        elif menu:
            shown = not texts_by_symbol  # the menu shows the first symbol drawn
            texts_by_symbol[sym] = [trace_json({**t, "visible": shown, "name": f"{sym} {t['name']}"}) for t in traces]
        else:
            texts_by_symbol[sym] = [trace_json(t) for t in traces]
    layout = {"xaxis": {"type": "date", "rangebreaks": breaks}, "yaxis": {"title": {"text": "price"}},
              "legend": {"orientation": "h", "y": 1.1}}
    if len(texts_by_symbol) <= SYMBOL_CHARTS:
        for sym, texts in texts_by_symbol.items():
            if menu:  # (fewer symbols drew than a menu is for: their traces as they were made)
                texts = [_unmenu(text, sym) for text in texts]
            page.chart_traces(f"price_{sym}", texts, {**layout, "title": {"text": f"{sym}: price and fills"}})
    else:
        _price_menu(page, texts_by_symbol, layout)
    page.note("Drag to zoom, double-click to reset; buys are green triangles up, sells red triangles down.")
    for text in dict.fromkeys(notes):
        page.note(text)


def _unmenu(text: str, sym: str) -> str:
    # A trace written in the menu's form, as it was before (no "visible", its own name): JSON reads
    # back what it wrote (floats by repr, NaN, keys in order).
    import json

    trace = json.loads(text)
    del trace["visible"]
    trace["name"] = trace["name"][len(sym) + 1:]
    return trace_json(trace)


def _price_traces(files: RunFiles, sym: str, spans: SessionSpans | None, notes: list[str]) -> list[dict[str, Any]]:
    # The symbol's close line from the bar store (thinned); why not, in `notes`.
    store = ((files.config or {}).get("data") or {}).get("store")
    base = str(files.summary.get("base_interval") or "")
    if spans is None:
        notes.append("no session times in sessions.json: prices not drawn")
        return []
    if not store or base not in _BASE_SECONDS:
        notes.append(f"{sym}: no bar store or base interval in the run's files: prices not drawn")
        return []
    try:  # a few row groups at a time: memory does not grow with the run's length
        line = symbol_price_line(Path(store), base, sym, spans, _BASE_SECONDS[base], MAX_POINTS)
    except (AppError, OSError, ValueError) as e:
        notes.append(f"{sym}: prices not drawn ({e})")
        return []
    if not line.x:
        return []
    step = _step_label(line.step_s)
    if line.step_s > _BASE_SECONDS[base]:
        notes.append(f"{sym}: {line.bars:,} {base} bars drawn as the close of each {step} "
                     f"(fills at their exact time and price)")
    return [{"type": "scatter", "mode": "lines", "name": f"close ({step})", "x": line.x, "y": line.y,
             "line": {"color": GREY, "width": 1}, "connectgaps": False}]


def _step_label(step_s: int) -> str:
    if step_s >= 86_400:
        return "1 session"
    if step_s >= 3600 and step_s % 3600 == 0:
        return f"{step_s // 3600}h"
    return f"{step_s // 60}m" if step_s >= 60 and step_s % 60 == 0 else f"{step_s}s"


def _price_menu(page: Page, texts_by_symbol: dict[str, list[str]], layout: dict[str, Any]) -> None:
    # Many symbols: one chart, a menu shows one symbol's traces at a time (each trace written with
    # its symbol in its name and shown for the first symbol only: `_price_section`).
    owner = [sym for sym, texts in texts_by_symbol.items() for _ in texts]
    first = owner[0]
    buttons = [{"label": sym, "method": "update",
                "args": [{"visible": [o == sym for o in owner]}, {"title": {"text": f"{sym}: price and fills"}}]}
               for sym in texts_by_symbol]
    page.chart_traces("prices", [text for texts in texts_by_symbol.values() for text in texts],
                      {**layout, "title": {"text": f"{first}: price and fills"},
                       "updatemenus": [{"buttons": buttons, "x": 0, "y": 1.18, "xanchor": "left"}]})


def _quality_section(page: Page, files: RunFiles, symbols: list[str]) -> None:
    page.heading("Data quality per session and symbol")
    if not files.sessions or not symbols:
        page.note("No finished session: no quality figures.")
        return
    dates, z, text = quality_grid(sessions_with(files.sessions, "date", "quality"), symbols)
    present = [v for row in z for v in row if v is not None]
    if not present:
        page.note("The sessions hold no quality figures (quality checks were off).")
        return
    low = min(present)
    page.chart("quality", [{"type": "heatmap", "x": dates, "y": symbols, "z": z, "text": text,
                            "zmin": min(low, 99.0), "zmax": 100.0, "xgap": 1, "ygap": 1,
                            "colorscale": [[0, "#c0392b"], [0.5, "#f1c40f"], [1, "#27ae60"]],
                            "colorbar": {"title": {"text": "% bars"}},
                            "hovertemplate": "%{x} %{y}: %{z:.2f}%<br>%{text}<extra></extra>"}],
               {"title": {"text": "Bars present, % of expected (base interval)"}, "xaxis": SESSION_AXIS},
               height=max(220, 90 + 28 * len(symbols)))
    worst = sorted(((v, dates[c], symbols[r], text[r][c]) for r, row in enumerate(z) for c, v in enumerate(row)
                    if v is not None and v < 100.0))[:20]
    if worst:
        page.add(table(["session", "symbol", "quality %", "detail"], [(d, sym, v, t) for v, d, sym, t in worst]))
        page.note(f"The {len(worst)} least complete session/symbol pairs (sessions.json names each gap).")
    else:
        page.note("Every session was complete for every symbol.")


def _latency_section(page: Page, files: RunFiles) -> None:
    page.heading("Stage latency")
    stages = ((files.summary.get("metrics") or {}).get("stages")) or {}
    rows = latency_rows(stages)
    if rows:
        names = [n for n, _ in rows]
        data = [{"type": "bar", "name": label, "x": names, "y": [float(st.get(key, 0.0)) for _, st in rows]}
                for label, key in (("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms"))]
        page.chart("latency", data, {"title": {"text": "Per-call time by stage (ms, log scale)"}, "barmode": "group",
                                     "yaxis": {"type": "log", "title": {"text": "ms"}}, "xaxis": {"type": "category"}})
        page.add(table(["stage", "count", "mean ms", "p50 ms", "p99 ms", "max ms", "total ms"],
                       [(n, st.get("count"), st.get("mean_ms"), st.get("p50_ms"), st.get("p99_ms"), st.get("max_ms"),
                         st.get("total_ms")) for n, st in rows]))
    else:
        page.note("No run timings in summary.json (a recovered or unfinished run does not have them).")
    series: dict[str, list[float | None]] = {}
    dates: list[str] = []
    for i, r in enumerate(sessions_with(files.sessions, "date", "metrics")):
        dates.append(str(r.get("date", i)))
        for name, st in latency_rows(((r.get("metrics") or {}).get("stages")) or {}):
            series.setdefault(name, [None] * len(files.sessions))[i] = float(st.get("p99_ms", 0.0))
    if len(dates) > 1 and series:
        page.chart("latency_sessions", [{"type": "scatter", "mode": "lines+markers", "name": n, "x": dates, "y": v}
                                        for n, v in series.items()],
                   {"title": {"text": "p99 per session by stage (ms, log scale)"}, "xaxis": SESSION_AXIS,
                    "yaxis": {"type": "log", "title": {"text": "ms"}}})
