"""Documents encoded from shape templates equal `to_json`'s text, byte for byte, at any depth."""

from __future__ import annotations

from itertools import islice

import hypothesis.strategies as st
import numpy as np
from app.metrics.json_template import template_json
from app.metrics.json_text import to_json
from hypothesis import given

_keys = st.text(alphabet=st.sampled_from('ab%s "\\{}[],:\n\u00e9\u2603\x00'), max_size=5)
_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-07, -5e-07, 1.5e-05, 0.0000125, 2.5e-06, 1e16, 123456.0000005]),
    st.builds(lambda cents, n: cents / 100 / n, st.integers(-10**9, 10**9), st.integers(1, 7)),
)
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), _floats, _keys,
                    _floats.map(np.float64))
_documents = st.recursive(
    _leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=20,
)
_containers = st.one_of(st.lists(_documents, max_size=4), st.dictionaries(_keys, _documents, max_size=5))


def _nested(text: str, depth: int) -> str:
    return text.replace("\n", "\n" + "  " * depth)


@given(st.lists(_containers, max_size=3), st.integers(0, 3))
def test_template_text_equals_to_json_nested_at_the_depth(documents, depth):
    got = template_json(documents, depth)

    assert got == [_nested(to_json(d), depth) for d in documents]


@given(st.lists(st.sampled_from([{"a": 1.0, "b": {"c": [1, 2.5]}}, {"b": {"c": []}, "a": 2},
                                 {"a": 0.1234567, "b": {"c": [3, 0.5]}}]), min_size=1, max_size=8))
def test_documents_of_a_few_shapes_each_get_their_own_text(documents):
    got = template_json(documents, 1)

    assert got == [_nested(to_json(d), 1) for d in documents]


def test_documents_it_cannot_show_the_same_way_are_left_to_to_json():
    for document in ({"x": float("nan")}, {"x": [float("inf")]}, {1: 2}, {"x": {1, 2}}, {"x": np.int64(3)},
                     {"x": np.array([1.0])}, 1.5, "text"):
        assert template_json([{"fine": 1.0}, document]) is None, document


def _near_misses(document):
    # Documents that differ from `document` in one place: a key gone, a leaf of another type, a
    # list one longer or a tuple, recursively.
    if isinstance(document, dict):
        for key, value in document.items():
            yield {k: v for k, v in document.items() if k != key}
            yield {**document, key: "x" if isinstance(value, float) else 1.5}
            for inner in _near_misses(value):
                yield {**document, key: inner}
    elif isinstance(document, list | tuple):
        yield [*document, 0.25]
        yield tuple(document) if isinstance(document, list) else list(document)
        for i, value in enumerate(document):
            for inner in _near_misses(value):
                yield [*document[:i], inner, *document[i + 1:]]


class _Dict(dict):
    pass


@given(_containers, st.integers(0, 2))
def test_documents_that_almost_share_a_shape_each_get_their_own_text(document, depth):
    # Arrange: shapes met again and again (their leaves are taken without a walk), among near misses
    misses = list(islice(_near_misses(document), 30))
    documents = [document, *misses, document, *reversed(misses), document]

    # Act
    got = template_json(documents, depth)

    # Assert
    assert got == [_nested(to_json(d), depth) for d in documents]


def test_a_dict_of_another_type_is_not_taken_for_a_dict_of_the_shape():
    document = {"a": {"b": 1.0}}

    # (to_json writes a dict subclass; the templates leave every document to it)
    assert template_json([document, document, {"a": _Dict(b=1.0)}]) is None


@given(st.lists(st.integers(0, 30), min_size=1, max_size=40), st.integers(0, 2))
def test_documents_whose_lists_vary_in_length_get_to_json_text_met_once_or_again(lengths, depth):
    # Records of many symbols differ in their lists' lengths (gaps, rejections): a shape met once
    # is not templated, one met again is, and a long run of new shapes skips the walk.
    documents = [{"n": k, "gaps": [0.5 * j for j in range(k)], "why": ["r"] * (k % 3)} for k in lengths]

    got = template_json(documents, depth)

    assert got == [_nested(to_json(d), depth) for d in documents]


def test_a_value_it_cannot_show_after_a_run_of_new_shapes_is_left_to_to_json():
    documents = [{"gaps": [1.0] * k} for k in range(12)] + [{"gaps": [float("nan")] * 12}]

    assert template_json(documents) is None
