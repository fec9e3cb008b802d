"""A sweep's files: results and walk-forward tables (Parquet + CSV, ranked) and sweep.json."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from app.sweep.task import FIGURES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STATUS_ORDER", "rank_rows", "write_json", "write_table"]

STATUS_ORDER: Final = {"completed": 0, "failed": 1, "cancelled": 2}
"""Rows of a ranking come in this order of status (then by the metric within completed ones)."""

_LEAD: Final = ("rank", "run_id", "window", "phase", "group", "symbols", "start_date", "end_date", "param_set")
_TAIL: Final = ("status", *FIGURES, "error", "elapsed_s", "worker", "run_dir")


def rank_rows(rows: Sequence[Mapping[str, Any]], metric: str, ascending: bool, params: Sequence[str],
              by_window: bool = False) -> pd.DataFrame:
    """Return `rows` as a table ranked by `metric`: best first, ``rank`` 1.. on completed rows.

    Completed rows with a finite metric are ranked (ties keep plan order: ``param_set`` then
    ``group``); other rows follow, failed before cancelled, with no rank. With `by_window`
    (walk-forward), each (window, phase) is ranked on its own and the table goes window by
    window, train before test. Columns: the identity columns, ``param.<name>`` for each of
    `params`, then status, the figures, error, elapsed_s, worker, run_dir.
    """
    import pandas as pd

    frame = pd.DataFrame([dict(r) for r in rows])
    columns = [*_LEAD, *(f"param.{p}" for p in params), *_TAIL]
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[columns]
    value = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    ok = (frame["status"] == "completed") & value.map(math.isfinite)
    keys = pd.DataFrame({
        "window": frame["window"].fillna(-1) if by_window else 0,
        "phase": frame["phase"].map({"train": 0, "test": 1}).fillna(2) if by_window else 0,
        "unranked": (~ok).astype(int),
        "status": frame["status"].map(STATUS_ORDER).fillna(3),
        "value": (value if ascending else -value).where(ok, 0.0),
        "param_set": frame["param_set"], "group": frame["group"],
    })
    order = keys.sort_values(list(keys.columns), kind="mergesort").index
    frame = frame.loc[order].reset_index(drop=True)
    ranked = ok.loc[order].reset_index(drop=True)
    cohort = keys.loc[order, ["window", "phase"]].reset_index(drop=True)
    rank = ranked.astype(int).groupby([cohort["window"], cohort["phase"]]).cumsum()
    frame["rank"] = pd.array(rank.where(ranked), dtype="Int64")
    frame["window"] = pd.array(frame["window"], dtype="Int64")
    return _storable(frame)


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    # A parameter whose values mix types (1 and "a") cannot be one Parquet column: store it as text.
    for column in frame.columns:
        if column.startswith("param.") and frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None}
            if len(kinds) > 1 and not kinds <= {int, float}:
                frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    return frame


def write_table(frame: pd.DataFrame, out_dir: Path, name: str) -> tuple[Path, Path]:
    """Write `frame` as ``out_dir/name.parquet`` and ``name.csv`` (each written whole, then renamed)."""
    parquet, csv = out_dir / f"{name}.parquet", out_dir / f"{name}.csv"
    _replace(parquet, lambda tmp: frame.to_parquet(tmp, index=False))
    _replace(csv, lambda tmp: frame.to_csv(tmp, index=False))
    return parquet, csv


def write_json(data: Mapping[str, Any], path: Path) -> Path:
    """Write `data` as indented JSON at `path` (written whole, then renamed)."""
    text = json.dumps(data, indent=2, default=str) + "\n"
    _replace(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _replace(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def walk_forward_table(summaries: Sequence[Mapping[str, Any]], best_by: str, params: Sequence[str]) -> pd.DataFrame:
    """Return the per-window summaries (window, group, spans, chosen params, train and test
    `best_by`, the test run's figures, status) in window order."""
    import pandas as pd

    lead = ["window", "group", "symbols", "train_start", "train_end", "test_start", "test_end",
            "train_runs", "train_completed", "chosen_run", "param_set", *(f"param.{p}" for p in params),
            f"train_{best_by}", f"test_{best_by}"]
    tail = [f"test_{f}" for f in FIGURES if f != best_by] + ["test_run", "status", "error"]
    frame = pd.DataFrame([dict(s) for s in summaries], columns=[*lead, *tail])
    frame = frame.sort_values(["window", "group"], kind="mergesort").reset_index(drop=True)
    frame["param_set"] = pd.array(frame["param_set"], dtype="Int64")
    return _storable(frame)


def compounded_test_return(frame: pd.DataFrame) -> dict[str, float | None]:
    """Return, per symbol group, the out-of-sample return (%) of the test windows chained one
    after the other (None when a window has no completed test run)."""
    out: dict[str, float | None] = {}
    for _, rows in frame.groupby("group", sort=True, dropna=False):
        label = str(rows["symbols"].iloc[0]) or "all"
        if (rows["status"] != "completed").any():
            out[label] = None
            continue
        growth = 1.0
        for r in rows["test_total_return_pct"]:
            growth *= 1.0 + float(r) / 100.0
        out[label] = (growth - 1.0) * 100.0
    return out
