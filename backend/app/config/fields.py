"""How a config dataclass field declares its YAML key, its check and its section type (field metadata)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import MISSING
from typing import Any, Final, TypeAlias

__all__ = [
    "UNSET",
    "Check",
    "FieldError",
    "FieldSpec",
    "Section",
    "SectionList",
    "did_you_mean",
    "show",
    "yaml_field",
    "yaml_fields",
]

Check: TypeAlias = Callable[[Any], Any]
"""Take one YAML value; return the typed value or raise FieldError."""

_META_KEY: Final = "app.config"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""Marks "no value given" where None is a legal value."""


class FieldError(ValueError):
    """A check rejected a value; the reader turns it into a ConfigError with file, line and field.

    Parameters
    ----------
    message : str
        The "expected ..., received ..." sentence.
    hint : str or None
        A fix or a "did you mean" suggestion.
    subpath : tuple
        Where inside the checked value the problem is (e.g. ``(2,)`` for the third list item).
    """

    def __init__(self, message: str, *, hint: str | None = None, subpath: tuple[str | int, ...] = ()) -> None:
        self.message = message
        self.hint = hint
        self.subpath = subpath
        super().__init__(message)


@dataclasses.dataclass(frozen=True, slots=True)
class Section:
    """Check marker: the value is a nested mapping read into `cls` (None allowed when `optional`)."""

    cls: type
    optional: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class SectionList:
    """Check marker: the value is a list of mappings, each read into `cls`, then passed to `item_check`."""

    cls: type
    item_check: Callable[[Any], Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """What the reader needs to know about one YAML field (stored in the dataclass field's metadata).

    Parameters
    ----------
    check : Check, Section or SectionList
        How to turn the YAML value into the field value.
    key : str or None
        The YAML key when it differs from the field name (``class`` for ``StrategySpec.path``).
    missing : object
        Value used when the key is absent and it differs from the field default (UNSET: use the default).
    dump : callable or None
        Converts the field value back to plain YAML data (None: the generic conversion).
    """

    check: Check | Section | SectionList
    key: str | None = None
    missing: Any = UNSET
    dump: Callable[[Any], Any] | None = None


def yaml_field(
    check: Check | Section | SectionList,
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    key: str | None = None,
    missing: Any = UNSET,
    dump: Callable[[Any], Any] | None = None,
    compare: bool = True,
) -> Any:
    """Return a dataclass field read from YAML with `check`; without a default the key is required."""
    spec = FieldSpec(check=check, key=key, missing=missing, dump=dump)
    return dataclasses.field(
        default=default, default_factory=default_factory, compare=compare, metadata={_META_KEY: spec}
    )


def yaml_fields(cls: type) -> list[tuple[str, str, FieldSpec, dataclasses.Field[Any]]]:
    """Return ``(attribute, yaml_key, spec, field)`` for every YAML field of a config dataclass, in order."""
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_META_KEY)
        if spec is not None:
            out.append((f.name, spec.key or f.name, spec, f))
    return out


def show(value: Any) -> str:
    """Return ``repr(value)`` cut to 60 characters, for "received ..." in messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: object, choices: Iterable[str], n: int = 1) -> str | None:
    """Return ``"did you mean 'x'?"`` (up to `n` close `choices`, best first), or None when nothing is close."""
    close = [repr(c) for c in _close_matches(str(word), list(choices), n=n)]
    if not close:
        return None
    listed = close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]
    return f"did you mean {listed}?"


def _close_matches(word: str, choices: list[str], n: int) -> list[str]:
    import difflib  # only when a name is wrong: not a start-up import

    return difflib.get_close_matches(word, choices, n=n)
