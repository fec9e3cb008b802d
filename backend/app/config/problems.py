"""Collect validation problems while the whole config is read; the first one in the file is raised."""

from __future__ import annotations

from typing import Final

from app.config.yaml_source import FieldPath, SourceMap, format_path
from app.errors import ConfigError

__all__ = ["BAD", "Problems"]


class _Bad:
    def __repr__(self) -> str:
        return "BAD"


BAD: Final = _Bad()
"""Stands in for a value that failed its check (its problem is already recorded)."""


class Problems:
    """The ConfigErrors found so far in one config, each located through the SourceMap.

    Parameters
    ----------
    source : SourceMap
        Where each value was written.
    """

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.errors: list[ConfigError] = []
        self._late: list[ConfigError] = []
        self._unknown: dict[FieldPath, dict[str, ConfigError]] = {}  # by parent path, then key

    def add(
        self,
        path: FieldPath,
        message: str,
        *,
        hint: str | None = None,
        at: FieldPath | None = None,
        at_key: bool = False,
        late: bool = False,
    ) -> None:
        """Record a problem with the field at `path`, shown at `at` (default: `path`) in the file.

        A `late` problem is raised only when no other one was found (a missing field, which an
        unknown key elsewhere often explains).
        """
        mark = self.source.locate(path if at is None else at, key=at_key)
        (self._late if late else self.errors).append(
            ConfigError(
                message,
                file=self.source.file,
                line=mark.line,
                column=mark.column,
                field=format_path(path) or None,
                hint=hint,
            )
        )

    def unknown(self, path: FieldPath, hint: str, *, pairable: bool = True) -> None:
        """Record the unknown key at `path`; a `pairable` one may turn out to misspell a missing field."""
        self.add(path, "unknown field", hint=hint, at_key=True)
        if pairable:
            self._unknown.setdefault(path[:-1], {})[str(path[-1])] = self.errors[-1]

    def missing(
        self, path: FieldPath, message: str = "required field is missing", *, at: FieldPath | None = None
    ) -> None:
        """Record that the field at `path` is missing.

        When an unknown key beside it resembles its name (``stratgy`` for ``strategy``), the two
        become one problem shown at that key, the line to fix: "...; unknown key 'stratgy', did
        you mean 'strategy'?". Otherwise the problem is late: an unknown key elsewhere is often
        why a field is missing, so that one is reported first.
        """
        siblings = self._unknown.get(path[:-1], {})
        close = _close_matches(str(path[-1]), list(siblings), n=1)
        if not close:
            self.add(path, message, at=at, late=True)
            return
        typo = close[0]
        self.errors.remove(siblings.pop(typo))
        self.add(path, message, hint=f"unknown key {typo!r}, did you mean {path[-1]!r}?",
                 at=(*path[:-1], typo), at_key=True)

    def first(self) -> ConfigError | None:
        """Return the problem written earliest in the file (ties: the one found first), or None.

        Late problems count only when there is no other.
        """
        errors = self.errors or self._late
        if not errors:
            return None
        return min(errors, key=lambda e: (e.line or 0, e.column or 0))


def _close_matches(word: str, choices: list[str], n: int) -> list[str]:
    import difflib  # only when a name is wrong: not a start-up import

    return difflib.get_close_matches(word, choices, n=n)
