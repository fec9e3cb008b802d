"""`to_json` text of many documents of a few shapes, each shape one template filled in bulk.

`to_json` walks every value of every document in Python, builds a rounded copy, encodes it
compact and indents it: most of sessions.json's time (a year of one symbol: 250 records of ~35
dicts and ~75 floats each, mostly the per-session ``metrics`` block). Here a document's shape
(its keys, nesting, list lengths and leaf types) becomes one text template, laid out as
``json.dumps(..., sort_keys=True, indent=2)`` would, with a ``%s`` slot per leaf; the records
of a run share a few shapes, so each template is built once, and so is a straight-line function
that checks a document has that shape and takes its leaves (`_extractor`: a walk of each record
cost more than the rest of the encoding together). The floats of all documents are
rounded (`json_text.round6`) and printed at once, every other leaf encoded by the C encoder's
own functions, and each document is ``template % leaves``. The text equals `to_json`'s (tested);
a document it cannot show the same way (a NaN, a key that is not a str, a value of another
type) makes `template_json` return None, and the caller uses `to_json`, which says what is wrong.
"""

from __future__ import annotations

import functools
import json
import math
import operator
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any, Final, cast

import numpy as np

from app.metrics.json_text import round6, to_json

__all__ = ["template_json"]

_Shape = tuple[Any, ...]
"""``(_DICT, keys sorted, kinds)`` or ``(_LIST, kinds)``; a kind is a nested shape or a leaf's type."""

_DICT, _LIST = "d", "l"
_FLOATS = frozenset((float, np.float64))
_TEXT: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
    str: encode_basestring_ascii,
}
_LEAVES = _FLOATS | frozenset(_TEXT)
_CONTAINERS = frozenset((dict, list, tuple))
_FEW = 16
_SHAPES = 8
"""Shapes tried per document before it is walked (`_flatten`)."""


def template_json(documents: Sequence[Any], depth: int = 0) -> list[str] | None:
    """Return each document's `to_json` text, nested `depth` levels deep, or None if one of them
    holds a value shown otherwise (then the caller encodes them all with `to_json`).

    Nested at depth ``d``, every line after the first is indented ``2 * d`` more spaces, as
    ``json.dumps(..., indent=2)`` prints a value inside ``d`` enclosing containers.
    """
    floats: list[float] = []  # every document's float leaves, and its other leaves, in text order
    others: list[Any] = []
    placed: list[tuple[_Extractor, int, int] | str] = []  # a str: the document's text already
    seen: list[_Extractor] = []  # the shapes met so far, most recent first: documents share a few
    firsts = 0  # documents in a row whose shape was new
    for document in documents:
        if firsts >= _SHAPES:  # every shape differs (lists of varying lengths): `to_json`, no walk
            item: tuple[_Extractor, int, int] | str | None = _as_text(document, depth)
        else:
            item = _place(document, depth, seen, floats, others)
            firsts = firsts + 1 if isinstance(item, str) else 0
        if item is None:
            return None
        placed.append(item)
    float_text = _float_text(floats)
    if float_text is None:
        return None
    try:
        other_text = [_TEXT[type(v)](v) for v in others]
    except UnicodeEncodeError:  # a lone surrogate: to_json's encoder says so
        return None
    out = []
    for item in placed:
        if isinstance(item, str):
            out.append(item)
            continue
        shape_of, f, o = item
        template, n_floats, n_others = shape_of.template(depth)
        out.append(template % tuple(float_text[f:f + n_floats]) % tuple(other_text[o:o + n_others]))
    return out


def _place(document: Any, depth: int, seen: list[_Extractor], floats: list[float],
           others: list[Any]) -> tuple[_Extractor, int, int] | str | None:
    # Where `document`'s leaves start in `floats` and `others`, with its shape's extractor; or
    # its text, when its shape is met for the first time (`to_json` costs less than a template
    # used once); None when it holds a value a template cannot show.
    at = (len(floats), len(others))
    taken = _take_leaves(document, seen, floats, others)
    if taken is None:
        return None
    if taken is not _FIRST:
        return cast(_Extractor, taken), *at
    del floats[at[0]:], others[at[1]:]
    return _as_text(document, depth)


def _as_text(document: Any, depth: int) -> str | None:
    # `to_json`'s text nested `depth` levels deep (None: the caller's `to_json` says what is wrong).
    try:
        return to_json(document).replace("\n", "\n" + "  " * depth)
    except ValueError:
        return None


