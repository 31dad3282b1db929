"""The lint CI runs: ruff (style), mypy (types, strict), lint-imports (the layers), each from this environment.

CI runs exactly `./dev test`, so the lint runs here; `./dev lint` runs the same three for people.
Their configuration is in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

BIN = Path(sys.executable).parent
LINTERS = {
    "ruff": ["ruff", "check", "postrender", "tests", "bench", "fuzz"],
    "mypy": ["mypy"],  # the packages in [tool.mypy]
    "import-linter": ["lint-imports"],
}


@pytest.mark.parametrize("name", LINTERS)
def test_lint_is_clean(name):
    command = [str(BIN / LINTERS[name][0]), *LINTERS[name][1:]]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(LINTERS[name])} failed:\n{result.stdout}{result.stderr}"
