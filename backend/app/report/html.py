"""The page shell every report shares: plotly.js inlined, charts as JSON, tables, a status banner.

plotly.js is read from the installed plotly package (``plotly/package_data/plotly.min.js``) and
inlined, so a report opens with no network. The plotly Python package itself is never imported
(its import takes about half a second); each chart is a plain ``{"data": [...], "layout": {...}}``
dict drawn by ``Plotly.newPlot``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from app.errors import AppError

__all__ = ["Page", "ReportError", "esc", "fmt_num", "plotly_js", "status_banner", "table", "trace_json", "write_page"]


class ReportError(AppError):
    """A report cannot be made: names the folder or file and what was expected."""


_SCRIPT_END = re.compile(rb"</(script)", re.IGNORECASE)


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """Return the installed plotly package's ``plotly.min.js`` (UTF-8 bytes, read once per process).

    Raises
    ------
    ReportError
        If the plotly package or its bundled plotly.min.js is not installed.
    """
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise ReportError("the plotly package is not installed; expected it (pip install plotly) for its "
                          "plotly.min.js, which report.html inlines")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ReportError(f"{path}: cannot read plotly.min.js ({e.strerror or e}); expected the plotly "
                          f"package's bundled copy") from None
    if _SCRIPT_END.search(text):  # "</script" would end the inline <script> early; "<\\/" is the same in JS
        text = _SCRIPT_END.sub(rb"<\\/\1", text)
    return text


def esc(value: object) -> str:
    """HTML-escape `value`'s text: ``html.escape(str(value), quote=True)``, whose steps these are
    (the html package imports its entity table, ~2 ms of a run's outputs, for nothing used here)."""
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def fmt_num(value: object, digits: int = 2) -> str:
    """Format a number for a table cell (thousands separators; integers without decimals); else its text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:,.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> str:
    """Return an HTML table; cells are escaped; numbers right-aligned. A long table scrolls in a box
    (its header stays in view)."""
    out = [f'<table class="{esc(cls)}"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in headers)
           + "</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for cell in row:
            num = isinstance(cell, int | float) and not isinstance(cell, bool)
            if num:
                cells.append(f'<td class="num">{esc(fmt_num(cell))}</td>')
            else:
                text = str(cell)
                cells.append(f'<td class="wrap">{esc(text)}</td>' if len(text) > 40 else f"<td>{esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    html_text = "".join(out)
    return f'<div class="scroll">{html_text}</div>' if len(out) > SCROLL_ROWS + 2 else html_text


def _json(value: Any) -> str:
    # Written into a <script> as a JavaScript literal: NaN and Infinity are valid there (plotly
    # draws NaN as a gap), and "</" cannot end the script early.
    text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return text.replace("</", "<\\/")


def trace_json(trace: dict[str, Any]) -> str:
    """Return one trace as `Page.chart` writes it (for `Page.chart_traces`)."""
    return _json(trace)


SCROLL_ROWS = 25
"""Tables longer than this scroll in a box."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:0 16px 40px;color:#1d2330;background:#fafbfc}
h1{font-size:1.5em;margin:18px 0 6px}h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px solid #dde1e7;
padding-bottom:4px}.sub{color:#5b6475;margin:0 0 10px}
.status{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
.status .detail{font-weight:400;display:block;margin-top:4px;white-space:pre-wrap}
.st-completed{background:#e3f5e8;border:1px solid #5cb177}.st-failed,.st-killed{background:#fde7e7;
border:1px solid #d65a5a}.st-interrupted,.st-running{background:#fff4dc;border:1px solid #d8a431}
.st-unknown{background:#eceff3;border:1px solid #9aa3b2}
table{border-collapse:collapse;font-size:.88em;margin:6px 0 12px;background:#fff}
th,td{border:1px solid #dde1e7;padding:3px 8px;text-align:left;white-space:nowrap}
td.wrap{white-space:normal;min-width:260px}th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;min-height:320px;background:#fff;border:1px solid #e6e9ee;margin:6px 0}
.note{color:#5b6475;font-size:.85em;margin:2px 0 8px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.scroll{max-height:520px;overflow:auto;display:inline-block;max-width:100%;border:1px solid #dde1e7;
margin:6px 0 12px}.scroll table{margin:0}.scroll th{position:sticky;top:0}
.pos{color:#1f7a3a}.neg{color:#b02a2a}details pre{background:#fff;border:1px solid #e6e9ee;padding:8px;
overflow:auto;font-size:.85em}
"""


class Page:
    """An HTML report built section by section; `html` returns the whole self-contained page."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []
        self._charts: list[tuple[str, str]] = []

    def add(self, fragment: str) -> None:
        """Append raw HTML (the caller escaped what it took from files)."""
        self._parts.append(fragment)

    def heading(self, text: str, level: int = 2) -> None:
        """Append a heading."""
        self._parts.append(f"<h{level}>{esc(text)}</h{level}>")

    def note(self, text: str) -> None:
        """Append a small explanatory line (escaped)."""
        self._parts.append(f'<p class="note">{esc(text)}</p>')

    def chart(self, name: str, data: list[dict[str, Any]], layout: dict[str, Any], height: int = 360) -> None:
        """Append a plotly chart: `data` traces and `layout`, drawn when the page loads."""
        div = f"chart-{len(self._charts)}"
        base = {"margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "height": height, "hovermode": "closest",
                "paper_bgcolor": "#fff", "plot_bgcolor": "#fff"}
        fig = {"data": data, "layout": {**base, **layout}}
        self._parts.append(f'<div class="chart" id="{div}" data-chart="{esc(name)}"></div>')
        self._charts.append((div, _json(fig)))

    def chart_traces(self, name: str, traces: list[str], layout: dict[str, Any], height: int = 360) -> None:
        """`chart` of traces already written as JSON (`trace_json` of each): the same bytes, for
        traces made one at a time whose Python objects are not all kept until the chart is."""
        div = f"chart-{len(self._charts)}"
        base = {"margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "height": height, "hovermode": "closest",
                "paper_bgcolor": "#fff", "plot_bgcolor": "#fff"}
        self._parts.append(f'<div class="chart" id="{div}" data-chart="{esc(name)}"></div>')
        self._charts.append((div, '{"data":[' + ",".join(traces) + '],"layout":' + _json({**base, **layout}) + "}"))

    @property
    def chart_count(self) -> int:
        """Charts added so far."""
        return len(self._charts)

    def html_text(self) -> str:
        """Return the whole page as text (`write` streams the same bytes to a file)."""
        buffer = io.BytesIO()
        self.write(buffer)
        return buffer.getvalue().decode("utf-8")

    def write(self, fh: IO[bytes]) -> None:
        """Write the page to `fh`: plotly.js inline, then the sections, then one script drawing each chart.

        Written a part at a time (each section, each chart's JSON): the page is never one string,
        so writing it takes no more memory than its largest chart.
        """
        head = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{esc(self.title)}"
                f"</title><style>{_CSS}</style><script>")
        fh.write(head.encode("utf-8"))
        fh.write(plotly_js())
        fh.write(b"</script></head><body>")
        for i, part in enumerate(self._parts):
            fh.write((part if not i else "\n" + part).encode("utf-8"))
        fh.write(b"<script>(function(){var figs=[")
        for i, (div, fig) in enumerate(self._charts):
            fh.write(f'{"," if i else ""}["{div}",'.encode())
            fh.write(fig.encode("utf-8"))
            fh.write(b"]")
        fh.write(b"];var cfg={responsive:true,displaylogo:false};"
                 b"figs.forEach(function(f){Plotly.newPlot(f[0],f[1].data,f[1].layout,cfg);});})();"
                 b"</script></body></html>\n")


def status_banner(status: str, detail: str | None, label: str = "Status") -> str:
    """Return the coloured status line for the top of a run's page ("`label`: status", then the detail)."""
    known = {"completed", "failed", "interrupted", "killed", "running"}
    cls = f"st-{status}" if status in known else "st-unknown"
    text = {"running": "running (unfinished: the files are the progress so far; if its process was killed, "
                       "python -m app.backtest --recover RUN_DIR finishes them)"}.get(status, status)
    extra = f'<span class="detail">{esc(detail)}</span>' if detail else ""
    return f'<div class="status {cls}">{esc(label)}: {esc(text)}{extra}</div>'


def write_page(page: Page, path: Path) -> Path:
    """Write `page` to `path` whole (temporary file, then rename); return `path`."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            page.write(fh)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