def _float_text(floats: list[float]) -> list[str] | None:
    # Each float's text (None: one is not finite).
    if len(floats) <= _FEW:  # a few floats cost less in Python than numpy's per-call cost
        if not all(map(math.isfinite, floats)):
            return None
        return [float.__repr__(round(float(v), 6) + 0.0) for v in floats]
    values = np.array(floats, dtype=np.float64)
    if not np.isfinite(values).all():
        return None
    return _float_texts(values)


_FIRST: Final = object()
"""`_take_leaves`: the document's shape was met for the first time (its leaves not kept)."""


def _take_leaves(document: Any, seen: list[_Extractor], floats: list[float],
                 others: list[Any]) -> _Extractor | object | None:
    # Append `document`'s leaves and return its shape's extractor (also seen[0] then): one
    # already met in these documents (its leaves taken without a walk), else walked
    # (`_flatten`) and built if the shape was met before. None: it holds a value a template
    # cannot show; _FIRST: a shape never met (no template is built for one use).
    for i, known in enumerate(seen):
        leaves = known.take(document)
        if leaves is not None:
            floats.extend(leaves[0])
            others.extend(leaves[1])
            if i:
                seen.insert(0, seen.pop(i))
            return known
    shape = _flatten(document, floats, others)
    if shape is None:
        return None
    built = _SHAPES_MET.extractor(shape)
    if built is None:
        return _FIRST
    seen.insert(0, built)
    del seen[_SHAPES:]
    return built


class _ShapesMet:
    """The shapes met so far (bounded): an extractor and template for each one met again.

    Building them costs about as much as `to_json` on a few documents of the shape (a large
    record: ~30 ms of `exec`), so a shape met once is encoded by `to_json`: a run whose records
    all differ (their lists' lengths vary, e.g. many symbols' gaps) pays `to_json` and no more.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._once: dict[_Shape, None] = {}
        self._built: dict[_Shape, _Extractor] = {}

    def extractor(self, shape: _Shape) -> _Extractor | None:
        """Return the shape's extractor when it was met before (built now if needed), else None."""
        built = self._built.get(shape)
        if built is not None:
            return built
        if shape not in self._once:
            self._once[shape] = None
            _trim(self._once, self._size)
            return None
        del self._once[shape]
        built = self._built[shape] = _extractor(shape)
        _trim(self._built, self._size)
        return built


def _trim(met: dict[Any, Any], size: int) -> None:
    while len(met) > size:  # the oldest first (dicts keep insertion order)
        del met[next(iter(met))]


_SHAPES_MET = _ShapesMet(64)


def _float_texts(values: np.ndarray) -> list[str]:
    # repr of each value rounded (`round6`), each distinct figure printed once (timings repeat:
    # a stage's min, max and percentiles are often one value, an idle stage's all 0.0).
    distinct, where = np.unique(np.array(round6(values), dtype=np.float64), return_inverse=True)
    texts = np.empty(distinct.shape[0], dtype=object)
    texts[:] = list(map(float.__repr__, distinct.tolist()))
    shown: list[str] = texts[where.ravel()].tolist()
    return shown


@functools.lru_cache(maxsize=1024)
def _order(keys: tuple[Any, ...]) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] | None:
    # A dict's keys in the text's order and a getter of its values in that order (None: a key
    # is not a str).
    if not all(type(k) is str for k in keys):
        return None
    ordered = tuple(sorted(keys))
    return ordered, _getter(list(ordered))


@functools.lru_cache(maxsize=1024)
def _split(kinds: tuple[type, ...]) -> tuple[Callable[[Any], tuple[Any, ...]], Callable[[Any], tuple[Any, ...]]] | None:
    # For values of these types (text order), all leaves: getters of the floats and of the others.
    if not _LEAVES.issuperset(kinds):
        return None
    return (_getter([i for i, k in enumerate(kinds) if k in _FLOATS]),
            _getter([i for i, k in enumerate(kinds) if k not in _FLOATS]))


def _getter(index: list[Any]) -> Callable[[Any], tuple[Any, ...]]:
    if not index:
        return _none
    if len(index) == 1:
        return functools.partial(_one, index[0])
    return operator.itemgetter(*index)


def _none(row: Any) -> tuple[Any, ...]:
    return ()


def _one(i: Any, row: Any) -> tuple[Any, ...]:
    return (row[i],)


