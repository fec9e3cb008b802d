"""A sweep's report.html: the ranked table, the metric over any two parameters, walk-forward per window.

Reads ``results.parquet`` (one row per run: ``param.<name>`` columns, the figures, status,
error, rank; walk-forward rows add window, phase, start_date, end_date), ``walk_forward.parquet``
when present (one row per window: spans, chosen ``param.<name>``, ``train_<metric>`` and
``test_<metric>``) and ``sweep.json`` (metric, ascending, params). Optional columns may be
missing: the page shows what there is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from app.report.html import Page, ReportError, esc, status_banner, table, write_page

__all__ = ["TABLE_ROWS", "heatmap_grid", "write_sweep_report"]

TABLE_ROWS = 500
"""Rows of the ranked table shown, at most (results.csv has all)."""

FIGURE_COLUMNS = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor",
                  "bars_processed", "bars_per_second")
_WF_DATES = ("train_start", "train_end", "test_start", "test_end")

Columns = dict[str, list[Any]]


def _read_parquet(path: Path) -> Columns:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).read().to_pydict()
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; expected the sweep's {path.name}") from None
    except (OSError, pa.ArrowException) as e:
        raise ReportError(f"{path}: cannot read it as Parquet ({e}); expected the sweep's {path.name}") from None


def _read_meta(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / "sweep.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: not valid JSON ({e}); expected the sweep's description") from None
    return meta if isinstance(meta, dict) else {}


def write_sweep_report(sweep_dir: Path) -> Path:
    """Write ``sweep_dir/report.html`` from results.parquet, walk_forward.parquet and sweep.json; return its path.

    Raises
    ------
    ReportError
        If results.parquet is missing or unreadable, or sweep.json is not JSON.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ReportError(f"{sweep_dir}: not a folder; expected a sweep folder (written by python -m app.sweep)")
    meta = _read_meta(sweep_dir)
    results = _read_parquet(sweep_dir / "results.parquet")
    wf_path = sweep_dir / "walk_forward.parquet"
    walk = _read_parquet(wf_path) if wf_path.is_file() else None
    return write_page(build_sweep_page(sweep_dir, meta, results, walk), sweep_dir / "report.html")


def _n(cols: Columns) -> int:
    return max((len(v) for v in cols.values()), default=0)


def _col(cols: Columns, name: str) -> list[Any]:
    return cols.get(name) or [None] * _n(cols)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def build_sweep_page(sweep_dir: Path, meta: dict[str, Any], results: Columns, walk: Columns | None) -> Page:
    """Return the sweep's page from its loaded tables."""
    params = [str(p) for p in meta.get("params") or [c[len("param."):] for c in results if c.startswith("param.")]]
    params = [p for p in params if f"param.{p}" in results]
    metric = str(meta.get("metric") or "total_return_pct")
    ascending = bool(meta.get("ascending", False))
    name = str(meta.get("name") or sweep_dir.name)
    page = Page(f"{name}: sweep report")
    page.add(f"<h1>Sweep report: {esc(name)}</h1>")
    order = "lowest first" if ascending else "highest first"
    facts = [f"ranked by {metric} ({order})", f"parameters {', '.join(params) or 'none'}",
             f"{_n(results):,} runs"]
    for key, label in (("completed", "completed"), ("failed", "failed"), ("cancelled", "cancelled"),
                       ("elapsed_s", "s elapsed"), ("runs_per_second", "runs/s"), ("cluster", "")):
        if meta.get(key) not in (None, ""):
            facts.append(f"{meta[key]} {label}".strip())
    page.add(f'<p class="sub">{esc(" · ".join(facts))} · folder {esc(sweep_dir)}</p>')
    if meta.get("status"):
        page.add(status_banner(str(meta["status"]), None))
    _ranked_section(page, results, params, metric)
    _heatmap_section(page, results, params, metric, ascending)
    if walk is not None:
        _walk_section(page, walk, params, str(meta.get("best_by") or metric), meta)
    return page


