"""The recording's tables: their Arrow schemas and the values their text columns take (pure)."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = ["BAR_OUTCOMES", "BAR_SOURCES", "FORMAT", "SCHEMAS", "TABLES"]

FORMAT: Final = 1
"""Version of the recording's layout (``recording/meta.json``)."""

BAR_SOURCES: Final = ("stream", "rest_fill", "backfill", "restatement")
"""Where a received bar came from: the socket, a REST fill (at grace or after the decision),
the feed's REST backfill after a (re)connect, or a restatement (``updated`` bar) on the socket."""

BAR_OUTCOMES: Final = ("in_step", "late", "correction", "duplicate", "superseded", "after_decision", "rejected",
                       "before_stream", "unused")
"""What became of a received bar: shown in a step; arrived after its step was published
(``late``); restated a published bar with other values (``correction``) or the same
(``duplicate``); replaced before its step went out (``superseded``); filled by REST after the
decision (``after_decision``); failed a check or was off the grid (``rejected``); before the
stream's start (``before_stream``); a REST answer no step used (``unused``)."""

_ID, _S, _F, _B, _I32 = pa.int64(), pa.string(), pa.float64(), pa.bool_(), pa.int32()
_DAY = pa.date32()

SCHEMAS: Final[dict[str, pa.Schema]] = {
    "bars": pa.schema([
        ("id", _ID), ("session", _DAY), ("symbol", _S), ("interval", _S), ("start_ns", _ID),
        ("open", _F), ("high", _F), ("low", _F), ("close", _F), ("volume", _F),
        ("source", _S), ("received_ns", _ID), ("step", _I32), ("outcome", _S),
    ]),
    "steps": pa.schema([
        ("session", _DAY), ("step", _I32), ("end_ns", _ID), ("published_ns", _ID), ("received_ns", _ID),
        ("bar_ids", pa.list_(_ID)),
    ]),
    "orders": pa.schema([
        ("session", _DAY), ("step", _I32), ("phase", _S), ("placed_at_ns", _ID), ("order_id", _ID),
        ("symbol", _S), ("side", _S), ("quantity", _ID), ("type", _S), ("limit_price", _F), ("tif", _S),
        ("accepted", _B),
    ]),
    "fills": pa.schema([
        ("session", _DAY), ("step", _I32), ("order_id", _ID), ("symbol", _S), ("side", _S), ("quantity", _ID),
        ("price", _F), ("commission", _F), ("filled_at_ns", _ID),
    ]),
    "rejections": pa.schema([
        ("session", _DAY), ("step", _I32), ("order_id", _ID), ("symbol", _S), ("at_ns", _ID), ("at_fill", _B),
        ("rule", _S), ("reason", _S),
    ]),
    "sessions": pa.schema([
        ("session", _DAY), ("open_ns", _ID), ("close_ns", _ID), ("stream_start_ns", _ID), ("stream_end_ns", _ID),
        ("finished", _B),
    ]),
    "history": pa.schema([
        ("session", _DAY), ("symbol", _S), ("interval", _S), ("part", _S), ("start_ns", _ID),
        ("open", _F), ("high", _F), ("low", _F), ("close", _F), ("volume", _F),
    ]),
    "history_loads": pa.schema([
        ("session", _DAY), ("symbol", _S), ("interval", _S), ("per_day", pa.list_(pa.list_(_ID))),
        ("rejected", _S),
    ]),
    "minutes": pa.schema([
        ("session", _DAY), ("symbol", _S), ("start_ns", _ID), ("kind", _S),
    ]),
}
"""One table per kind of row. ``history`` part is ``history`` (a trailing-days load) or
``catch_up`` (a live run joining late: the session's earlier bars); ``minutes`` kind is
``filled_at_decision`` or ``no_trades`` (what the fill at grace settled)."""

TABLES: Final = tuple(SCHEMAS)
