"""LocalSeconds: exchange-local ISO text of whole seconds from a per-day cache, and a session's
fills.csv rows (`LocalSeconds.fill_text`): the journal's and the session records' local times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from app.execution.orders import OrderSide

__all__ = ["SIDE_TEXT", "LocalSeconds", "csv_field", "local_seconds"]


def csv_field(text: str) -> str:
    """Quote a field as csv.writer (QUOTE_MINIMAL, lineterminator "\\n") does."""
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class LocalSeconds:
    """``datetime.fromtimestamp(sec, tz).isoformat()`` of whole seconds, from a per-day cache.

    A UTC day whose offset is the same at its first and last second is taken to have no
    transition (no zone changes its offset twice within a day and back); a day with a change
    is answered by `datetime` itself. One entry per UTC day asked about (a run's trading days).
    """

    __slots__ = ("_dates", "_days", "_decimals", "_names", "tz")

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self._days: dict[int, tuple[int, str] | None] = {}  # UTC day -> (offset s, "+HH:MM") or None
        self._dates: dict[int, str] = {}  # local day number -> "YYYY-MM-DD"
        self._names: dict[str, str] = {}  # symbol -> its csv field (`fill_text`)
        self._decimals: dict[float, str] = {}  # price or commission -> f"{value:.4f}" (`fill_text`)

    def __call__(self, sec: int) -> str:
        day = sec // 86_400
        try:
            hit = self._days[day]
        except KeyError:
            hit = self._days[day] = self._day(day)
        if hit is None:
            return datetime.fromtimestamp(sec, self.tz).isoformat()
        offset, zone = hit
        local_day, tod = divmod(sec + offset, 86_400)
        text = self._dates.get(local_day)
        if text is None:
            text = self._dates[local_day] = date.fromordinal(local_day + _EPOCH_ORDINAL).isoformat()
        minute, second = divmod(tod, 60)
        return f"{text}T{_HOUR_MINUTE[minute]}{_TWO_DIGITS[second]}{zone}"

    def fill_text(self, fills: Sequence[Any]) -> str | None:
        """fills.csv's rows of `fills` (`fill_rows`'s text), or None when a fill's time is not a
        whole second (the caller formats them by columns then).

        One loop of what `__call__`, `csv_field` and the columns do per fill (a session's few
        fills: the call and lookups per field cost more than the text).
        """
        names, decimals, buy, sell = self._names, self._decimals, _BUY, _SELL
        rows = []
        # The stretch [lo, hi) of UTC seconds on one UTC day and one local day (a session's fills
        # all are, usually), its local midnight (UTC second) `base`, date text and zone suffix.
        lo = hi = 0
        base: int | None = None  # None: the day has an offset change (`prefix` is the whole stamp)
        prefix = zone = ""
        for f in fills:
            ns = f.filled_at_ns
            sec = ns // 1_000_000_000
            if sec * 1_000_000_000 != ns:
                return None
            if not lo <= sec < hi:
                day = sec // 86_400
                try:
                    hit = self._days[day]
                except KeyError:
                    hit = self._days[day] = self._day(day)
                if hit is None:  # an offset change that day: datetime's own text, fill by fill
                    lo = hi = 0
                    prefix, base = datetime.fromtimestamp(sec, self.tz).isoformat(), None
                else:
                    offset, zone = hit
                    local_day = (sec + offset) // 86_400
                    base = local_day * 86_400 - offset
                    lo, hi = max(day * 86_400, base), min(day * 86_400, base) + 86_400
                    prefix = (self._dates.get(local_day) or self._date(local_day)) + "T"
            symbol = f.symbol
            name = names.get(symbol)
            if name is None:
                name = names[symbol] = csv_field(symbol)
            side = f.side
            side_text = "buy" if side is buy else "sell" if side is sell else SIDE_TEXT[side]
            price, commission = f.price, f.commission
            # A float's text from the run's cache (a constant commission, prices met before: a
            # float's formatting costs ~20 dict lookups); 0.0 and -0.0 (equal keys) formatted each time.
            price_text = decimals.get(price) if price else None
            if price_text is None:
                price_text = self._four(price)
            commission_text = decimals.get(commission) if commission else None
            if commission_text is None:
                commission_text = self._four(commission)
            quantity = f.quantity
            quantity_text = _QUANTITY_TEXT[quantity] if type(quantity) is int and 0 < quantity < _QUANTITIES \
                else str(quantity)
            if base is None:
                rows.append(f"{prefix},{name},{side_text},{quantity_text},{price_text},{commission_text}\n")
            else:
                tod = sec - base
                rows.append(f"{prefix}{_HOUR_MINUTE[tod // 60]}{_TWO_DIGITS[tod % 60]}{zone},{name},{side_text},"
                            f"{quantity_text},{price_text},{commission_text}\n")
        return "".join(rows)

    def _four(self, value: float) -> str:
        text = f"{value:.4f}"
        if value:  # not 0.0 nor -0.0 (their texts differ, their keys do not)
            if len(self._decimals) >= _DECIMALS_KEPT:
                self._decimals.clear()
            self._decimals[value] = text
        return text

    def _date(self, local_day: int) -> str:
        text = self._dates[local_day] = date.fromordinal(local_day + _EPOCH_ORDINAL).isoformat()
        return text

    def _day(self, day: int) -> tuple[int, str] | None:
        first = datetime.fromtimestamp(day * 86_400, self.tz)
        last = datetime.fromtimestamp(day * 86_400 + 86_399, self.tz)
        offset = first.utcoffset()
        if offset is None or offset != last.utcoffset() or offset.microseconds:
            return None
        return int(offset.total_seconds()), first.isoformat()[19:]


_QUANTITIES = 1024
_QUANTITY_TEXT = [str(q) for q in range(_QUANTITIES)]
"""The text of the usual quantities (``f"{q}"`` of an int is ``str(q)``)."""
_DECIMALS_KEPT = 4096
"""Fill prices and commissions whose text `LocalSeconds.fill_text` keeps (then it starts over)."""
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_TWO_DIGITS = [f"{k:02d}" for k in range(60)]
_HOUR_MINUTE = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
SIDE_TEXT = {side: side.name.lower() for side in OrderSide}
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL


_SHARED: dict[Any, LocalSeconds] = {}


def local_seconds(tz: Any) -> LocalSeconds:
    """The process's `LocalSeconds` of zone `tz` (the journal's fills and the session records'
    open and close share one per-day cache: a session's day is looked up once)."""
    try:
        local = _SHARED.get(tz)
    except TypeError:  # an unhashable zone: a cache of its own
        return LocalSeconds(tz)
    if local is None:
        if len(_SHARED) > 16:  # many zones in one process (tests): start over
            _SHARED.clear()
        local = _SHARED[tz] = LocalSeconds(tz)
    return local
