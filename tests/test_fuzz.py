"""The fuzz harness runs, briefly, in every test run: it must start, fuzz and find nothing.

Long runs are by hand: `python fuzz/run.py --seconds 1200` (see docs/robustness.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["atheris", "hypothesis"])
def test_the_fuzz_harness_runs_clean_for_a_few_seconds(tmp_path, engine):
    if engine == "atheris":
        pytest.importorskip("atheris")
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--seconds", "8", "--engine", engine, "--work", str(tmp_path), "--seed", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if engine == "atheris":
        assert "Done" in result.stderr and "runs in" in result.stderr
    else:
        assert "no finding" in result.stdout
