"""PyYAML, imported without compiling the one pattern sidecar-policy never uses.

At import, yaml/reader.py compiles NON_PRINTABLE, a character class over all of Unicode, for its
pure-Python Reader: about a fifth of a post-render run's start-up (instructions counted with
valgrind). sidecar-policy reads YAML only through libyaml (yaml.CParser and CSafeLoader), which
never touches it. So while PyYAML is imported, re.compile hands it a stand-in that compiles the
real pattern on first use: a pure-Python Reader, if anything in the process makes one, works as
before. The stand-in goes through re's cache of compiled patterns, which re.compile consults
first on CPython 3.10 to 3.13; where that cache is missing, PyYAML compiles as usual.
"""

from __future__ import annotations

import re
import sys
from typing import Any

NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class CompiledOnFirstUse:
    """Looks like the compiled pattern; compiles it when it is first used."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __getattr__(self, name: str) -> Any:
        return getattr(re.compile(self.pattern), name)


def _import_yaml() -> None:
    cache = getattr(re, "_cache", None)
    key = (str, NON_PRINTABLE, 0)
    if "yaml" in sys.modules or not isinstance(cache, dict) or key in cache:
        return
    cache[key] = CompiledOnFirstUse(NON_PRINTABLE)
    try:
        import yaml  # noqa: F401
    finally:
        if isinstance(cache.get(key), CompiledOnFirstUse):
            del cache[key]


_import_yaml()
