"""A page putting two runs side by side: both equity curves, the metrics with their difference, and
the fills that differ.

Fills are matched by (time, symbol, side, quantity, price) as written in fills.csv; the
unmatched ones that share (time, symbol, side) are listed as differing (quantity or price),
the rest as only in A or only in B.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.report.html import Page, esc, status_banner, table, write_page
from app.report.prices import SessionSpans, rangebreaks, session_spans
from app.report.run_charts import BLUE, RED, equity_view, headline_metrics
from app.report.run_files import Fills, RunFiles, load_run

__all__ = ["FillDiff", "diff_fills", "write_compare_report"]

FILL_ROWS = 500
"""Differing fills listed per kind, at most (the counts are exact)."""

FillKey = tuple[str, str, str, float, float]


@dataclass
class FillDiff:
    """How two runs' fills differ: matched count, and the unmatched ones by kind."""

    matched: int = 0
    only_a: list[FillKey] = field(default_factory=list)
    only_b: list[FillKey] = field(default_factory=list)
    differing: list[tuple[FillKey, FillKey]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when every fill matched."""
        return not (self.only_a or self.only_b or self.differing)


def _keys(fills: Fills | None) -> list[FillKey]:
    if fills is None:
        return []
    return list(zip(fills.timestamp, fills.symbol, fills.side, fills.quantity, fills.price, strict=True))


def diff_fills(a: Fills | None, b: Fills | None) -> FillDiff:
    """Match `a`'s fills with `b`'s (a multiset: two equal fills match two); return the differences in file order."""
    ka, kb = _keys(a), _keys(b)
    left = Counter(ka)
    left.subtract(Counter(kb))
    out = FillDiff()
    # Unmatched rows, in file order: a row is unmatched when its key's surplus is still positive.
    surplus_a = Counter({k: n for k, n in left.items() if n > 0})
    surplus_b = Counter({k: -n for k, n in left.items() if n < 0})
    out.matched = len(ka) - sum(surplus_a.values())
    rest_a: list[FillKey] = []
    for k in reversed(ka):  # the last equal ones are the unmatched (either choice is a valid match)
        if surplus_a[k] > 0:
            surplus_a[k] -= 1
            rest_a.append(k)
    rest_b: list[FillKey] = []
    for k in reversed(kb):
        if surplus_b[k] > 0:
            surplus_b[k] -= 1
            rest_b.append(k)
    rest_a.reverse()
    rest_b.reverse()
    by_place: dict[tuple[str, str, str], list[int]] = {}
    for j, k in enumerate(rest_b):
        by_place.setdefault(k[:3], []).append(j)
    paired: set[int] = set()
    for k in rest_a:
        candidates = by_place.get(k[:3])
        if candidates:
            j = candidates.pop(0)
            out.differing.append((k, rest_b[j]))
            paired.add(j)
        else:
            out.only_a.append(k)
    out.only_b = [k for j, k in enumerate(rest_b) if j not in paired]
    return out


def write_compare_report(run_a: Path, run_b: Path, out: Path) -> Path:
    """Write the comparison of the runs in `run_a` and `run_b` to `out`; return `out`.

    Raises
    ------
    ReportError
        If either folder is not a run folder or one of its files is unreadable.
    """
    a, b = load_run(run_a), load_run(run_b)
    return write_page(build_compare_page(a, b), out)


def _name(files: RunFiles, tag: str) -> str:
    return f"{tag}: {files.summary.get('session_name') or files.run_dir.name} ({files.run_dir.name})"


def build_compare_page(a: RunFiles, b: RunFiles) -> Page:
    """Return the comparison page of two loaded runs."""
    name_a, name_b = _name(a, "A"), _name(b, "B")
    page = Page(f"compare {a.run_dir.name} vs {b.run_dir.name}")
    page.add("<h1>Run comparison</h1>")
    page.add(f'<p class="sub">A = {esc(a.run_dir)} · B = {esc(b.run_dir)}</p>')
    page.add('<div class="grid"><div>'
             + status_banner(str(a.summary.get("status", "unknown")), a.summary.get("status_detail"), "A")
             + "</div><div>"
             + status_banner(str(b.summary.get("status", "unknown")), b.summary.get("status_detail"), "B")
             + "</div></div>")
    page.heading("Metrics")
    page.add(table(["metric", "A", "B", "B - A"], _metric_rows(a.summary, b.summary), "metrics"))
    page.heading("Equity")
    data: list[dict[str, Any]] = []
    for files, label, color in ((a, name_a, BLUE), (b, name_b, RED)):
        view = equity_view(files.equity) if files.equity is not None else None
        if view is not None and view.total:
            data.append({"type": "scatter", "mode": "lines", "name": label, "x": view.x, "y": view.equity,
                         "line": {"color": color, "width": 1.5}})
    if data:
        page.chart("equity_compare", data, {"title": {"text": "Equity, A and B"},
                                            "xaxis": {"type": "date", "rangebreaks": _breaks(a, b)},
                                            "legend": {"orientation": "h", "y": 1.1}}, height=420)
        page.note("Long curves are thinned to about 5,000 points each (the highs and lows of each bucket kept).")
    else:
        page.note("Neither run has equity points.")
    _fills_section(page, diff_fills(a.fills, b.fills))
    return page


def _breaks(a: RunFiles, b: RunFiles) -> list[dict[str, Any]]:
    # The time between the sessions of either run is hidden (nights, weekends, holidays).
    spans = [s for s in (session_spans(a.sessions), session_spans(b.sessions)) if s is not None]
    if not spans:
        return []
    opens = np.concatenate([s.open_ns for s in spans])
    order = np.argsort(opens, kind="stable")
    merged = SessionSpans(opens[order], np.concatenate([s.close_ns for s in spans])[order],
                          np.concatenate([s.offset_s for s in spans])[order], [])
    return rangebreaks(merged)


def _metric_rows(sa: dict[str, Any], sb: dict[str, Any]) -> list[tuple[Any, ...]]:
    ma, mb = dict(headline_metrics(sa)), dict(headline_metrics(sb))
    rows: list[tuple[Any, ...]] = []
    for label in dict.fromkeys([*ma, *mb]):
        va, vb = ma.get(label), mb.get(label)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (va, vb))
        diff = (vb - va) if numeric else ""  # type: ignore[operator]
        rows.append((label, "" if va is None else va, "" if vb is None else vb, diff))
    rows.append(("Status", sa.get("status", ""), sb.get("status", ""), ""))
    return rows


def _fills_section(page: Page, diff: FillDiff) -> None:
    page.heading("Fills that differ")
    page.add(table(["matched", "only in A", "only in B", "differing (same time, symbol, side)"],
                   [(diff.matched, len(diff.only_a), len(diff.only_b), len(diff.differing))], "fill-counts"))
    if diff.identical:
        page.note("Every fill matched: same time, symbol, side, quantity and price in both runs.")
        return
    cols = ["time", "symbol", "side", "quantity", "price"]
    for title, keys in (("Only in A", diff.only_a), ("Only in B", diff.only_b)):
        if keys:
            page.add(f"<h3>{esc(title)} ({len(keys):,})</h3>")
            page.add(table(cols, [(t, sym, side, f"{q:g}", f"{p:.4f}") for t, sym, side, q, p in keys[:FILL_ROWS]]))
    if diff.differing:
        page.add(f"<h3>Differing ({len(diff.differing):,})</h3>")
        page.add(table(["time", "symbol", "side", "quantity A", "quantity B", "price A", "price B"],
                       [(ka[0], ka[1], ka[2], f"{ka[3]:g}", f"{kb[3]:g}", f"{ka[4]:.4f}", f"{kb[4]:.4f}")
                        for ka, kb in diff.differing[:FILL_ROWS]]))
    if max(len(diff.only_a), len(diff.only_b), len(diff.differing)) > FILL_ROWS:
        page.note(f"Each list shows its first {FILL_ROWS} fills (the counts above are all of them).")
