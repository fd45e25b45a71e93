"""Processes: each started in its own session, so that one killpg reaches nginx's and gunicorn's
workers too, and so that leftovers can be found by session id after the fact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from confgen.errors import ConfgenError

STOP_TIMEOUT_S = 10.0


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a process's log, on one line: for the error when the process fails."""
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def sessions_alive(session_ids: set[int]) -> list[tuple[int, int, str]]:
    """(pid, session, command) of every live process whose session is one of ``session_ids``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ")".
        fields = stat[stat.rindex(")") + 2:].split()
        state, session = fields[0], int(fields[3])
        if session in session_ids and state != "Z":
            command = stat[stat.index("(") + 1:stat.rindex(")")]
            found.append((int(entry), session, command))
    return found


class ProcessRegistry:
    """Every process the harness starts, so that all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []
        self.sessions: list[int] = []

    def start(self, argv: list[str], *, log_path: Path, env: dict | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        with open(log_path, "ab") as log_file:
            try:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                           stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                           start_new_session=True)
            except OSError as error:
                raise ConfgenError(f"cannot start {argv[0]}: {error.strerror}") from None
        self._running.append(process)
        self.sessions.append(process.pid)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """Signal the whole session, wait, then SIGKILL whatever is still in it."""
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while (left := sessions_alive({process.pid})) and time.monotonic() < deadline:
            for pid, _, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        if process.poll() is None:
            process.wait()
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            self.stop(process)

    def leftovers(self) -> list[tuple[int, int, str]]:
        return sessions_alive(set(self.sessions))
