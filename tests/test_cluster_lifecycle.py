"""Nothing of the local cluster outlives it: `./dev cluster down`, the fixture's teardown after a
failing test, and a test session killed outright each leave no process behind.

A process is ours when its command line names the cluster's state folder (every component gets
`--dir STATE/...`). Each case starts a cluster of its own, in a folder of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.slow
START = 400.0  # seconds for a whole start, builds included (bounded all the same)


def processes_naming(folder: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # it exited while we looked
        if any(str(folder).encode() in arg for arg in args) and cmdline.parent.name != str(os.getpid()):
            found.append(f"{cmdline.parent.name}: {b' '.join(args).decode(errors='replace')}")
    return found


def gone(folder: Path, timeout: float = 20.0) -> list[str]:
    """The processes still naming `folder` once `timeout` has passed (none, the moment they are gone)."""
    deadline = time.monotonic() + timeout
    while (left := processes_naming(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_cluster_up_prints_a_kubeconfig_and_down_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = subprocess.run([str(ROOT / "dev"), "cluster", "--state", str(state), "up"], capture_output=True, text=True,
                        timeout=START, check=False)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        last = up.stdout.strip().splitlines()[-1]
        assert last.startswith("export KUBECONFIG=")
        kubeconfig = last.removeprefix("export KUBECONFIG=")
        assert processes_naming(state)
        seen = subprocess.run(["kubectl", "get", "namespace", "default", "-o", "name"], capture_output=True, text=True,
                              env={**os.environ, "KUBECONFIG": kubeconfig}, timeout=60, check=False)
        assert seen.stdout.strip() == "namespace/default", seen.stderr
        again = subprocess.run([str(ROOT / "dev"), "cluster", "--state", str(state), "up"], capture_output=True,
                               text=True, timeout=START, check=False)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        down = subprocess.run([str(ROOT / "dev"), "cluster", "--state", str(state), "down"], capture_output=True,
                              text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert gone(state, timeout=0) == []
    assert not state.exists()


FAILING_TEST = '''
def test_fails_with_a_cluster_running(cluster):
    assert cluster.admitted_form(cluster.namespace()) == "native"
    assert False, "failing on purpose"
'''

KILLED_TEST = '''
import time
from pathlib import Path

def test_waits_to_be_killed(cluster):
    Path({marker!r}).write_text("started")
    time.sleep(600)
'''


def inner_session(tmp_path: Path, source: str) -> tuple[list[str], Path]:
    """A pytest run of `source` with this checkout's conftest, its temporary files under tmp_path/base."""
    (tmp_path / "test_inner.py").write_text(source)
    base = tmp_path / "base"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
               f"--basetemp={base}", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")]
    return command, base


def test_the_fixture_stops_everything_after_a_failing_test(tmp_path: Path) -> None:
    command, base = inner_session(tmp_path, FAILING_TEST)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=START, check=False)
    assert result.returncode == 1 and "failing on purpose" in result.stdout, result.stdout[-3000:]
    assert gone(base, timeout=0) == []


def test_a_killed_session_leaves_nothing_running(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    command, base = inner_session(tmp_path, KILLED_TEST.format(marker=str(marker)))
    session = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START
        while not marker.exists() and session.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the inner session never had its cluster"
        assert processes_naming(base)
    finally:
        session.send_signal(signal.SIGKILL)
        session.wait(timeout=30)
    assert gone(base) == []
