"""Validate parsed YAML into a SessionConfig: every field is checked, the first error in the file is raised."""

from __future__ import annotations

from dataclasses import MISSING, Field
from pathlib import Path
from typing import Any, Final

from app.config.fields import UNSET, FieldError, FieldSpec, Section, SectionList, did_you_mean, show, yaml_fields
from app.config.problems import BAD, Problems
from app.config.rules import apply_rules
from app.config.schema import SessionConfig
from app.config.yaml_source import FieldPath, SourceMap
from app.errors import ConfigError

__all__ = ["build_session_config"]

# Top-level names of the replaced system's config, with where the setting lives now.
_RENAMED: Final = {
    "backtest_config": "use 'backtest:'",
    "session_data_config": "its fields moved to the top level (symbols, streams, historical, indicators, gap_filler)",
    "trading_config": "use 'trading:' (max_buying_power is now starting_cash)",
    "api_config": "use 'live:' (provider, stream_url, rest_url, key_env, secret_env)",
    "strategies": "use one 'strategy:' mapping with 'class' and 'params'",
}


def build_session_config(data: Any, source: SourceMap, base_dir: Path) -> SessionConfig:
    """Return the SessionConfig for parsed YAML `data`.

    Parameters
    ----------
    data : object
        The document as plain values (from ``read_yaml``).
    source : SourceMap
        Where each value was written; its ``file`` names the config in messages.
    base_dir : pathlib.Path
        Directory that relative paths (``data.store``) are resolved against.

    Raises
    ------
    ConfigError
        For the first problem in document order: a missing or unknown field, a wrong type, a value
        out of range, or a broken cross-field rule.
    """
    problems = Problems(source)
    if not isinstance(data, dict):
        received = "an empty document" if data is None else show(data)
        raise ConfigError(
            f"expected a mapping of session config fields, received {received}",
            file=source.file, line=source.locate(()).line, column=source.locate(()).column,
        )
    values = _read_fields(problems, SessionConfig, (), data)
    apply_rules(problems, values, base_dir)
    first = problems.first()
    if first is not None:
        raise first
    return SessionConfig(source_file=source.file, source_map=source, **values)


def _read_fields(problems: Problems, cls: type, path: FieldPath, raw: dict[str, Any]) -> dict[str, Any]:
    """Return ``{attribute: value}`` for the YAML fields of `cls` in `raw`; invalid ones are BAD (and recorded)."""
    fields = yaml_fields(cls)
    known = [key for _, key, _, _ in fields]
    for key in raw:
        if key not in known:
            renamed = _RENAMED.get(key) if not path else None
            hint = renamed or did_you_mean(key, known) or "expected one of " + ", ".join(repr(k) for k in known)
            problems.unknown((*path, key), hint, pairable=renamed is None)
    values: dict[str, Any] = {}
    for attribute, key, spec, f in fields:
        if key in raw:
            values[attribute] = _read_value(problems, spec.check, (*path, key), raw[key])
        else:
            values[attribute] = _absent(problems, (*path, key), spec, f)
    return values


def _absent(problems: Problems, path: FieldPath, spec: FieldSpec, f: Field[Any]) -> Any:
    if spec.missing is not UNSET:
        return spec.missing
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    problems.missing(path)  # paired with a misspelt key beside it, if there is one
    return BAD


def _read_value(problems: Problems, check: Any, path: FieldPath, raw: Any) -> Any:
    if isinstance(check, Section):
        if raw is None and check.optional:
            return None
        return _read_section(problems, check.cls, path, raw)
    if isinstance(check, SectionList):
        return _read_list(problems, check, path, raw)
    try:
        return check(raw)
    except FieldError as e:
        problems.add((*path, *e.subpath), e.message, hint=e.hint)
        return BAD


def _read_section(problems: Problems, cls: type, path: FieldPath, raw: Any) -> Any:
    if not isinstance(raw, dict):
        names = ", ".join(key for _, key, _, _ in yaml_fields(cls))
        problems.add(path, f"expected a mapping with fields {names}, received {show(raw)}")
        return BAD
    values = _read_fields(problems, cls, path, raw)
    if any(value is BAD for value in values.values()):
        return BAD
    return cls(**values)


def _read_list(problems: Problems, check: SectionList, path: FieldPath, raw: Any) -> Any:
    if not isinstance(raw, list):
        problems.add(path, f"expected a list of mappings, received {show(raw)}", hint="start each entry with '- '")
        return BAD
    items = []
    for i, item in enumerate(raw):
        value = _read_section(problems, check.cls, (*path, i), item)
        if value is not BAD and check.item_check is not None:
            try:
                value = check.item_check(value)
            except FieldError as e:
                problems.add((*path, i, *e.subpath), e.message, hint=e.hint)
                value = BAD
        items.append(value)
    return BAD if any(item is BAD for item in items) else tuple(items)
