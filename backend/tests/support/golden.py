"""Digest of a run's deterministic outputs: fills, equity, sessions/summary minus timings, report trading and quality.

Used to pin outputs across performance work (issue 7, target 5): a change that moves a fill, an
equity point or a reported figure changes the digest. Timings (``metrics`` in the JSON files,
the latency / load / process / clock sections of ``report.txt``) vary run to run and are left out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

# report.txt sections whose lines are the same in every run of a data-driven backtest.
_STABLE_SECTIONS = ("Run:", "Data Quality:", "Trading:")


def strip_metrics(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip_metrics(v) for k, v in obj.items() if k != "metrics"}
    if isinstance(obj, list):
        return [strip_metrics(v) for v in obj]
    return obj


def stable_report(text: str) -> str:
    """The report's status line, headers and its Run, Data Quality and Trading sections, in order."""
    keep: list[str] = []
    section = None
    for line in text.splitlines():
        if line.startswith(("Run status:", "Performance Metrics", "=")):
            keep.append(line)
            section = None
        elif line and not line.startswith(" "):
            section = line if line in _STABLE_SECTIONS else None
            if section:
                keep.append(line)
        elif section and line:
            keep.append(line)
    return "\n".join(keep)


def digests(out: Path) -> dict[str, str]:
    """sha256 per output of the run in `out` (deterministic parts only)."""
    parts = {
        "fills.csv": (out / "fills.csv").read_bytes(),
        "equity.csv": (out / "equity.csv").read_bytes(),
        "report.txt": stable_report((out / "report.txt").read_text()).encode(),
    }
    for name in ("sessions.json", "summary.json"):
        doc = strip_metrics(json.loads((out / name).read_text()))
        parts[name] = json.dumps(doc, sort_keys=True).encode()
    return {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()}
