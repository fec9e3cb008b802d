"""The exception hierarchy: every error a user can trigger, with a message that says what to do."""

from __future__ import annotations

__all__ = [
    "AppError",
    "ConfigError",
    "DataError",
    "FeedError",
    "InvariantError",
    "MissingDataError",
    "NoBarsError",
    "SessionAborted",
    "StrategyError",
    "StrategyTimeoutError",
    "ThreadStuckError",
]


class AppError(Exception):
    """Base of every error the product raises on purpose; ``str(e)`` is the user message."""


class ConfigError(AppError):
    """A session config (or CLI argument) is wrong.

    Renders in the compiler format editors turn into links::

        session_configs/demo.yaml:14:21: error: backtest.speed_multiplier: expected a number >= 0, received -3
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: error: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f"; {self.hint}"
        return text


class DataError(AppError):
    """Bar data is absent or unreadable in a way that stops the run (bad rows are counted, not raised)."""

    def __init__(self, source: str, detail: str, *, symbol: str | None = None) -> None:
        self.source = source
        self.detail = detail
        self.symbol = symbol
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f" ({self.symbol})" if self.symbol else ""
        return f"{self.source}{who}: {self.detail}"


class MissingDataError(DataError):
    """A symbol has no base bars in a session and ``data.on_missing`` is ``fail`` (the default).

    One line naming the symbol, the interval, the session, the file(s) looked at and what they
    hold, and the config change that runs without them.
    """

    def __init__(self, symbol: str, interval: str, session: str, looked_at: str) -> None:
        self.interval = interval
        self.session = session
        self.looked_at = looked_at
        super().__init__(looked_at, f"no {interval} bars in session {session}", symbol=symbol)

    def __str__(self) -> str:
        return (f"no {self.interval} bars for {self.symbol} in session {self.session}: {self.looked_at}; "
                "set data.on_missing to skip or warn to run without them")


class FeedError(AppError):
    """A live feed failed in a way that must end the run (bad credentials, unknown symbol, ...)."""

    def __init__(self, detail: str, *, code: int | None = None, fatal: bool = True) -> None:
        self.detail = detail
        self.code = code
        self.fatal = fatal
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"feed error {self.code}: {self.detail}" if self.code is not None else f"feed error: {self.detail}"


class StrategyError(AppError):
    """User strategy code raised; wraps the original as ``__cause__``."""

    def __init__(self, strategy: str, session: str, clock_time: str, cause: BaseException) -> None:
        self.strategy = strategy
        self.session = session
        self.clock_time = clock_time
        self.cause = cause
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"strategy {self.strategy} raised at {self.clock_time} (session {self.session}): "
            f"{type(self.cause).__name__}: {self.cause}"
        )


class StrategyTimeoutError(AppError):
    """A strategy callback ran past ``strategy.callback_timeout_s`` (the run fails; see threads.watchdog).

    ``str(e)`` is one line ending with where the callback was stuck; `stack` holds the whole
    stack of the stuck thread (run.log gets it).
    """

    def __init__(self, method: str, timeout_s: float, running_s: float, *, symbol: str | None = None,
                 bar_time: str | None = None, session: str | None = None, stack: str = "") -> None:
        self.method = method
        self.timeout_s = timeout_s
        self.running_s = running_s
        self.symbol = symbol
        self.bar_time = bar_time
        self.session = session
        self.stack = stack
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [f"symbol {self.symbol}"] if self.symbol else []
        if self.bar_time:
            where.append(f"bar {self.bar_time}")
        if self.session:
            where.append(f"session {self.session}")
        at = f" ({', '.join(where)})" if where else ""
        lines = [ln.strip() for ln in self.stack.strip().splitlines() if ln.strip().startswith("File ")]
        stuck = f"; stuck at {lines[-1]}" if lines else ""
        return (f"strategy callback {self.method} did not return within {self.timeout_s:g} s{at}{stuck} "
                f"(strategy.callback_timeout_s)")


class NoBarsError(AppError):
    """A run ended without processing a single bar: never a silent success."""

    def __init__(self, sessions_planned: int, sessions_finished: int) -> None:
        self.sessions_planned = sessions_planned
        self.sessions_finished = sessions_finished
        super().__init__(str(self))

    def __str__(self) -> str:
        return (f"the run processed no bars ({self.sessions_finished} of {self.sessions_planned} sessions "
                f"finished): check the date range, the symbols and data.store, or data.on_missing")


class InvariantError(AppError):
    """An internal invariant broke (clock stepped back, second writer, ...): a bug, never bad input."""


class ThreadStuckError(AppError):
    """A pipeline thread did not finish within its join timeout."""

    def __init__(self, thread: str, timeout_s: float) -> None:
        self.thread = thread
        self.timeout_s = timeout_s
        self.interrupted = False  # set when the run was ending on Ctrl-C / SIGTERM (exit 130, not 1)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"thread {self.thread} did not stop within {self.timeout_s:g} s"


class SessionAborted(AppError):  # noqa: N818 -- public name (backtest, run, tests, SESSION_ARCHITECTURE.md)
    """A pipeline thread failed; raised in the main thread ``from`` the original exception."""

    def __init__(
        self,
        thread: str,
        cause: BaseException,
        *,
        clock_time: str | None = None,
        session: str | None = None,
        outputs_dir: str | None = None,
    ) -> None:
        self.thread = thread
        self.cause = cause
        self.clock_time = clock_time
        self.session = session
        self.outputs_dir = outputs_dir
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.clock_time:
            where += f" at {self.clock_time}"
        if self.session:
            where += f" (session {self.session})"
        cause = self.cause
        if isinstance(cause, StrategyError):
            cause = cause.cause
        return f"{self.thread} failed{where}: {type(cause).__name__}: {cause}"
