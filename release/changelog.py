"""Release notes from CHANGELOG.md (Keep a Changelog: one `## [X.Y.Z] - date` section per release).

    python release/changelog.py X.Y.Z    print that section's body (the GitHub release's notes); exit 1 if absent
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\].*$", re.MULTILINE)


def section(version: str, text: str | None = None) -> str | None:
    """The body under `## [version]`, up to the next `## ` heading; None when there is no such section."""
    text = CHANGELOG.read_text(encoding="utf-8") if text is None else text
    headings = list(_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading["version"] == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
            # Link references ([0.1.0]: https://...) at the end belong to no section.
            body = re.split(r"^\[[^\]]+\]: ", text[heading.end():end], maxsplit=1, flags=re.MULTILINE)[0]
            return body.strip() + "\n"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    body = section(argv[0])
    if body is None:
        print(f"CHANGELOG.md has no '## [{argv[0]}]' section", file=sys.stderr)
        return 1
    sys.stdout.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