def _ranked_section(page: Page, results: Columns, params: list[str], metric: str) -> None:
    page.heading("Ranked runs")
    n = _n(results)
    if not n:
        page.note("results.parquet has no rows.")
        return
    lead = [c for c in ("rank", "window", "phase", "symbols", "start_date", "end_date") if c in results]
    figures = [metric] + [c for c in FIGURE_COLUMNS if c != metric]
    figures = [c for c in figures if c in results]
    cols = [*lead, *(f"param.{p}" for p in params), *figures, *(c for c in ("status", "error") if c in results)]
    cols = [c for c in cols if any(_cell(v) != "" for v in results[c])]  # no column left all blank
    rows = [[_cell(results[c][i]) for c in cols] for i in range(min(n, TABLE_ROWS))]
    page.add(table([c.removeprefix("param.") for c in cols], rows, "ranked"))
    if n > TABLE_ROWS:
        page.note(f"The first {TABLE_ROWS} of {n:,} rows (results.csv and results.parquet have all).")


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _sort_key(value: Any) -> tuple[int, float, str]:
    num = _number(value)
    return (0, num, "") if num is not None else (1, 0.0, str(value))


def heatmap_grid(a: Sequence[Any], b: Sequence[Any], values: Sequence[float | None]
                 ) -> tuple[list[Any], list[Any], list[list[float | None]], list[list[int]]]:
    """Return (x values, y values, mean of `values` per (b, a) cell, count per cell) over rows with a value.

    x and y are the distinct values of `a` and `b` (numbers in order, then text); a cell with no
    value is None.
    """
    sums: dict[tuple[Any, Any], float] = {}
    counts: dict[tuple[Any, Any], int] = {}
    for va, vb, v in zip(a, b, values, strict=True):
        if v is None:
            continue
        key = (va, vb)
        sums[key] = sums.get(key, 0.0) + v
        counts[key] = counts.get(key, 0) + 1
    xs = sorted({k[0] for k in sums}, key=_sort_key)
    ys = sorted({k[1] for k in sums}, key=_sort_key)
    z = [[(sums[(x, y)] / counts[(x, y)]) if (x, y) in counts else None for x in xs] for y in ys]
    n = [[counts.get((x, y), 0) for x in xs] for y in ys]
    return xs, ys, z, n


def _metric_rows(results: Columns, metric: str) -> tuple[list[int], str]:
    # The rows the heatmap averages: completed runs with a value; train rows of a walk-forward.
    n = _n(results)
    status = _col(results, "status")
    phase = _col(results, "phase")
    values = _col(results, metric)
    train = any(p == "train" for p in phase)
    rows = [i for i in range(n) if (status[i] in (None, "completed")) and _number(values[i]) is not None
            and (not train or phase[i] == "train")]
    return rows, (" (train windows)" if train else "")


