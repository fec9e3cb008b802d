"""Turn the config's ``strategy.class: "module:Class"`` and params into a Strategy instance."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from app.errors import ConfigError
from app.strategies.base import Strategy

__all__ = ["load_strategy", "load_strategy_class"]


def load_strategy_class(path: str, file: str | None = None) -> type[Strategy]:
    """Import ``"package.module:ClassName"`` and check it is a Strategy subclass.

    Raises
    ------
    ConfigError
        On ``strategy.class`` when the module cannot be imported, the class is missing, or it
        is not a Strategy.
    """
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import module {module_name!r}: {e}", file=file, field="strategy.class") from e
    cls = getattr(module, class_name, None)
    if cls is None:
        names = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Strategy)]
        close = difflib.get_close_matches(class_name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (f"strategies there: {sorted(names)}" if names else None)
        raise ConfigError(f"module {module_name!r} has no class {class_name!r}", file=file,
                          field="strategy.class", hint=hint)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"expected a subclass of app.strategies.base.Strategy, received {path!r}",
                          file=file, field="strategy.class")
    return cls


def check_params(cls: type[Strategy], params: dict[str, Any], file: str | None = None) -> None:
    """Refuse parameters the strategy does not declare, with a did-you-mean hint."""
    for name in params:
        if name not in cls.params:
            close = difflib.get_close_matches(name, list(cls.params), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"{cls.__name__} takes {sorted(cls.params)}"
            raise ConfigError(f"unknown parameter for {cls.__name__}", file=file,
                              field=f"strategy.params.{name}", hint=hint)


def load_strategy(path: str, params: dict[str, Any], file: str | None = None) -> Strategy:
    """Return an instance of the configured strategy with validated params.

    Raises
    ------
    ConfigError
        On an import problem, an unknown parameter, or a value the strategy refuses
        (its constructor raising ValueError or TypeError).
    """
    cls = load_strategy_class(path, file)
    check_params(cls, params, file)
    try:
        return cls(**params)
    except (ValueError, TypeError) as e:
        raise ConfigError(str(e), file=file, field="strategy.params") from e
