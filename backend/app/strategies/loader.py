"""Turn the config's ``strategy.class: "module:Class"`` and params into a Strategy instance.

Everything user code can get wrong while the strategy is being set up (importing its module,
finding the class, its params, its constructor, its ``indicators()`` request) becomes one
``ConfigError`` at ``file:line:col`` of ``strategy.class`` or ``strategy.params``, never a
traceback: the CLI prints it as one line and exits 2.
"""

from __future__ import annotations

import importlib
import traceback
from typing import TYPE_CHECKING, Any

from app.config.fields import did_you_mean
from app.strategies.base import Strategy

if TYPE_CHECKING:
    from app.config.schema import SessionConfig

__all__ = ["check_params", "load_strategy", "load_strategy_class", "requested_indicators"]

_CLASS = ("strategy", "class")
_PARAMS = ("strategy", "params")


def load_strategy_class(config: SessionConfig) -> type[Strategy]:
    """Import the config's ``"package.module:ClassName"`` and check it is a Strategy subclass.

    Raises
    ------
    ConfigError
        On ``strategy.class`` when the module cannot be imported (or raises while importing),
        the class is missing, or it is not a Strategy.
    """
    path = config.strategy.path
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise config.error(_CLASS, f"cannot import module {module_name!r}: {_short(str(e))}") from e
    except Exception as e:  # user code ran at import: one config line, not a traceback
        raise config.error(_CLASS, f"importing module {module_name!r} raised {_describe(e)}",
                           hint="fix the module") from e
    cls = getattr(module, class_name, None)
    if cls is None:
        names = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Strategy))
        hint = did_you_mean(class_name, names) or (f"strategies there: {names}" if names else None)
        raise config.error(_CLASS, f"module {module_name!r} has no class {class_name!r}", hint=hint)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise config.error(_CLASS, f"expected a subclass of app.strategies.base.Strategy, received {path!r}")
    return cls


def check_params(config: SessionConfig, cls: type[Strategy]) -> None:
    """Refuse parameters the strategy does not declare, with a did-you-mean hint.

    Raises
    ------
    ConfigError
        On ``strategy.params.<name>`` for the first undeclared name.
    """
    declared = cls.params if isinstance(cls.params, dict) else {}
    for name, _ in config.strategy.params:
        if name not in declared:
            hint = did_you_mean(name, declared) or f"{cls.__name__} takes {sorted(declared)}"
            raise config.error((*_PARAMS, name), f"unknown parameter for {cls.__name__}", hint=hint, at_key=True)


def load_strategy(config: SessionConfig) -> Strategy:
    """Return an instance of the configured strategy with validated params.

    Raises
    ------
    ConfigError
        On an import problem, an unknown parameter, a value the strategy refuses (its
        constructor raising ValueError or TypeError: on ``strategy.params``), or any other
        exception from its constructor (on ``strategy.class``: a bug in the strategy).
    """
    cls = load_strategy_class(config)
    check_params(config, cls)
    params = config.strategy.params_dict
    try:
        return cls(**params)
    except (ValueError, TypeError) as e:
        raise config.error(_PARAMS, f"{cls.__name__} refused its params: {_short(str(e))}") from e
    except Exception as e:  # user code: one config line, not a traceback
        raise config.error(_CLASS, f"{cls.__name__}({_shown(params)}) raised {_describe(e)}",
                           hint="fix the strategy's __init__") from e


def requested_indicators(config: SessionConfig, cls: type[Strategy]) -> list[dict[str, Any]]:
    """Return ``cls.indicators(params, base interval)``: the session indicators the strategy asks for.

    Raises
    ------
    ConfigError
        On ``strategy.class`` when the method raises or does not return a list of mappings.
    """
    try:
        wanted = cls.indicators(config.strategy.params_dict, config.base_interval.label)
    except Exception as e:  # user code: one config line, not a traceback
        raise config.error(_CLASS, f"{cls.__name__}.indicators() raised {_describe(e)}",
                           hint="fix the strategy's indicators()") from e
    if not isinstance(wanted, (list, tuple)) or not all(isinstance(item, dict) for item in wanted):
        raise config.error(_CLASS, f"expected {cls.__name__}.indicators() to return a list of mappings, "
                                   f"received {_short(repr(wanted))}")
    return list(wanted)


def _describe(e: BaseException) -> str:
    # The exception and where user code raised it (the innermost frame): the CLI prints no
    # traceback for a config error, so this line is all the user gets.
    text = _short(str(e))
    what = f"{type(e).__name__}: {text}" if text else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        last = frames[-1]
        what += f" (at {last.filename}:{last.lineno} in {last.name})"
    return what


def _shown(params: dict[str, Any]) -> str:
    return _short(", ".join(f"{k}={v!r}" for k, v in params.items()))


def _short(text: str) -> str:
    text = " ".join(text.split())  # one line, whatever the exception said
    return text if len(text) <= 200 else text[:197] + "..."
