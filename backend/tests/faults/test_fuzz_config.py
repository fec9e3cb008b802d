"""Fuzzed session configs never produce a traceback: a config loads, or one located ConfigError line says why.

Every shipped config in ``session_configs/`` is mutated (keys dropped, renamed with typos or added,
values replaced by junk of the wrong type or shape, the YAML text edited at random, the bytes
re-encoded or corrupted) and validated in-process with ``parse_session_config`` /
``load_session_config`` (no run: each example costs a few milliseconds). A config that is
accepted must also round-trip and, when its class is one of ours, load its strategy. A few
cases then go through the real CLI to check the exit code and the one stderr line.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.config import config_to_dict, load_session_config, parse_session_config
from app.errors import ConfigError
from app.strategies.base import Strategy
from app.strategies.loader import load_strategy

REPO = Path(__file__).resolve().parents[3]
BACKEND = REPO / "backend"
# sweep_*.yaml are sweep files (python -m app.sweep), loaded by tests/sweep
CONFIGS = sorted(p for p in (REPO / "session_configs").glob("*.yaml") if not p.name.startswith("sweep"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in CONFIGS}
SEEDS = {name: yaml.safe_load(text) for name, text in TEXTS.items()}
NAME = "fuzz.yaml"
BASE_DIR = Path("/nonexistent/configs")  # data.store is resolved against it, never opened

JUNK_WORDS = [
    "", " ", "~", "null", "yes", "no", "on", "1m", "5m", "1d", "2d", "0m", "-1m", "1h", "quotes", "ticks",
    "AAPL", "aapl", "BRK B", "XNYS", "XNYZ", "24/7", "backtest", "live", "paper", "2024-02-30", "2024-13-01",
    ".inf", "-.inf", ".nan", "1e400", "app.strategies.sma_cross:SmaCross", "app.strategies.sma_cross:SmaCros",
    "app.strategies.base:Strategy", "app.strategies.context:StrategyContext", "x:Y", "not a path", "all",
    "ws://", "http://127.0.0.1:1", "sma", "vwap", "bbands_upper", "num_std", "close", "\u00e9t\u00e9", "\x00",
    "a\nb", "{", "[", "*anchor", "&a", "!!python/object:os.system", "%YAML", "---", "...",
]
_scalar_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(JUNK_WORDS),
    st.dates(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),  # noqa: DTZ001 - naive on purpose
)
JUNK = st.one_of(
    _scalar_junk,
    st.lists(_scalar_junk, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(JUNK_WORDS)), _scalar_junk, max_size=3),
)
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


# ---------------------------------------------------------------- helpers


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a YAML document (mapping keys and list indexes), the root excluded."""
    out: list[tuple] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def _typo(draw, word: str) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    kind = draw(st.sampled_from(["drop", "double", "swap", "replace", "case"]))
    if kind == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "case":
        return word.upper() if word != word.upper() else word.lower()
    return word[:i] + draw(st.sampled_from("aeioutsrnx_-")) + word[i + 1:]


def _mutate(draw, doc: dict) -> list[str]:
    """Apply 1-4 random structural mutations to `doc` in place; return what was done (for failure reports)."""
    done = []
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        key = path[-1]
        op = draw(st.sampled_from(["drop", "junk", "typo", "add", "wrap", "junk"]))
        if op == "drop":
            del parent[key]
        elif op == "junk":
            parent[key] = draw(JUNK)
        elif op == "typo" and isinstance(parent, dict):
            parent[_typo(draw, key)] = parent.pop(key)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(st.just(_typo(draw, key)), st.text(min_size=1, max_size=10)))] = draw(JUNK)
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        done.append(f"{op} {path!r}")
    return done


def _check_error(e: ConfigError, text: str) -> None:
    """The error is one line in the promised form, located inside the file."""
    message = str(e)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{NAME}:"), message
    assert ": error: " in message, message
    assert e.file == NAME
    assert e.line is not None and e.column is not None, message
    assert 1 <= e.line <= text.count("\n") + 2, message
    assert message.startswith(f"{NAME}:{e.line}:{e.column}: error: "), message


def _validate(text: str) -> None:
    """Load `text`; accepted configs must round-trip and (for our own classes) build their strategy."""
    try:
        config = parse_session_config(text, NAME, BASE_DIR)
    except ConfigError as e:
        _check_error(e, text)
        return
    again = parse_session_config(yaml.safe_dump(config_to_dict(config), allow_unicode=True), NAME, BASE_DIR)
    assert again == config
    if config.strategy.path.startswith("app.strategies."):  # never import arbitrary drawn module names
        try:
            assert isinstance(load_strategy(config), Strategy)
        except ConfigError as e:
            _check_error(e, text)
            assert e.field is not None and e.field.startswith("strategy."), str(e)


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None)


# ---------------------------------------------------------------- in-process fuzz


