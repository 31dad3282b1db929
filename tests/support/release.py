"""The release scripts (release/*.py) loaded for tests, and the linters the release checks run. release/ is a folder of scripts that import each other
by plain name, as `python release/check.py` allows; here each loads under a prefixed name, with release/
on sys.path only while it loads."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

RELEASE = Path(__file__).resolve().parents[2] / "release"


def release_module(name: str) -> ModuleType:
    """release/<name>.py as the module `release_<name>` (loaded once)."""
    qualified = f"release_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, RELEASE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up while the class is made
    sys.path.insert(0, str(RELEASE))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RELEASE))
    return module


def linter(name: str, package: str) -> Path:
    """A linter that a test-extra package installs beside this Python (or one on PATH); without it a skip that
    names the package, a failure under CI."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        message = f"{name} is not installed (the test extra's {package} has wheels for Linux x86-64 only)"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must run it", pytrace=False)
        pytest.skip(message)
    return Path(found)
