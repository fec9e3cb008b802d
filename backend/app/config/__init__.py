"""Session config: one YAML file read into a typed, frozen SessionConfig.

``load_session_config`` parses the YAML with marks (``yaml_source``), checks every field
declared in ``schema``/``sections`` (each field's check sits next to it, in dataclass metadata:
``fields``, ``checks``, ``list_checks``, ``indicator_specs``), applies the
cross-field rules (``rules``) and raises ``ConfigError`` for the first problem in the file,
as ``file:line:col: error: field: expected ..., received ...``. ``config_to_dict`` writes a
config back as plain data that loads to an equal config. This package imports only
``app.errors``, ``app.store.bar`` and, lazily, ``app.timing.calendar`` (calendar names) and
``app.indicators.registry`` (indicator names); no threads, no clock.
"""

from __future__ import annotations

from pathlib import Path

from app.config.dump import config_to_dict
from app.config.schema import (
    BacktestConfig,
    DataConfig,
    GapFillerConfig,
    HistoricalConfig,
    HistoricalData,
    IndicatorSpec,
    LiveConfig,
    Mode,
    RunConfig,
    SessionConfig,
    StrategySpec,
    TradingLimits,
)
from app.config.validate import build_session_config
from app.config.yaml_source import read_yaml
from app.errors import ConfigError

__all__ = [
    "BacktestConfig",
    "DataConfig",
    "GapFillerConfig",
    "HistoricalConfig",
    "HistoricalData",
    "IndicatorSpec",
    "LiveConfig",
    "Mode",
    "RunConfig",
    "SessionConfig",
    "StrategySpec",
    "TradingLimits",
    "config_to_dict",
    "load_session_config",
    "parse_session_config",
]


def load_session_config(path: str | Path) -> SessionConfig:
    """Read and validate the session config at `path`.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file; relative paths inside it are resolved against its directory.

    Returns
    -------
    SessionConfig
        The validated config; ``source_file`` is `path` as given.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not valid YAML, or a field is missing, unknown or invalid
        (the message gives ``file:line:col``, the field and what was expected).
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the session config: {e.strerror or e}", file=file) from e
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() would
    except UnicodeDecodeError as e:
        before = raw[: e.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise ConfigError(
            f"expected UTF-8 text, received undecodable bytes at offset {e.start}",
            file=file, line=line, column=column, hint="save the file as UTF-8",
        ) from e
    return parse_session_config(text, file, Path(path).parent)


def parse_session_config(text: str, file: str, base_dir: Path) -> SessionConfig:
    """Validate the session config in `text` (as if read from `file`, which names it in messages).

    Parameters
    ----------
    text : str
        YAML source.
    file : str
        Name used in error messages and stored as ``source_file``.
    base_dir : pathlib.Path
        Directory relative paths are resolved against.

    Returns
    -------
    SessionConfig

    Raises
    ------
    ConfigError
        As for ``load_session_config``.
    """
    data, source = read_yaml(text, file)
    return build_session_config(data, source, Path(base_dir))
