"""Deterministic ``client_order_id``s: the run id and the order's sequence number (pure).

A client order id is Alpaca's only idempotency handle (``ALPACA_TRADING.md`` section 2.2): an
id is chosen, and remembered, before its order is sent, so a retry after a timeout resends the
same id and can never create a second order. The id of an order is ``{run_id}-{seq:06d}``; a
restarted run with the same run id finds its own orders by the prefix and carries on after
the highest sequence number it finds.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

__all__ = ["MAX_CLIENT_ORDER_ID", "client_order_id", "default_run_id", "sequence_of"]

MAX_CLIENT_ORDER_ID: Final = 128  # Alpaca's limit (2026 spec; 48 in 2022: ours stay under both)
_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX: Final = 30


def default_run_id(session_name: str, first_session: date) -> str:
    """Return the run id of a run without ``broker.run_id``: the session name and date.

    The name keeps letters, digits, ``-`` and ``_`` (others become ``_``), cut to 30 characters,
    then ``-YYYYMMDD`` of the first session: the same config on the same day gives the same id,
    so a restart recognises the orders it sent before.
    """
    name = _NAME_CHARS.sub("_", session_name).strip("_")[:_NAME_MAX] or "run"
    return f"{name}-{first_session:%Y%m%d}"


def client_order_id(run_id: str, seq: int) -> str:
    """Return the client order id of the run's order number `seq` (>= 1).

    Raises
    ------
    ValueError
        If `seq` is not an int >= 1 or the id would exceed 128 characters.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"expected an order sequence number >= 1, received {seq!r}")
    cid = f"{run_id}-{seq:06d}"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id {cid[:40]!r}... is longer than {MAX_CLIENT_ORDER_ID} characters")
    return cid


def sequence_of(cid: str, run_id: str) -> int | None:
    """Return the sequence number of `cid` when it is one of `run_id`'s ids, else None."""
    prefix = run_id + "-"
    if not cid.startswith(prefix):
        return None
    tail = cid[len(prefix):]
    if not tail.isdigit() or not tail.isascii():
        return None
    seq = int(tail)
    return seq if seq >= 1 and client_order_id(run_id, seq) == cid else None
