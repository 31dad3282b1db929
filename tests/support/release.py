"""The release scripts (release/*.py) loaded for tests. release/ is a folder of scripts that import each other
by plain name, as `python release/check.py` allows; here each loads under a prefixed name, with release/
on sys.path only while it loads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
