"""Tests for app.config.yaml_source: plain values, 1-based marks, and YAML-level errors."""

from __future__ import annotations

import re
from datetime import date

import pytest

from app.config.yaml_source import Mark, SourceMap, format_path, read_yaml
from app.errors import ConfigError


def _raises(text, message):
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_values_are_plain_python():
    text = "a: 1\nb: [x, 2.5, true, null]\nc: {d: 2024-03-01, e: '2024-03-01'}\n"
    value, _ = read_yaml(text, "t.yaml")
    assert value == {"a": 1, "b": ["x", 2.5, True, None], "c": {"d": date(2024, 3, 1), "e": "2024-03-01"}}


def test_marks_are_one_based_for_keys_values_and_items():
    text = "top: 1\nsection:\n  key: value\n  items: [a, bb]\nlist:\n  - x\n  - y: 3\n"
    _, source = read_yaml(text, "t.yaml")
    assert source.keys[("section", "key")] == Mark(3, 3)
    assert source.values[("section", "key")] == Mark(3, 8)
    assert source.values[("section", "items", 1)] == Mark(4, 14)
    assert source.values[("list", 1, "y")] == Mark(7, 8)
    assert source.keys[("top",)] == Mark(1, 1)
    assert source.values[()] == Mark(1, 1)


def test_locate_falls_back_to_the_nearest_written_ancestor_key():
    text = "a: 1\nsection:\n  key: value\n"
    _, source = read_yaml(text, "t.yaml")
    assert source.locate(("section", "missing")) == Mark(2, 1)
    assert source.locate(("section", "key"), key=True) == Mark(3, 3)
    assert source.locate(("section", "key")) == Mark(3, 8)
    assert source.locate(("nothing", "here")) == Mark(1, 1)
    assert SourceMap("e.yaml").locate(("x",)) == Mark(1, 1)


def test_format_path_uses_dots_and_brackets():
    assert format_path(("indicators", 0, "period")) == "indicators[0].period"
    assert format_path(("historical", "data", 2, "apply_to", 1)) == "historical.data[2].apply_to[1]"
    assert format_path(()) == ""


def test_empty_document_reads_as_none():
    value, source = read_yaml("# only a comment\n", "t.yaml")
    assert value is None
    assert source.values == {}


def test_syntax_error_names_file_line_and_column():
    text = "a: 1\nb: [x, y\nc: 2\n"
    with _raises(text, "t.yaml:3:2: error: invalid YAML: expected ',' or ']', but got ':'; "
                       "while parsing a flow sequence on line 2"):
        read_yaml(text, "t.yaml")


def test_tab_indentation_is_a_syntax_error():
    text = "a:\n\tb: 1\n"
    with _raises(text, "t.yaml:2:1: error: invalid YAML: found character '\\t' that cannot start any token; "
                       "while scanning for the next token"):
        read_yaml(text, "t.yaml")


def test_two_documents_are_an_error():
    text = "a: 1\n---\nb: 2\n"
    with _raises(text, "t.yaml:2:1: error: invalid YAML: but found another document; "
                       "expected a single document in the stream on line 1"):
        read_yaml(text, "t.yaml")


def test_duplicate_key_is_an_error_at_the_second_key():
    text = "a: 1\nsection:\n  key: 1\n  other: 2\n  key: 3\n"
    with _raises(text, "t.yaml:5:3: error: section.key: duplicate key 'key' (first written on line 3)"):
        read_yaml(text, "t.yaml")


def test_duplicate_key_in_a_list_item():
    text = "items:\n  - {a: 1, a: 2}\n"
    with _raises(text, "t.yaml:2:12: error: items[0].a: duplicate key 'a' (first written on line 2)"):
        read_yaml(text, "t.yaml")


def test_non_string_key_is_an_error_with_a_quote_hint():
    text = "meta:\n  yes: 1\n"
    with _raises(text, "t.yaml:2:3: error: meta: expected a string key, received True; quote it: 'yes'"):
        read_yaml(text, "t.yaml")


def test_merge_keys_are_refused():
    text = "base: &b {x: 1}\nother:\n  <<: *b\n"
    with _raises(text, "t.yaml:3:3: error: other: YAML merge keys ('<<') are not supported; write the fields out"):
        read_yaml(text, "t.yaml")


def test_aliases_are_expanded_and_recursive_ones_refused():
    value, _ = read_yaml("a: &x [1, 2]\nb: *x\n", "t.yaml")
    assert value == {"a": [1, 2], "b": [1, 2]}
    with _raises("a: &x [1, *x]\n", "t.yaml:1:4: error: a[1]: a recursive YAML alias "
                                    "(an anchor used inside itself) is not supported"):
        read_yaml("a: &x [1, *x]\n", "t.yaml")


def test_unknown_tags_are_refused():
    with _raises("a: !foo 1\n", "t.yaml:1:4: error: invalid YAML: could not determine a constructor "
                                "for the tag '!foo'"):
        read_yaml("a: !foo 1\n", "t.yaml")
    with _raises("a: !!set {x, y}\n", "t.yaml:1:4: error: a: expected a plain YAML mapping or list, "
                                      "received the tag 'tag:yaml.org,2002:set'"):
        read_yaml("a: !!set {x, y}\n", "t.yaml")


def test_an_impossible_date_is_an_error_at_its_value():
    text = "when: 2024-02-30\n"
    with _raises(text, "t.yaml:1:7: error: when: cannot read the value '2024-02-30': "
                       "day is out of range for month"):
        read_yaml(text, "t.yaml")
