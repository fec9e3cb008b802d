"""Turn a SessionConfig back into plain YAML data that loads to an equal SessionConfig."""

from __future__ import annotations

import dataclasses
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from app.config.fields import yaml_fields
from app.config.schema import SessionConfig
from app.store.bar import Interval

__all__ = ["config_to_dict"]


def config_to_dict(config: SessionConfig) -> dict[str, Any]:
    """Return `config` as plain data for ``yaml.safe_dump``: every YAML field, defaults included.

    Dates (also inside ``metadata``) become ISO strings, intervals their labels, paths strings,
    params mappings, so the result is also valid JSON data. Fields whose value is None are left
    out (None is their default). Derived values
    (``base_interval``, ``source_file``) are not written; session indicators carry their interval
    explicitly, which derives the same base interval again.

    Parameters
    ----------
    config : SessionConfig
        A validated config.

    Returns
    -------
    dict
        Loading ``yaml.safe_dump`` of it gives a SessionConfig equal to `config` (``metadata``,
        which equality ignores, comes back with its dates as strings).
    """
    return _section(config)


def _section(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute, key, spec, _ in yaml_fields(type(obj)):
        value = getattr(obj, attribute)
        if value is None:
            continue
        out[key] = spec.dump(value) if spec.dump is not None else _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Interval):
        return value.label
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _section(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
