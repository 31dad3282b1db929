"""Regular expressions compiled on first use, for patterns a usual run never needs.

Python compiles a pattern in Python (re._parser, re._compiler): a few hundred thousand instructions
each, a few percent of a post-render run's start-up for the half dozen patterns that only errors,
--kube-version, workloadKinds or aliases need (docs/performance.md). A module-level pattern that
a usual run uses gains nothing from this; one that it rarely uses is `compiled_on_use(...)`.
The stand-in serves the Pattern's methods and attributes (`.search`, `.pattern` ...), not
isinstance(..., re.Pattern) nor re.sub(stand_in, ...): call its methods.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AnyStr


class CompiledOnFirstUse:
    """Stands in for a compiled pattern; compiles it when it is first used."""

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str) -> object:
        attribute = getattr(re.compile(self.pattern, self.flags), name)
        setattr(self, name, attribute)  # found directly from now on
        return attribute


def compiled_on_use(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """re.compile(pattern, flags), done when the pattern is first used."""
    return CompiledOnFirstUse(pattern, flags)  # type: ignore[return-value]
