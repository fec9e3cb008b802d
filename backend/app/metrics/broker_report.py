"""The broker section of summary.json and report.txt: counters, and each fill against the model (pure).

Slippage against the model is what the broker's price cost compared with the price the
SimulatedBroker would have filled the same order at (next bar's open with ``slippage_bps`` for
a market order, the limit rule for a limit order), signed so that a positive figure is worse
for the run: a buy that paid more, a sell that received less. In cash:
``(price - model) * quantity`` for a buy, ``(model - price) * quantity`` for a sell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["broker_lines", "compare_fills"]


def compare_fills(fills: Sequence[tuple[Any, str]], model_price: Mapping[int, float],
                  format_ns: Callable[[int], str]) -> dict[str, Any]:
    """Return ``{"fills": [...], "compared", "not_filled_by_model", "slippage_total", "slippage_bps"}``.

    `fills` are (Fill, source) pairs in execution order; `model_price` maps an order id to the
    model's fill price (absent: the model would not have filled it, or no bar came after it).
    ``slippage_bps`` is the total over the model notional of the compared fills, in basis points.
    """
    rows: list[dict[str, Any]] = []
    total = 0.0
    notional = 0.0
    missing = 0
    for fill, source in fills:
        model = model_price.get(fill.order_id)
        row: dict[str, Any] = {"order_id": fill.order_id, "symbol": fill.symbol, "side": fill.side.value,
                               "quantity": fill.quantity, "price": fill.price, "at": format_ns(fill.filled_at_ns),
                               "source": source, "model_price": model}
        if model is None:
            missing += 1
            row.update(slippage_per_share=None, slippage=None, slippage_bps=None)
        else:
            per_share = (fill.price - model) if fill.side.value == "buy" else (model - fill.price)
            cost = per_share * fill.quantity
            total += cost
            notional += model * fill.quantity
            row.update(slippage_per_share=per_share, slippage=cost,
                       slippage_bps=per_share / model * 1e4 if model else None)
        rows.append(row)
    return {"fills": rows, "compared": len(rows) - missing, "not_filled_by_model": missing,
            "slippage_total": total, "slippage_bps": total / notional * 1e4 if notional else 0.0}


def broker_lines(broker: Mapping[str, Any] | None, max_fills: int = 20) -> list[str]:
    """Return report.txt's "Broker" block for summary["broker"] (nothing for the simulated broker)."""
    if not broker:
        return []
    stats = broker.get("stats", {})
    model = broker.get("model", {})
    lines = ["Broker:",
             f"  - {broker['kind']} {'paper' if broker.get('paper') else 'LIVE'} {broker['trading_url']} "
             f"| Run Id {broker['run_id']}",
             f"  - Orders Sent {stats.get('orders_sent', 0):,} | Rejected by Broker "
             f"{stats.get('rejected_by_broker', 0):,} | Cancelled {stats.get('canceled', 0):,} "
             f"| Adopted after a Retry {broker.get('adopted_after_retry', 0):,} "
             f"| Adopted from an Earlier Process {stats.get('adopted_from_earlier', 0):,}",
             f"  - Fills {len(model.get('fills', [])):,} (stream {stats.get('fills_from_stream', 0):,}, "
             f"REST {stats.get('fills_from_rest', 0):,}) | Duplicate Events Ignored "
             f"{stats.get('duplicate_events', 0):,} | Stream Connects {stats.get('stream_connects', 0):,} "
             f"| Reconciles {stats.get('reconciles', 0):,}"]
    if model:
        lines.append(f"  - Slippage vs Model: {model['slippage_total']:,.2f} total "
                     f"({model['slippage_bps']:,.1f} bps) over {model['compared']:,} fill(s)"
                     + (f"; {model['not_filled_by_model']:,} not filled by the model"
                        if model["not_filled_by_model"] else ""))
        for row in model["fills"][:max_fills]:
            vs = "model n/a" if row["model_price"] is None else \
                f"model {row['model_price']:,.4f}, slippage {row['slippage']:+,.2f}"
            lines.append(f"    {row['at']} {row['side']} {row['quantity']:,} {row['symbol']} at "
                         f"{row['price']:,.4f} ({vs})")
        if len(model["fills"]) > max_fills:
            lines.append(f"    ... {len(model['fills']) - max_fills:,} more in summary.json broker.model.fills")
    for symbol, qty in sorted(broker.get("foreign_positions", {}).items()):
        lines.append(f"  - Position not opened by this run: {symbol} {qty:+,} (left alone)")
    for symbol, (theirs, expected) in sorted(broker.get("position_mismatches", {}).items()):
        lines.append(f"  - Position mismatch at the end: {symbol} broker {theirs:+,}, expected {expected:+,}")
    kill = broker.get("kill_switch")
    if kill:
        lines.append(f"  - Kill switch at {kill['at']}: loss {kill['loss']:,.2f} > {kill['max_daily_loss']:,.2f}; "
                     f"{kill['orders_cancelled']} order(s) cancelled, {len(kill['flatten_orders'])} flatten order(s)")
    return lines
