"""Reading a run's JSON files with one-line errors that name the file and what it should hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_json"]


def read_json(path: Path, what: str, error: type[Exception]) -> Any:
    """Return the JSON in `path`; raise `error` with one line naming the file when it cannot be read.

    Parameters
    ----------
    path : Path
    what : str
        What the file should hold, for the message (``expected <what>``).
    error : type of Exception
        The caller's error class (e.g. RecoverError, ReportError), built from the message.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: not found; expected {what}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise error(f"{path}: not valid JSON ({e}); expected {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot read it ({e.strerror or e}); expected {what}") from None