def test_every_shipped_config_is_a_valid_seed():
    assert len(SEEDS) >= 2
    for text in TEXTS.values():
        parse_session_config(text, NAME, BASE_DIR)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_structurally_mutated_configs_load_or_fail_on_one_located_line(seed, data):
    # Arrange: a shipped config with keys dropped, misspelt, added, or values swapped for junk.
    doc = yaml.safe_load(_dump(SEEDS[seed]))  # a deep copy
    done = _mutate(data.draw, doc)
    text = _dump(doc)
    note(f"{seed}: {done}\n{text}")
    # Act / Assert
    _validate(text)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.sampled_from(["strategy", "symbols", "backtest", "data", "streams",
                                                          "mode", "session_name"]), st.data())
def test_a_misspelt_required_key_is_named_with_did_you_mean(seed, key, data):
    # Arrange: one required top-level key misspelt, nothing else changed.
    doc = yaml.safe_load(_dump(SEEDS[seed]))
    typo = _typo(data.draw, key)
    if typo == key or typo in doc:
        return
    doc[typo] = doc.pop(key)
    text = _dump(doc)
    # Act
    with pytest.raises(ConfigError) as caught:
        parse_session_config(text, NAME, BASE_DIR)
    # Assert: located at the typo, naming both the unknown key and the field it stands for.
    _check_error(caught.value, text)
    message = str(caught.value)
    assert f"unknown key {typo!r}" in message or f"{typo}: unknown field" in message, message
    assert f"'{key}'" in message, message


_TEXT_EDITS = st.sampled_from(["insert", "delete", "duplicate_line", "swap_lines", "truncate", "indent", "char"])
_NOISE = st.one_of(
    st.text(max_size=8),
    st.sampled_from([":", "-", "- ", "[", "]", "{", "}", "#", "&a", "*a", "!", "|", ">", "'", '"', "%", "@", "`",
                     "\t", "\n", "  ", ": :", "? ", "<<: *a", "!!binary", "\\", "\ufeff", "\x85", "\u2028"]),
)


@FUZZ
@given(st.sampled_from(sorted(TEXTS)), st.lists(st.tuples(_TEXT_EDITS, st.integers(0, 10**6), _NOISE),
                                                min_size=1, max_size=4))
def test_randomly_edited_yaml_text_loads_or_fails_on_one_located_line(seed, edits):
    # Arrange: the shipped file's text (comments included) with characters and lines edited at random.
    text = TEXTS[seed]
    for kind, where, noise in edits:
        lines = text.split("\n")
        i, k = where % (len(text) + 1), where % max(1, len(lines))
        if kind == "insert":
            text = text[:i] + noise + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + len(noise) + 1:]
        elif kind == "duplicate_line":
            text = "\n".join([*lines[:k + 1], lines[k], *lines[k + 1:]])
        elif kind == "swap_lines":
            j = (k + 1 + len(noise)) % len(lines)
            lines[k], lines[j] = lines[j], lines[k]
            text = "\n".join(lines)
        elif kind == "truncate":
            text = text[:i]
        elif kind == "indent":
            lines[k] = " " * (1 + len(noise)) + lines[k]
            text = "\n".join(lines)
        else:
            text = text[:i] + (noise[:1] or "x") + text[i + 1:]
    # Act / Assert
    _validate(text)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(JUNK_WORDS), max_size=12).map(" ".join)))
def test_random_text_as_a_whole_config_fails_on_one_located_line(text):
    _validate(text)


_BOMB = "".join(f"{k}: &{k} [{', '.join([f'*{p}' if p else '1'] * 10)}]\n"
                for k, p in zip("abcdefgh", ["", *"abcdefg"], strict=True))
HOSTILE = {
    "deep_flow_nesting": ("a: " + "[" * 5000 + "]" * 5000,
                          "fuzz.yaml:1:1: error: invalid YAML: lists or mappings nested too deeply to read"),
    "nesting_past_the_limit": ("a: " + "[" * 60 + "]" * 60, "fuzz.yaml:1:54: error: a[0][0]"),
    "alias_bomb": (_BOMB, "fuzz.yaml:1:35: error: e[7][8][8][8][9]: expected a session config, received more "
                          "than 100,000 values"),
    "huge_integer": ("session_name: " + "7" * 5000, "fuzz.yaml:1:15: error: session_name: cannot read the value "
                                                     "'777777777777777777777777777777777777777777777777777777777'..."),
    "recursive_alias": ("a: &a [*a]", "fuzz.yaml:1:4: error: a[0]: a recursive YAML alias"),
    "many_keys": ("\n".join(f"k{i}: {i}" for i in range(5000)), "fuzz.yaml:1:1: error: k0: unknown field"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_documents_fail_fast_on_one_located_line(case):
    text, start = HOSTILE[case]
    with pytest.raises(ConfigError) as caught:
        parse_session_config(text, NAME, BASE_DIR)
    _check_error(caught.value, text)
    assert str(caught.value).startswith(start), str(caught.value)


_FUZZ_DIR = Path(tempfile.mkdtemp(prefix="fuzz-config-"))  # shared by the examples
atexit.register(shutil.rmtree, _FUZZ_DIR, True)


@FUZZ
@given(
    st.sampled_from(sorted(TEXTS)),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252"]),
    st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=6))),
)
def test_config_files_in_any_encoding_or_with_bad_bytes_load_or_fail_on_one_line(seed, encoding, corruption):
    # Arrange: a file with non-ASCII text, re-encoded, possibly with bytes spliced in.
    text = TEXTS[seed].replace("session_name: ", "session_name: caf\u00e9 ", 1)
    raw = text.encode(encoding, errors="replace")
    if corruption is not None:
        at, junk = corruption
        at %= len(raw) + 1
        raw = raw[:at] + junk + raw[at:]
    path = _FUZZ_DIR / NAME
    path.write_bytes(raw)
    # Act / Assert: loaded from a path, the error names the path as given.
    try:
        load_session_config(path)
    except ConfigError as e:
        message = str(e)
        assert "\n" not in message and message.startswith(f"{path}:") and ": error: " in message, message
        assert e.line is not None, message


