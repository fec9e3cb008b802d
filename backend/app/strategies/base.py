"""Strategy base class: the hooks user code overrides (`StrategyContext` is in `app.strategies.context`)."""

from __future__ import annotations

from typing import Any, ClassVar

from app.store.bar import Bar
from app.strategies.context import StrategyContext

__all__ = ["Strategy", "StrategyContext"]


class Strategy:
    """Base class for user strategies.

    Subclasses declare their parameters with defaults in ``params`` (the config's
    ``strategy.params`` may set only these; unknown names are config errors) and read them
    as ``self.p["name"]``. Override any of the hooks; each runs on the AnalysisEngine thread.

    Attributes
    ----------
    params : dict
        Parameter names and their defaults.
    """

    params: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        self.p: dict[str, Any] = {**self.params, **params}

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        """Return the session indicators this strategy needs, e.g. ``{"name": "sma", "period": 10}``.

        They are added to the config's ``indicators`` (the interval defaults to the base one).
        """
        return []

    def on_session_start(self, ctx: StrategyContext) -> None:
        """Called once per session after history is loaded, before the first bar."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Called for each new base bar, in (time, symbol) order, once the bar has closed.

        Every bar closed by ``ctx.now`` (base or derived, of every symbol) is already visible,
        including the other symbols' bars of this step.
        """

    def on_session_end(self, ctx: StrategyContext) -> None:
        """Called once per session with the clock at the close."""
