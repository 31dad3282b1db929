"""The exit-code contract at the edges (issue 15, item 8): every input file is opened before a byte
is written; closed streams and a reader that goes away are clear errors, never internal ones."""

from __future__ import annotations

import shlex
import subprocess

from tests.support.helpers import installed_command
from tests.support.paths import ROOT

POLICY = str(ROOT / "examples" / "policy.yaml")
CHART = str(ROOT / "examples" / "rendered-chart.yaml")


def shell(command: str) -> subprocess.CompletedProcess:
    program = shlex.quote(installed_command())
    return subprocess.run(["sh", "-c", command.replace("sidecar-policy", program)], check=False, capture_output=True, timeout=60)


def test_an_unreadable_second_file_is_exit_2_with_nothing_written() -> None:
    result = shell(f"sidecar-policy --policy {POLICY} {CHART} /no/such/file")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.decode().count("\n") == 1 and "/no/such/file" in result.stderr.decode()


def test_closed_stdin_is_exit_2() -> None:
    result = shell(f"sidecar-policy --policy {POLICY} <&-")
    assert result.returncode == 2 and b"stdin is closed" in result.stderr


def test_closed_stdout_is_exit_2() -> None:
    result = shell(f"sidecar-policy --policy {POLICY} {CHART} >&-")
    assert result.returncode == 2 and b"stdout is closed" in result.stderr


def test_closed_stderr_never_sends_messages_to_stdout() -> None:
    result = shell(f"printf 'kind: Pod\\nmetadata: [' | sidecar-policy --policy {POLICY} 2>&-")
    assert (result.returncode, result.stdout) == (1, b"")


def test_a_reader_that_goes_away_is_exit_1_with_one_line() -> None:
    # Eight copies of the chart are more than a pipe holds: the writer is still writing when the reader closes.
    process = subprocess.Popen([installed_command(), "--policy", POLICY, *[CHART] * 8],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    assert process.wait(timeout=60) == 1
    assert process.stderr.read().decode().splitlines() == [
        "sidecar-policy: error: stdout was closed before all of the output was written (broken pipe)"]
