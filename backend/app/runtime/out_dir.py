"""The output folder of a run or a sweep: made, and checked writable, before any work starts."""

from __future__ import annotations

from pathlib import Path

__all__ = ["folder_problem"]


def folder_problem(out_dir: Path, name: str, files: str) -> str | None:
    """Make `out_dir` and check it takes files; return one error line, or None when it can be used.

    Parameters
    ----------
    out_dir : Path
        The folder (made with its parents when missing).
    name : str
        How the line names it, e.g. ``--output runs/x``.
    files : str
        What goes there, for the line: e.g. ``the run's files``.
    """
    if out_dir.exists() and not out_dir.is_dir():
        return f"{name}: error: is a file; expected a folder for {files}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"{name}: error: cannot write {files} there ({e.strerror or e}); expected a writable folder"
    return None
