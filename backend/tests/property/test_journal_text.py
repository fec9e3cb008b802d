"""The running summary.json's text (RunJournal.commit) equals json.dumps(indent=2, sort_keys=True), byte for byte."""

from __future__ import annotations

import json

import hypothesis.strategies as st
from hypothesis import given

from app.runtime.journal import _indented

_text = st.text(alphabet=st.sampled_from('ab "\\\n\u00e9\u2603/'), max_size=6)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), _text,
                     st.floats(allow_nan=False, allow_infinity=False))


@given(st.dictionaries(_text, st.one_of(_scalars, st.dictionaries(_text, _scalars, max_size=4)), max_size=8))
def test_the_commit_text_equals_the_stdlib_indented_encoding(doc):
    assert _indented(doc) == json.dumps(doc, indent=2, sort_keys=True)


def test_values_it_does_not_write_are_left_to_json():
    for doc in ({"x": float("nan")}, {"x": [1]}, {"x": {"y": {"z": 1}}}, {1: 2}, {"x": {1: 2}}, {"a": 1, 2: 3}):
        assert _indented(doc) is None, doc