# ---------------------------------------------------------------- the real CLI (a few cases)

STRATEGY_MODULE = '''\
from app.strategies.base import Strategy


class Boom(Strategy):
    params = {"x": 1}

    def __init__(self, **params):
        super().__init__(**params)
        raise RuntimeError("cannot reach the broker")
'''

GOOD = """\
session_name: cli
mode: backtest
backtest: {start_date: 2024-07-01, end_date: 2024-07-02}
symbols: [AAPL]
streams: [1m]
data: {store: nowhere}
strategy:
  class: app.strategies.sma_cross:SmaCross
  params: {fast: 5, slow: 20}
"""

CLI_CASES = {
    "misspelt_section": (GOOD.replace("strategy:", "stratgy:"),
                         "cli.yaml:7:1: error: strategy: required field is missing; "
                         "unknown key 'stratgy', did you mean 'strategy'?"),
    "constructor_bug": (GOOD.replace("app.strategies.sma_cross:SmaCross", "fuzz_boom:Boom").replace(
                            "{fast: 5, slow: 20}", "{x: 2}"),
                        "cli.yaml:8:10: error: strategy.class: Boom(x=2) raised RuntimeError: cannot reach the broker"),
    "zero_sessions": (GOOD.replace("2024-07-01", "2024-07-06").replace("2024-07-02", "2024-07-07"),
                      "cli.yaml:3:46: error: backtest.end_date: no XNYS trading day between 2024-07-06 and "
                      "2024-07-07; widen the window to include a trading day"),
    "unknown_param": (GOOD.replace("slow: 20", "slwo: 20"),
                      "cli.yaml:9:21: error: strategy.params.slwo: unknown parameter for SmaCross; "
                      "did you mean 'slow'?"),
    "missing_credentials": (GOOD.replace("mode: backtest", "mode: live") + textwrap.dedent("""\
                                live:
                                  stream_url: ws://127.0.0.1:1/v2/iex
                                  rest_url: http://127.0.0.1:1
                                  key_env: FUZZ_NO_SUCH_KEY_VAR
                                """),
                            "cli.yaml:13:12: error: live.key_env: expected environment variable FUZZ_NO_SUCH_KEY_VAR"),
    "feed_mismatch": (GOOD.replace("mode: backtest", "mode: live") + textwrap.dedent("""\
                          live:
                            stream_url: ws://127.0.0.1:1/v2/sip
                            rest_url: http://127.0.0.1:1
                            feed: iex
                            key_env: HOME
                            secret_env: PATH
                          """),
                      "cli.yaml:13:9: error: live.feed: expected feed one of ['iex', 'sip', 'delayed_sip', 'test'] "
                      "matching the stream URL's last segment, received feed 'iex'"),
    "binary_garbage": (None, "cli.yaml:1:1: error: expected UTF-8 text, received undecodable bytes at offset 0"),
}


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(tmp_path)])}
    for name in ("CI", "FUZZ_NO_SUCH_KEY_VAR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_the_backtest_cli_exits_2_with_one_line_and_no_traceback(tmp_path, case):
    # Arrange
    text, expected = CLI_CASES[case]
    (tmp_path / "fuzz_boom.py").write_text(STRATEGY_MODULE, encoding="utf-8")
    config = tmp_path / "cli.yaml"
    if text is None:
        config.write_bytes(b"\xff\xfe\x00garbage\x80\n")
    else:
        config.write_text(text, encoding="utf-8")
    # Act
    proc = _cli(tmp_path, "-m", "app.backtest", "cli.yaml", "--output", str(tmp_path / "out"))
    # Assert
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(expected), proc.stderr


def test_the_data_cli_without_a_command_prints_its_usage_and_exits_2(tmp_path):
    proc = _cli(tmp_path, "-m", "app.data")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("usage: python -m app.data ")
    assert proc.stderr.splitlines()[1].startswith("error: expected a command: sample, import, fetch or info")


def test_fuzz_seeds_are_dates_not_strings():
    # The structural fuzz keeps YAML types: dates stay dates (so a junk string for one is a type change).
    assert isinstance(SEEDS["demo.yaml"]["backtest"]["start_date"], date)
