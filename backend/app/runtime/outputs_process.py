"""OutputsProcess: the run's side of the output writer process (`app.runtime.outputs_follower`).

The run's four threads take turns under one GIL, so the run uses one core; encoding its files
(equity.csv's rows, sessions.json, report.txt's blocks, report.html) in a second process uses
another while the run goes on, and leaves only the last session and the page for the end.

- `start` launches the process once the journal exists (a failure to start: None, and the run
  writes its outputs itself).
- `committed` runs on the coordinator thread after each session's commit: one write of a small
  message on a non-blocking pipe (whole or not at all, as every write under ``PIPE_BUF`` bytes).
  A full pipe skips it: the next commit's lengths include it.
- `finish` hands over the summary and waits for the files. Whatever goes wrong there (the
  process died, it failed, it took longer than `FINISH_TIMEOUT_S`) is logged, the process is
  stopped, and `finish` says how far it got: the run then writes what is missing itself, from
  the journal, which is only removed once the files are whole. Nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.timing.stopwatch import Deadline, Stopwatch

__all__ = ["FINISH_TIMEOUT_S", "TMP_DIR", "Finished", "OutputsProcess"]

log = logging.getLogger(__name__)

FINISH_TIMEOUT_S = 600.0
"""How long `finish` waits for the files (a 200-symbol year takes ~20 s) before writing them itself."""

TMP_DIR = ".writer"
"""The writer's folder in the run folder for equity.csv and sessions.json until they are whole."""

_PIPE_BUF = 4096  # (POSIX's minimum: writes up to this size on a pipe are whole or not at all)


@dataclass
class Finished:
    """How far the writer process got: ``files`` (all but report.html are whole), ``page`` (all)."""

    files: bool = False
    page: bool = False
    reply: dict[str, Any] = field(default_factory=dict)


class OutputsProcess:
    """A started output writer process (see the module doc)."""

    def __init__(self, proc: subprocess.Popen[bytes], out_dir: Path, errors: IO[bytes], sw: Stopwatch) -> None:
        self._proc = proc
        self._out_dir = out_dir
        self._errors = errors
        self._sw = sw
        assert proc.stdin is not None and proc.stdout is not None
        self._in = proc.stdin.fileno()
        self._out = proc.stdout
        os.set_blocking(self._in, False)
        self.skipped = 0  # commit messages skipped on a full pipe
        self.broken = False  # the pipe closed: the process died (finish says so)
        self._finished = False  # it answered "page"

    @property
    def pid(self) -> int:
        """The process's id."""
        return self._proc.pid

    @property
    def stdin_fd(self) -> int:
        """The write end of its input pipe (non-blocking)."""
        return self._in

    @classmethod
    def start(cls, out_dir: Path, zone: str, sw: Stopwatch) -> OutputsProcess | None:
        """Launch the writer process for the run in `out_dir` (calendar zone `zone`); None if it cannot start."""
        package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds `app`
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        errors = tempfile.TemporaryFile()
        proc: subprocess.Popen[bytes] | None = None
        try:
            proc = subprocess.Popen(  # our own module, by this interpreter
                [sys.executable, "-m", "app.runtime.outputs_follower", str(out_dir), zone],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env,
                start_new_session=True)  # Ctrl-C at the terminal is the run's to handle, not its
            return cls(proc, out_dir, errors, sw)
        except (OSError, AttributeError, ValueError) as e:  # (no non-blocking pipes off POSIX)
            if proc is not None:
                proc.kill()
                proc.wait()
            errors.close()
            log.warning("output writer process not started (%s): this process writes the outputs", e)
            return None

    def committed(self, lengths: dict[str, int]) -> None:
        """Tell the process the journal's committed lengths (never blocks; see the module doc)."""
        if self.broken:
            return
        data = pickle.dumps(("commit", lengths), protocol=5)
        if len(data) > _PIPE_BUF:  # (a handful of names and ints: never)
            self.skipped += 1
            return
        try:
            os.write(self._in, data)
        except BlockingIOError:
            self.skipped += 1
        except OSError:  # a broken pipe: the process ended; finish() reports how
            self.broken = True

    def finish(self, lengths: dict[str, int], summary: dict[str, Any], began_ns: int | None, before_s: float,
               on_files: Callable[[], None], timeout_s: float | None = None) -> Finished:
        """Hand over the run's end (`lengths`, `summary`, when the outputs began and their time so far)
        and wait for the files.

        `began_ns` is the run's `Stopwatch` reading when its outputs began, if its counter is
        system-wide (`Stopwatch.system_wide`): the process times the outputs from it, so that
        the time it took to catch up with the run counts; else from when it was handed the end,
        plus `before_s`.

        `on_files` runs as soon as every file but the page is whole. Returns how far the process
        got; anything short of the page is logged with the process's own error output.
        """
        done = Finished()
        deadline = self._sw.deadline(FINISH_TIMEOUT_S if timeout_s is None else timeout_s)
        try:
            self._send(pickle.dumps(("finish", lengths, summary, began_ns, before_s), protocol=5), deadline)
            for reply in self._replies(deadline):
                if reply.get("done") == "files":
                    done.files = True
                    on_files()
                elif reply.get("done") == "page":
                    done.page, done.reply = True, reply
                    self._finished = True
                    break
        except (OSError, TimeoutError, ValueError) as e:
            log.warning("output writer process: %s: %s", type(e).__name__, e)
        if not done.page:
            self.stop()
            log.warning("output writer process did not finish (%s; exit code %s)%s", "files written" if done.files
                        else "nothing renamed", self._proc.returncode, self._error_text())
        return done

    def _send(self, data: bytes, deadline: Deadline) -> None:
        view = memoryview(data)
        while view:
            if self.broken:
                raise BrokenPipeError("the process ended before the run's end was handed over")
            if not select.select([], [self._in], [], max(0.0, deadline.remaining_s()))[1]:
                raise TimeoutError("the process took no input")
            try:
                view = view[os.write(self._in, view):]
            except BlockingIOError:
                continue
            except OSError:
                self.broken = True
        os.set_blocking(self._in, True)
        self._proc.stdin.close()  # type: ignore[union-attr]  # end of input: nothing more comes

    def _replies(self, deadline: Deadline) -> Iterator[dict[str, Any]]:
        fd = self._out.fileno()
        pending = b""
        while True:
            if not select.select([fd], [], [], max(0.0, deadline.remaining_s()))[0]:
                raise TimeoutError("no answer in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                return  # the process ended
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield json.loads(line)

    def stop(self, grace_s: float = 0.0) -> None:
        """End the process (if it still runs after `grace_s`) and reap it; idempotent."""
        if grace_s > 0:
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # (a kill is not refused: a process stuck in the kernel)
            log.warning("output writer process %d did not end after a kill", self._proc.pid)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Reap the process after `finish` (it exits right after its last answer; stopped if it
        still runs a moment later, or at once before that), remove what it left unfinished, and
        drop its error output."""
        self.stop(grace_s=2.0 if self._finished else 0.0)
        shutil.rmtree(self._out_dir / TMP_DIR, ignore_errors=True)
        self._errors.close()

    def _error_text(self) -> str:
        try:
            self._errors.seek(0)
            text = self._errors.read(4000).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return f":\n{text}" if text else ""
