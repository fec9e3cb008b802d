"""``python -m app.backtest --replay RUN_DIR``: replay a recorded run and diff every decision.

Two runs of the same pipeline (data-driven, `threads/replay_step_source.py`) over the run's
``recording/``: the *replay* (the recorded steps with the bars each held: a live run's decisions
must come back identical) and the *backtest* (a plain backtest over the bars as a store holds
them after the session: restatements applied, late and REST-filled bars in place). Each writes
its usual files (the replay in the output folder, the backtest in ``backtest/`` under it); the
comparison goes to ``parity.json`` and a "Parity" section at the end of ``report.txt``
(`app.metrics.parity`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.config import SessionConfig, load_session_config
from app.metrics.parity import (
    cause_of,
    decisions,
    input_differences,
    parity_block,
    parity_section,
    shown_bars,
)
from app.recording.reader import Recording, RecordingError, load_recording
from app.store.bar import parse_interval
from app.timing.time_manager import TimeManager

__all__ = ["compare", "replay_config", "replay_run"]


def replay_config(run_dir: Path, recording: Recording, bars: str, out_dir: Path) -> SessionConfig:
    """The recorded run's resolved config as a data-driven replay of its recording (written to
    ``out_dir/replay_config.yaml`` and loaded from there, so errors name that file)."""
    resolved = run_dir / "config.resolved.json"
    try:
        cfg: dict[str, Any] = json.loads(resolved.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{resolved}: not found; expected the resolved config every run writes") from None
    except ValueError as e:
        raise RecordingError(f"{resolved}: not valid JSON ({e}); expected the run's resolved config") from None
    sessions = [s.session for s in recording.sessions()]
    cfg["mode"] = "backtest"
    cfg["backtest"] = {"start_date": sessions[0].isoformat(), "end_date": sessions[-1].isoformat(),
                       "speed_multiplier": 0}
    for live_only in ("live", "broker"):  # the replay reads no feed and sends no order
        cfg.pop(live_only, None)
    cfg["run"] = {**cfg.get("run", {}), "record": False, "replay": str(recording.folder.resolve()),
                  "replay_bars": bars}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "replay_config.yaml"
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    return load_session_config(path)


def compare(live: Recording, replay: Recording | None, backtest: Recording | None) -> dict[str, Any]:
    """parity.json's content: the live decisions against the replay's and the backtest's."""
    tm = TimeManager(live.meta["calendar"])
    base_ns = parse_interval(live.meta["base_interval"]).ns

    def fmt(ts_ns: int) -> str:
        return tm.to_local(ts_ns).isoformat()

    shown, mine = shown_bars(live), decisions(live)
    cause = cause_of(live)
    out: dict[str, Any] = {"recording": str(live.folder), "mode": live.meta.get("mode")}
    for name, other in (("replay", replay), ("backtest", backtest)):
        if other is not None:
            inputs = input_differences(shown, shown_bars(other), base_ns, cause)
            out[name] = {"bars": "recorded" if name == "replay" else "final",
                         **parity_block(mine, decisions(other), inputs, name, fmt)}
    return out


def replay_run(run_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Replay `run_dir`'s recording into `out_dir` (and the final-bars backtest into
    ``out_dir/backtest``); write parity.json and the report's Parity section; return the parity.

    Raises
    ------
    RecordingError
        If `run_dir` holds no readable recording or resolved config.
    ConfigError, AppError, KeyboardInterrupt
        As `app.runtime.run.run` (the runs' own failures).
    """
    from app.runtime.run import run

    live = load_recording(run_dir / "recording")
    if not live.sessions():
        raise RecordingError(f"{run_dir / 'recording'}: holds no session; expected a run that published a step")
    run(replay_config(run_dir, live, "recorded", out_dir), out_dir)
    backtest_dir = out_dir / "backtest"
    run(replay_config(run_dir, live, "final", backtest_dir), backtest_dir)
    parity = compare(live, load_recording(out_dir / "recording"), load_recording(backtest_dir / "recording"))
    tmp = out_dir / "parity.json.tmp"
    tmp.write_text(json.dumps(parity, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / "parity.json")
    report = out_dir / "report.txt"
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    tmp = report.with_name("report.txt.tmp")
    tmp.write_text(text.rstrip("\n") + "\n\n" + parity_section(parity), encoding="utf-8")
    os.replace(tmp, report)
    return parity
