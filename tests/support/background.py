"""Background processes that outlive one call: started here, recorded in a state folder, stopped by id.

Each process runs in a session of its own (so a terminal's Ctrl-C does not reach it), writes its
output to STATE/NAME.log and its pid and start time to STATE/NAME.pid, so another process (`./dev
cluster down`) can stop exactly it later, and a pid the system has since reused is never signalled.
`tied=True` also has the kernel end it when the starting thread dies (PR_SET_PDEATHSIG): a test
session killed outright leaves nothing running.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A component did not come up; the message ends with the tail of its log."""


def log_path(state: Path, name: str) -> Path:
    return state / f"{name}.log"


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return None if fields[0] == "Z" else fields[19]


def _die_with_parent(parent: int) -> Callable[[], None]:
    def prepare() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the call
            os.kill(os.getpid(), signal.SIGTERM)
    return prepare


def spawn(state: Path, name: str, args: Sequence[str], env: Mapping[str, str] | None = None,
          tied: bool = False) -> subprocess.Popen:
    """Start `args` in the background as component `name` of `state`."""
    state.mkdir(parents=True, exist_ok=True)
    with open(log_path(state, name), "ab") as log:
        process = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()) if tied else None,
        )
    (state / f"{name}.pid").write_text(f"{process.pid} {_start_time(process.pid)}\n")
    return process


def wait_until(ready: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen, log: Path) -> None:
    """Poll `ready` until it holds; fail at once if the process exits, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise StartError(f"{what}: the process exited with {process.returncode}; the end of {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise StartError(f"{what}: not ready after {timeout:.0f} s; the end of {log}:\n{tail(log)}")
        time.sleep(0.1)


def recorded(state: Path) -> dict[str, int]:
    """The components of `state` still running, by name (a reused pid does not count)."""
    alive = {}
    for pid_file in sorted(state.glob("*.pid")):
        pid_text, _, started = pid_file.read_text().strip().partition(" ")
        pid = int(pid_text)
        if _start_time(pid) == started:
            alive[pid_file.stem] = pid
    return alive


def stop(state: Path, name: str, timeout: float = STOP_TIMEOUT) -> None:
    """Stop component `name` (its whole process group), SIGTERM first, SIGKILL after `timeout` s."""
    pid = recorded(state).get(name)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, timeout)
    (state / f"{name}.pid").unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # the group it leads (start_new_session), so its children too
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reaps it when it is our child
        except ChildProcessError:
            pass
        if _start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False
