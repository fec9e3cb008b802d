"""The broker's positions against the run's own books (pure): what the run did not open, what differs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.execution.alpaca_state import decimal_or_none

__all__ = ["broker_positions", "foreign_positions", "position_mismatches"]


def broker_positions(positions: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Return ``{symbol: signed whole shares}`` of Alpaca Position objects (a short has a negative qty)."""
    out: dict[str, int] = {}
    for p in positions:
        symbol, qty = p.get("symbol"), decimal_or_none(p.get("qty"))
        if isinstance(symbol, str) and qty is not None:
            out[symbol] = int(qty)
    return out


def foreign_positions(held: Mapping[str, int], ours: Mapping[str, int]) -> dict[str, int]:
    """Return, per symbol, the shares the broker holds beyond the run's own (non-zero only)."""
    return {s: held.get(s, 0) - ours.get(s, 0) for s in sorted(set(held) | set(ours))
            if held.get(s, 0) != ours.get(s, 0)}


def position_mismatches(held: Mapping[str, int], ours: Mapping[str, int],
                        foreign: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Return ``{symbol: (broker's, expected)}`` where the broker differs from the run's + foreign shares."""
    out: dict[str, tuple[int, int]] = {}
    for s in sorted(set(held) | set(ours) | set(foreign)):
        expected = ours.get(s, 0) + foreign.get(s, 0)
        if held.get(s, 0) != expected:
            out[s] = (held.get(s, 0), expected)
    return out