def _heatmap_section(page: Page, results: Columns, params: list[str], metric: str, ascending: bool) -> None:
    page.heading(f"{metric} over the parameters")
    if metric not in results:
        page.note(f"results.parquet has no {metric} column.")
        return
    rows, which = _metric_rows(results, metric)
    if not rows:
        page.note(f"No completed run with a {metric} value.")
        return
    values = [_number(results[metric][i]) for i in rows]
    # The dimensions: each parameter, and the symbols when runs were per symbol or group.
    dims = {p: f"param.{p}" for p in params}
    if "symbols" in results and "symbols" not in dims:
        dims["symbols"] = "symbols"
    varied = [p for p, col in dims.items() if len({_sort_key(results[col][i]) for i in rows}) > 1]
    colorscale = [[0, "#c0392b"], [0.5, "#f7e463"], [1, "#1e8449"]]
    if ascending:
        colorscale = [[0, "#1e8449"], [0.5, "#f7e463"], [1, "#c0392b"]]
    if len(varied) < 2:
        if varied:
            p = varied[0]
            xs, _, z, counts = heatmap_grid([results[dims[p]][i] for i in rows], [""] * len(rows), values)
            page.chart("sweep_param", [{"type": "bar", "x": [str(x) for x in xs], "y": z[0], "name": metric,
                                        "text": [f"{c} run(s)" for c in counts[0]]}],
                       {"title": {"text": f"mean {metric} by {p}{which}"}, "xaxis": {"type": "category",
                                                                                      "title": {"text": p}}})
        else:
            page.note("Fewer than two parameters vary: no heatmap.")
        return
    data: list[dict[str, Any]] = []
    pairs = list(combinations(varied, 2))
    for k, (pa_, pb) in enumerate(pairs):
        xs, ys, z, counts = heatmap_grid([results[dims[pa_]][i] for i in rows],
                                         [results[dims[pb]][i] for i in rows], values)
        data.append({"type": "heatmap", "x": [str(x) for x in xs], "y": [str(y) for y in ys], "z": z,
                     "customdata": counts, "colorscale": colorscale, "visible": k == 0, "name": f"{pa_} x {pb}",
                     "colorbar": {"title": {"text": metric}},
                     "hovertemplate": (f"{pa_}=%{{x}}<br>{pb}=%{{y}}<br>mean {metric} %{{z:.4g}}"
                                       "<br>%{customdata} run(s)<extra></extra>")})

    def axes(pa_: str, pb: str) -> dict[str, Any]:
        return {"title": {"text": f"mean {metric}{which}: {pa_} x {pb} (other parameters averaged)"},
                "xaxis": {"type": "category", "title": {"text": pa_}},
                "yaxis": {"type": "category", "title": {"text": pb}}}

    layout = axes(*pairs[0])
    if len(pairs) > 1:
        buttons = [{"label": f"{pa_} x {pb}", "method": "update",
                    "args": [{"visible": [j == k for j in range(len(pairs))]},
                             {"title.text": axes(pa_, pb)["title"]["text"], "xaxis.title.text": pa_,
                              "yaxis.title.text": pb}]}
                   for k, (pa_, pb) in enumerate(pairs)]
        layout["updatemenus"] = [{"buttons": buttons, "x": 0, "y": 1.2, "xanchor": "left"}]
    page.chart("sweep_heatmap", data, layout, height=460)
    page.note("Each cell is the mean over the runs with those two values (the other parameters averaged)"
              + ("; pick another pair in the menu." if len(pairs) > 1 else "."))


def _walk_section(page: Page, walk: Columns, params: list[str], best_by: str, meta: dict[str, Any]) -> None:
    page.heading("Walk-forward per window")
    n = _n(walk)
    if not n:
        page.note("walk_forward.parquet has no rows.")
        return
    train_col = next((c for c in (f"train_{best_by}", "train_metric") if c in walk), None)
    test_col = next((c for c in (f"test_{best_by}", "test_metric") if c in walk), None)
    windows = [str(w) for w in _col(walk, "window")]
    if "symbols" in walk and any(walk["symbols"]):
        windows = [f"{w} {s}".strip() for w, s in zip(windows, walk["symbols"], strict=True)]
    data = []
    for col, label, color in ((train_col, "train", "#8a94a6"), (test_col, "test (out of sample)", "#2f6fb0")):
        if col is not None:
            data.append({"type": "bar", "name": f"{label} {best_by}", "x": windows,
                         "y": [_number(v) for v in walk[col]], "marker": {"color": color}})
    if data:
        page.chart("walk_forward", data, {"title": {"text": f"{best_by} per window: train vs test"},
                                          "barmode": "group", "xaxis": {"type": "category",
                                                                        "title": {"text": "window"}}})
    cols = [c for c in ("window", "symbols", *_WF_DATES) if c in walk]
    cols += [f"param.{p}" for p in params if f"param.{p}" in walk]
    cols += [c for c in (train_col, test_col, "status", "error") if c is not None and c in walk]
    cols = [c for c in cols if any(_cell(v) != "" for v in walk[c])]
    page.add(table([c.removeprefix("param.") for c in cols],
                   [[_cell(walk[c][i]) for c in cols] for i in range(n)], "walk-forward"))
    compounded = meta.get("test_return_pct_compounded")
    if isinstance(compounded, dict) and compounded:
        page.note("Test windows chained, total return %: " + ", ".join(
            f"{k}: {'n/a' if v is None else f'{v:.2f}'}" for k, v in compounded.items()))
