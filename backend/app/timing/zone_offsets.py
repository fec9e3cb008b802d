"""UTC offsets of a time zone at many instants, looked up once per UTC day (plain function)."""

from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np

__all__ = ["utc_offsets_s"]

_NS_PER_S = 1_000_000_000
_DAY_S = 86_400


def utc_offsets_s(ts_ns: np.ndarray, tz: tzinfo) -> np.ndarray:
    """Return `tz`'s UTC offset (s) at each instant (epoch ns).

    Looked up once per run of instants on the same UTC day, at the day's first and last
    second; only a day whose two differ (the offset changes that day) is looked up instant by
    instant.
    """
    secs = np.asarray(ts_ns, dtype=np.int64) // _NS_PER_S
    if not secs.shape[0]:
        return np.empty(0, dtype=np.int64)
    days = secs // _DAY_S
    starts = np.flatnonzero(np.diff(days, prepend=days[:1] - 1))  # first row of each run

    def offset(s: int) -> int:
        delta = datetime.fromtimestamp(s, tz=tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out = np.empty(secs.shape, dtype=np.int64)
    for lo, hi, day in zip(starts.tolist(), [*starts[1:].tolist(), secs.shape[0]],
                           days[starts].tolist(), strict=True):
        first, last = offset(day * _DAY_S), offset(day * _DAY_S + _DAY_S - 1)
        out[lo:hi] = first if first == last else [offset(s) for s in secs[lo:hi].tolist()]
    return out
