"""Typed reads of a sweep file's plain YAML data, each raising a ConfigError located at its field."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from app.config.fields import did_you_mean, show
from app.config.yaml_source import FieldPath, SourceMap, format_path
from app.errors import ConfigError

__all__ = ["Reader", "located_error"]


def located_error(source: SourceMap, path: FieldPath, message: str, *, hint: str | None = None,
                  at_key: bool = False) -> ConfigError:
    """Return a ConfigError about `path` at its place in the file (its key with `at_key`)."""
    mark = source.locate(path, key=at_key)
    return ConfigError(message, file=source.file, line=mark.line, column=mark.column,
                       field=format_path(path) or None, hint=hint)


class Reader:
    """Typed reads of the plain YAML data, each raising a ConfigError located at its field.

    Each method takes the value and its path and returns it checked (``mapping`` also refuses
    unknown keys with a did-you-mean hint, and missing required ones).
    """

    def __init__(self, source: SourceMap) -> None:
        self.source = source

    def error(self, path: FieldPath, message: str, *, hint: str | None = None, at_key: bool = False) -> ConfigError:
        return located_error(self.source, path, message, hint=hint, at_key=at_key)

    def mapping(self, value: Any, path: FieldPath, known: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            what = "the sweep file" if not path else "a mapping"
            raise self.error(path, f"expected {what} with keys {', '.join(known)}, received {show(value)}")
        for key in value:
            if key not in known:
                hint = did_you_mean(key, known) or f"expected one of {', '.join(known)}"
                raise self.error((*path, key), "unknown field", hint=hint, at_key=True)
        for key in required:
            if value.get(key) is None:
                raise self.error((*path, key), "required field is missing")
        return value

    def names(self, value: Any, path: FieldPath, nonempty: bool = False) -> dict[str, Any]:
        if not isinstance(value, dict) or (nonempty and not value):
            raise self.error(path, f"expected a mapping of parameter names to values, received {show(value)}")
        return dict(value)

    def items(self, value: Any, path: FieldPath) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.error(path, f"expected a non-empty list, received {show(value)}")
        return value

    def values(self, value: Any, path: FieldPath) -> tuple[Any, ...]:
        items = self.items(value, path)
        for i, item in enumerate(items):
            if isinstance(item, dict):
                raise self.error((*path, i), f"expected a parameter value, received a mapping {show(item)}")
            if item in items[:i]:
                raise self.error((*path, i), f"duplicate value {show(item)}")
        return tuple(items)

    def text(self, value: Any, path: FieldPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"expected a non-blank string, received {show(value)}")
        return value

    def choice(self, value: Any, path: FieldPath, choices: tuple[str, ...]) -> str:
        if value not in choices:
            hint = did_you_mean(value, choices) or f"expected one of {', '.join(choices)}"
            raise self.error(path, f"unknown metric {show(value)}", hint=hint)
        return str(value)

    def boolean(self, value: Any, path: FieldPath) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, received {show(value)}")
        return value

    def integer(self, value: Any, path: FieldPath, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(path, f"expected an integer >= {low}, received {show(value)}")
        return value

    def day(self, value: Any, path: FieldPath) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.error(path, f"expected a date YYYY-MM-DD, received {show(value)}") from None

    def bounds(self, value: Any, path: FieldPath, integer: bool, positive: bool) -> tuple[float, float]:
        number = int if integer else (int, float)
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, number) and not isinstance(v, bool) for v in value)
                or not all(math.isfinite(v) for v in value)):
            kind = "integers" if integer else "numbers"
            raise self.error(path, f"expected [low, high] of two {kind}, received {show(value)}")
        low, high = value
        if high < low or (not integer and high == low):
            raise self.error(path, f"expected low < high, received {show(value)}")
        if positive and low <= 0:
            raise self.error(path, f"expected low > 0 for a log-uniform draw, received {show(value)}")
        return low, high

    def symbols(self, value: Any, path: FieldPath) -> tuple[str, ...]:
        items = self.items(value, path)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.error((*path, i), f"expected a ticker symbol, received {show(item)}")
            if item in items[:i]:
                raise self.error((*path, i), f"duplicate symbol {item!r}")
        return tuple(items)