def _flatten(obj: Any, floats: list[float], others: list[Any]) -> _Shape | None:
    # `obj`'s shape (None: not shown by a template); its leaves appended in the text's order.
    kind = type(obj)
    if kind is dict:
        got = _order(tuple(obj))
        if got is None:
            return None
        keys, values_of = got
        values = values_of(obj)
        head: tuple[Any, ...] = (_DICT, keys)
    elif kind is list or kind is tuple:
        values = obj
        head = (_LIST,)
    else:
        return None
    kinds = tuple(map(type, values))
    split = _split(kinds)
    if split is not None:  # leaves only: taken in two calls
        floats.extend(split[0](values))
        others.extend(split[1](values))
        return (*head, kinds)
    parts: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind in _CONTAINERS:
            inner = _flatten(value, floats, others)
            if inner is None:
                return None
            parts.append(inner)
        elif kind in _FLOATS:
            floats.append(value)
            parts.append(kind)
        elif kind in _TEXT:
            others.append(value)
            parts.append(kind)
        else:
            return None
    return (*head, tuple(parts))


class _Extractor:
    """A document's leaves, when it has a given shape, without walking it (see `_extractor`)."""

    def __init__(self, shape: _Shape, source: str, kinds: tuple[type, ...]) -> None:
        self.shape = shape
        namespace: dict[str, Any] = {}
        exec(source, namespace)  # our own code: straight-line subscripts of a shape's keys (_extractor)
        self._leaves: Callable[[Any], tuple[Any, ...] | None] = namespace["leaves"]
        self._kinds = kinds
        self._floats = _getter([i for i, k in enumerate(kinds) if k in _FLOATS])
        self._others = _getter([i for i, k in enumerate(kinds) if k not in _FLOATS])
        self._templates: dict[int, tuple[str, int, int]] = {}

    def take(self, document: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """Return (float leaves, other leaves) in text order, as `_flatten` appends them, if
        `document` has this shape (the same containers, keys, lengths and leaf types), else None."""
        try:
            leaves = self._leaves(document)
        except KeyError:  # a key of the shape is missing (the length check said so already)
            return None
        if leaves is None or tuple(map(type, leaves)) != self._kinds:
            return None
        return self._floats(leaves), self._others(leaves)

    def template(self, depth: int) -> tuple[str, int, int]:
        """`_template` of this shape (kept here: hashing a large shape costs more than a look-up)."""
        found = self._templates.get(depth)
        if found is None:
            found = self._templates[depth] = _template(self.shape, depth)
        return found


def _extractor(shape: _Shape) -> _Extractor:
    # A function of straight-line subscripts: each container's type and length checked before
    # it is read (so a dict has exactly the shape's keys: as many, each present), then every
    # leaf in the text's order. One call per document instead of `_flatten`'s walk.
    lines = ["def leaves(c0):"]
    leaves: list[str] = []
    kinds: list[type] = []
    count = [1]

    def visit(name: str, node: _Shape) -> None:
        kind_check = ("type({0}) is not dict" if node[0] == _DICT
                      else "(type({0}) is not list and type({0}) is not tuple)")
        lines.append(f"    if {kind_check.format(name)} or len({name}) != {len(node[-1])}: return None")
        keys = node[1] if node[0] == _DICT else range(len(node[-1]))
        for key, kind in zip(keys, node[-1], strict=True):
            item = f"{name}[{key!r}]"
            if isinstance(kind, tuple):
                child = f"c{count[0]}"
                count[0] += 1
                lines.append(f"    {child} = {item}")
                visit(child, kind)
            else:
                leaves.append(item)
                kinds.append(kind)

    visit("c0", shape)
    lines.append(f"    return ({', '.join(leaves)}{',' if len(leaves) == 1 else ''})")
    return _Extractor(shape, "\n".join(lines) + "\n", tuple(kinds))


@functools.lru_cache(maxsize=256)
def _template(shape: _Shape, depth: int) -> tuple[str, int, int]:
    # ``json.dumps(indent=2)``'s layout of the shape, for two rounds of %-formatting: the float
    # leaves' slots first (%s), then the others' (%%s); a % in a key is written %%%%.
    counts = [0, 0]
    return _text(shape, depth, counts), counts[0], counts[1]


def _text(shape: _Shape, depth: int, counts: list[int]) -> str:
    kinds = shape[-1]
    if not kinds:
        return "{}" if shape[0] == _DICT else "[]"
    items = [_slot(kind, depth, counts) for kind in kinds]
    if shape[0] == _DICT:
        items = [json.dumps(key).replace("%", "%%%%") + ": " + item
                 for key, item in zip(shape[1], items, strict=True)]
    inner = "\n" + "  " * (depth + 1)
    opening, closing = ("{", "}") if shape[0] == _DICT else ("[", "]")
    return opening + inner + ("," + inner).join(items) + "\n" + "  " * depth + closing


def _slot(kind: Any, depth: int, counts: list[int]) -> str:
    if isinstance(kind, tuple):
        return _text(kind, depth + 1, counts)
    if kind in _FLOATS:
        counts[0] += 1
        return "%s"
    counts[1] += 1
    return "%%s"
