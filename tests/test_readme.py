"""The README tells the truth: its Quick start is what CI runs, and its example does what it says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["./dev example", "./dev test"]
    assert "./dev test" in (ROOT / ".ci/run").read_text()


def test_the_example_command_shows_the_policy_at_work():
    result = subprocess.run([str(ROOT / "dev"), "example"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    added = [line for line in result.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added.count('+        sidecar.istio.io/nativeSidecar: "true"') == 2  # the two hook Jobs
    assert added.count('+        sidecar.istio.io/nativeSidecar: "false"') == 1  # the controller
