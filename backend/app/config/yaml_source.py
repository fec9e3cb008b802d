"""Read YAML text into plain Python values plus a map of where each value was written; no validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.errors import ConfigError

__all__ = ["FieldPath", "Mark", "SourceMap", "format_path", "read_yaml"]

FieldPath: TypeAlias = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys (str) and list indexes (int), outermost first."""

_MAP_TAG: Final = "tag:yaml.org,2002:map"
_SEQ_TAG: Final = "tag:yaml.org,2002:seq"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_MAX_DEPTH: Final = 50  # a session config nests about 5 deep
_MAX_VALUES: Final = 100_000  # aliases can make a short file expand without bound ("billion laughs")


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column in the YAML text."""

    line: int
    column: int


@dataclass(slots=True)
class SourceMap:
    """Where each value (and each mapping key) of one YAML document was written.

    Parameters
    ----------
    file : str
        The file name to show in error messages.
    values : dict[FieldPath, Mark]
        Start of each value node, keyed by its path (the root document is ``()``).
    keys : dict[FieldPath, Mark]
        Start of each mapping key, keyed by the path of the value it introduces.
    """

    file: str
    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)

    def locate(self, path: FieldPath, *, key: bool = False) -> Mark:
        """Return where `path` was written; for a path not in the document, the line of its nearest ancestor.

        With ``key=True`` the key's position is preferred over the value's (unknown-key errors).
        """
        if key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        probe = path
        while probe:
            probe = probe[:-1]
            found = self.keys.get(probe) or self.values.get(probe)
            if found is not None:
                return found
        return Mark(1, 1)


def format_path(path: FieldPath) -> str:
    """Return the dotted form of a path, e.g. ``indicators[0].period`` (odd keys quoted: ``data['\\t']``)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable() or part.strip() != part or not part:
            text += f"[{part!r}]"  # a key of control characters or blanks: shown escaped, on one line
        else:
            text += f".{part}" if text else part
    return text


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values (dict, list, str, int, float, bool, date, None).

    Parameters
    ----------
    text : str
        The YAML source.
    file : str
        The file name used in error messages and stored in the returned SourceMap.

    Returns
    -------
    tuple
        ``(value, source_map)``; ``value`` is None for an empty document.

    Raises
    ------
    ConfigError
        On a YAML syntax error, a duplicate or non-string mapping key, a merge key (``<<``),
        a recursive alias, an unsupported tag or an unreadable scalar (e.g. ``2024-02-30``).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(e, file) from e
    except yaml.reader.ReaderError as e:
        raise _reader_error(e, text, file) from e
    except RecursionError as e:
        raise ConfigError(
            "invalid YAML: lists or mappings nested too deeply to read", file=file, line=1, column=1,
            hint=f"a session config nests at most {_MAX_DEPTH} levels",
        ) from e
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {' '.join(str(e).split())}", file=file, line=1, column=1) from e
    source = SourceMap(file)
    if node is None:
        return None, source
    return _Walker(source).walk(node, ()), source


def _syntax_error(e: yaml.MarkedYAMLError, file: str) -> ConfigError:
    mark = e.problem_mark or e.context_mark
    hint = None
    if e.context:
        hint = e.context
        if e.context_mark is not None and e.context_mark is not mark:
            hint += f" on line {e.context_mark.line + 1}"
    return ConfigError(
        f"invalid YAML: {e.problem or 'cannot parse'}",
        file=file,
        line=mark.line + 1 if mark is not None else None,
        column=mark.column + 1 if mark is not None else None,
        hint=hint,
    )


def _reader_error(e: yaml.reader.ReaderError, text: str, file: str) -> ConfigError:
    # A character YAML does not allow (a control character, say): located by its position.
    before = text[: e.position]
    line = before.count("\n") + 1
    column = e.position - (before.rfind("\n") + 1) + 1
    character = e.character if isinstance(e.character, int) else ord(e.character)
    return ConfigError(
        f"invalid YAML: the character {chr(character)!r} (U+{character:04X}) is not allowed",
        file=file, line=line, column=column,
        hint=f'delete it, or write it as "\\u{character:04x}" inside double quotes',
    )


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    def __init__(self, source: SourceMap) -> None:
        self._source = source
        self._constructor = SafeConstructor()
        # Ids of the collection nodes on the current path: an alias back to one of them loops forever.
        self._active: set[int] = set()
        self._count = 0

    def walk(self, node: Node, path: FieldPath) -> Any:
        self._count += 1
        if self._count > _MAX_VALUES:
            raise self._error(node, path, f"expected a session config, received more than {_MAX_VALUES:,} values",
                              hint="YAML aliases (*name) repeat what they name; write the values out")
        if len(path) > _MAX_DEPTH:
            raise self._error(node, path, f"expected at most {_MAX_DEPTH} nested levels, received more")
        self._source.values[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            raise self._error(node, path, "a recursive YAML alias (an anchor used inside itself) is not supported")
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
                return [self.walk(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
                return self._mapping(node, path)
            raise self._error(node, path, f"expected a plain YAML mapping or list, received the tag {node.tag!r}")
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            raise _syntax_error(e, self._source.file) from e
        except ValueError as e:
            shown = repr(node.value) if len(node.value) <= 60 else repr(node.value[:57]) + "..."
            raise self._error(node, path, f"cannot read the value {shown}: {e}") from e

    def _mapping(self, node: MappingNode, path: FieldPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise self._error(key_node, path, "YAML merge keys ('<<') are not supported; write the fields out")
            if not isinstance(key_node, ScalarNode):
                raise self._error(key_node, path, "expected a field name, received a mapping or list as a key")
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                raise self._error(
                    key_node, path, f"expected a string key, received {key!r}", hint=f"quote it: '{key_node.value}'"
                )
            child = (*path, key)
            if key in result:
                first = self._source.keys[child]
                raise self._error(key_node, child, f"duplicate key {key!r} (first written on line {first.line})")
            self._source.keys[child] = _mark(key_node)
            result[key] = self.walk(value_node, child)
        return result

    def _error(self, node: Node, path: FieldPath, message: str, *, hint: str | None = None) -> ConfigError:
        mark = _mark(node)
        return ConfigError(
            message,
            file=self._source.file,
            line=mark.line,
            column=mark.column,
            field=format_path(path) or None,
            hint=hint,
        )
