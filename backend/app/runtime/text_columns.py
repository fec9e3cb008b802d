"""Text of the output CSVs built a column at a time in numpy, not one Python format per row.

A column is an ``(rows, width)`` uint8 matrix of ASCII, padded with NUL bytes; `join_rows`
puts columns and separators side by side and drops the padding. Digits come from tables of
ASCII words (``"0000"`` .. ``"9999"`` as one uint32), written into structured row views, so
every step is a whole-column numpy operation. The figures are byte-identical to Python's own
formatting, which `fixed_decimals` falls back to for the rows it cannot prove equal (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

__all__ = ["fixed_decimals", "iso_local", "join_rows", "printed_values", "text_column"]

_EXACT = 2.0**52  # below this every integer-valued double is exact, so rint is safe
_WORD = {1: np.uint8, 2: np.uint16, 4: np.uint32}
_POWERS = 10 ** np.arange(1, 19, dtype=np.int64)  # a value below 10**k has at most k digits


@functools.cache
def _digit_words(digits: int, size: int) -> np.ndarray:
    """ASCII of 0 .. 10**digits - 1, zero-padded to `digits` and NUL-padded to `size` bytes,
    one unsigned word of `size` bytes per number (read-only)."""
    n = np.arange(10**digits, dtype=np.int64)
    table = np.zeros((n.shape[0], size), dtype=np.uint8)
    for k in range(digits):
        table[:, k] = n // 10 ** (digits - 1 - k) % 10 + ord("0")
    words = table.view(_WORD[size]).ravel()
    words.setflags(write=False)
    return words


@functools.cache
def _integer_words() -> np.ndarray:
    """Four-digit words of an integer part, by row: 0..9999 as padding (NUL), as the first word
    shown (no leading zeros: NUL-padded on the left), and as any later word (zero-padded)."""
    padded = _digit_words(4, 4)
    first = padded.view(np.uint8).reshape(-1, 4).copy()
    width = np.searchsorted(_POWERS, np.arange(10_000), side="right") + 1
    first[np.arange(4)[None, :] < 4 - width[:, None]] = 0
    words = np.concatenate([np.zeros_like(padded), first.view(np.uint32).ravel(), padded])
    words.setflags(write=False)
    return words


def _rows(fields: Sequence[tuple[str, int]], n: int) -> np.ndarray:
    """An uninitialised array of `n` rows whose named fields are byte strings of the given sizes."""
    names = [name for name, _ in fields]
    offsets = np.cumsum([0, *(size for _, size in fields)])
    formats = [_WORD.get(size, f"V{size}") for _, size in fields]
    dtype = np.dtype({"names": names, "formats": formats,
                      "offsets": offsets[:-1].tolist(), "itemsize": int(offsets[-1])})
    return np.empty(n, dtype=dtype)


def _as_bytes(rows: np.ndarray) -> np.ndarray:
    return rows.view(np.uint8).reshape(rows.shape[0], rows.dtype.itemsize)


def _literal(text: str, size: int) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=_WORD.get(size, f"V{size}"))[0]


def fixed_decimals(values: Sequence[float] | np.ndarray, decimals: int = 4) -> np.ndarray:
    """Return ``f"{x:.{decimals}f}"`` of each value (1 <= decimals <= 4) as a NUL-padded matrix.

    Rows whose scaled value lies too close to a rounding tie to be sure of numpy's rounding,
    and non-finite or very large values, are formatted by Python.
    """
    if not 1 <= decimals <= 4:
        raise ValueError(f"expected 1 to 4 decimals, received {decimals}")
    x = np.asarray(values, dtype=np.float64)
    runs = _runs(x)
    if runs is not None:  # each run's value formatted once, its text repeated
        starts, lengths = runs
        return np.repeat(fixed_decimals(x[starts], decimals), lengths, axis=0)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf are never safe: Python's
        size = np.abs(x * (10.0**decimals))  # its rounding error is below size * 2**-53
        whole = np.rint(size)
        safe = (size < _EXACT) & (np.abs(np.abs(size - whole) - 0.5) > size * 2.0**-50)
    whole[~safe] = 0
    # Whole numbers below 2**52 divide exactly in floating point (a remainder of at least 1 is
    # far above the rounding error), and faster than in int64.
    integer = np.floor(whole / 10**decimals)
    fraction = (whole - integer * 10**decimals).astype(np.int64)
    n_digits = len(str(int(integer.max(initial=0))))
    n_words = -(-n_digits // 4)
    rows = _rows([("sign", 1), *((f"i{k}", 4) for k in range(n_words)), ("dot", 1), ("frac", 4)],
                 x.shape[0])
    # Words before the first digit shown are padding; the first one is written without zeros.
    shown = np.ones(x.shape[0], dtype=np.int64)  # integer digits shown (0 shows as "0")
    for power in range(1, n_digits):
        shown += integer >= 10**power
    first = n_words - (shown + 3) // 4
    tables = _integer_words()
    rest = integer
    for k in range(n_words - 1, -1, -1):  # four integer digits per word, least significant first
        high = np.floor(rest / 10_000)
        low = (rest - high * 10_000).astype(np.int64)
        rest = high
        # 0: a word before the first shown, 1: the first (no leading zeros), 2: one after it
        rows[f"i{k}"] = tables[np.clip(k - first + 1, 0, 2) * 10_000 + low]
    rows["sign"] = 0
    rows["dot"] = ord(".")
    rows["frac"] = _digit_words(decimals, 4)[fraction]
    text = _as_bytes(rows)
    negative = np.flatnonzero(np.signbit(x) & safe)
    text[negative, 4 * n_words - shown[negative]] = ord("-")  # just before the first digit
    unsafe = np.flatnonzero(~safe)
    if unsafe.size:  # Python's own text, in the same rows
        exact = text_column([f"{v:.{decimals}f}" for v in x[unsafe].tolist()])
        if exact.shape[1] > text.shape[1]:
            pad = np.zeros((text.shape[0], exact.shape[1] - text.shape[1]), np.uint8)
            text = np.concatenate([pad, text], axis=1)
        text[unsafe] = 0
        text[unsafe, text.shape[1] - exact.shape[1]:] = exact
    return text


RUNS_FROM = 4096
"""Columns of at least this many values are formatted a run of equal values at a time, when the
runs are at most half as many (cash changes only at fills; equity stays put while flat)."""


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    # (start, length) of each run of bit-equal values (so -0.0 and 0.0 differ, as their texts
    # do, and each NaN is a run of its own), or None when that would not pay.
    if x.ndim != 1 or x.shape[0] < RUNS_FROM:
        return None
    bits = x.view(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], bits[1:] != bits[:-1])))
    if 2 * starts.shape[0] > x.shape[0]:
        return None
    return starts, np.diff(np.append(starts, x.shape[0]))


def printed_values(values: Sequence[float] | np.ndarray, decimals: int = 4) -> np.ndarray:
    """Return ``float(f"{x:.{decimals}f}")`` of each value: what a reader of `fixed_decimals`' text gets.

    Away from a rounding tie (`fixed_decimals`' test) the text's digits are ``rint(|x| * 10**decimals)``,
    exact below 2**52, and dividing them by the exact power of ten rounds correctly, as a parser
    does; other rows are printed and parsed by Python.
    """
    x = np.asarray(values, dtype=np.float64)
    runs = _runs(x)
    if runs is not None:
        starts, lengths = runs
        return np.repeat(printed_values(x[starts], decimals), lengths)
    scale = 10.0**decimals
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.abs(x * scale)
        whole = np.rint(size)
        safe = (size < _EXACT) & (np.abs(np.abs(size - whole) - 0.5) > size * 2.0**-50)
        out = np.copysign(whole / scale, x)
    unsafe = np.flatnonzero(~safe)
    if unsafe.size:
        out[unsafe] = [float(f"{v:.{decimals}f}") for v in x[unsafe].tolist()]
    return out


def iso_local(ts_ns: np.ndarray, offset_s: np.ndarray) -> np.ndarray:
    """Return ``YYYY-MM-DDTHH:MM:SS+HH:MM`` rows (25 bytes) of instants at their UTC offsets.

    Equal to ``datetime.isoformat()`` of each whole-second instant in a timezone whose offset
    is whole minutes (every int64 ns instant has a four-digit year); the offset is shown in
    whole minutes, rounded down.
    """
    secs = np.asarray(ts_ns, dtype=np.int64) // 1_000_000_000
    offset = np.asarray(offset_s, dtype=np.int64)
    local = (secs + offset).astype(np.float64)  # exact: seconds of int64 ns are below 2**34
    days = np.floor(local / 86_400)  # exact, as in fixed_decimals, and faster than int64
    tod = local - days * 86_400
    days = days.astype(np.int64)
    two = _digit_words(2, 2)
    rows = _rows([("date", 11), ("hm", 5), ("c", 1), ("s", 2), ("zone", 6)], secs.shape[0])
    # Date and offset are the same for long runs of rows (a session): written once per run.
    changed = np.diff(days, prepend=days[:1] - 1) | np.diff(offset, prepend=offset[:1] - 1)
    starts = np.flatnonzero(changed)
    lengths = np.diff(np.append(starts, secs.shape[0]))
    day = days[starts].astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    minutes = offset[starts] // 60
    head = _rows([("Y", 4), ("d1", 1), ("M", 2), ("d2", 1), ("D", 2), ("T", 1)], starts.shape[0])
    head["Y"] = _digit_words(4, 4)[day.astype("datetime64[Y]").astype(np.int64) + 1970]
    head["M"] = two[month_start.astype(np.int64) % 12 + 1]
    head["D"] = two[(day - month_start.astype("datetime64[D]")).astype(np.int64) + 1]
    head["d1"] = head["d2"] = ord("-")
    head["T"] = ord("T")
    zone = _rows([("sign", 1), ("h", 2), ("c", 1), ("m", 2)], starts.shape[0])
    zone["sign"] = np.where(minutes < 0, ord("-"), ord("+"))
    zone["h"], zone["m"] = two[np.abs(minutes) // 60], two[np.abs(minutes) % 60]
    zone["c"] = ord(":")
    rows["date"] = np.repeat(head.view("V11"), lengths)
    rows["zone"] = np.repeat(zone.view("V6"), lengths)
    minute = np.floor(tod / 60)
    rows["hm"] = _minutes_of_day()[minute.astype(np.int64)]
    rows["c"] = ord(":")
    rows["s"] = two[(tod - minute * 60).astype(np.int64)]
    return _as_bytes(rows)


@functools.cache
def _minutes_of_day() -> np.ndarray:
    """``HH:MM`` of each minute of a day, 0 .. 1439 (read-only)."""
    two = _digit_words(2, 2)
    rows = _rows([("h", 2), ("c", 1), ("m", 2)], 1440)
    minute = np.arange(1440)
    rows["h"], rows["c"], rows["m"] = two[minute // 60], ord(":"), two[minute % 60]
    out = rows.view("V5")
    out.setflags(write=False)
    return out


def text_column(strings: Sequence[str]) -> np.ndarray:
    """Return ASCII strings as a NUL-padded matrix (one row each)."""
    if not strings:
        return np.zeros((0, 1), dtype=np.uint8)
    return np.array(strings, dtype=np.bytes_).view(np.uint8).reshape(len(strings), -1)


def join_rows(parts: Sequence[np.ndarray | str]) -> bytes:
    """Return the rows of `parts` side by side, one after another, without the NUL padding.

    Each part is a column matrix (all with the same number of rows) or a literal put in every
    row, such as ``","`` or ``"\\n"``.
    """
    n = next(p.shape[0] for p in parts if isinstance(p, np.ndarray))
    sizes = [p.shape[1] if isinstance(p, np.ndarray) else len(p) for p in parts]
    rows = _rows([(f"p{i}", size) for i, size in enumerate(sizes)], n)
    for i, (part, size) in enumerate(zip(parts, sizes, strict=True)):
        if isinstance(part, np.ndarray):
            rows[f"p{i}"] = np.ascontiguousarray(part).view(_WORD.get(size, f"V{size}")).ravel()
        else:
            rows[f"p{i}"] = _literal(part, size)
    flat = rows.view(np.uint8)
    return flat[flat != 0].tobytes()
