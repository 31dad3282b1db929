"""The release version has one source, `__version__` in postrender/__init__.py; this checks every other
place that names it, and moves them all at once.

    python release/version.py                 print the version
    python release/version.py check           every place agrees (exit 1 and one line per place if not)
    python release/version.py check-tag TAG   TAG is v<version> (the release workflow's gate)
    python release/version.py set X.Y.Z       rewrite every place (then add the CHANGELOG section)

Releases are plain X.Y.Z: the same string must be a PEP 440 version (PyPI), a strict semver (Helm 4.2+
refuses anything else in plugin.yaml, helm/helm internal/plugin/metadata.go) and an image tag, and
pre-release spellings differ between the first two (1.0.0rc1 versus 1.0.0-rc.1).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "postrender" / "__init__.py"
RELEASE_VERSION = re.compile(r"\d+\.\d+\.\d+")
_VERSION = r"(?P<version>\d+\.\d+\.\d+[^\s\"'`/)]*?)"


@dataclass(frozen=True)
class Mention:
    """A pattern that names the release version; its `version` group must equal __version__."""

    what: str
    pattern: re.Pattern[str]
    only_in: str | None = None  # a path relative to the root; None: every tracked text file


MENTIONS = (
    Mention("the package version", re.compile(rf'^__version__ = "{_VERSION}"$', re.MULTILINE), "postrender/__init__.py"),
    Mention("the Helm plugin version", re.compile(rf"^version: {_VERSION}$", re.MULTILINE), "helm-plugin/plugin.yaml"),
    # Release artifacts named anywhere (docs, Argo CD manifests, values files).
    Mention("an Argo CD plugin image tag", re.compile(rf"ghcr\.io/sidecar-policy/argocd-cmp:{_VERSION}-helm[34]\b")),
    Mention("a Helm plugin archive", re.compile(rf"sidecar-policy-{_VERSION}\.tgz")),
    Mention("a release download", re.compile(rf"releases/download/v{_VERSION}/")),
    Mention("a pinned PyPI install", re.compile(rf"sidecar-policy=={_VERSION}\b")),
)


def current() -> str:
    match = MENTIONS[0].pattern.search(SOURCE.read_text())
    if match is None:
        raise SystemExit(f"{SOURCE}: no __version__ = \"X.Y.Z\" line")
    return match["version"]


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in listed.decode().split("\0"):
        path = ROOT / name
        # Recorded outputs quote whatever version their inputs carried; the changelog names past releases.
        if name and not name.startswith(("snapshots/", "tests/data/", "tests/cases/", "CHANGELOG.md")) and path.is_file():
            files.append(path)
    return files


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _files_for(mention: Mention, files: list[Path]) -> list[Path]:
    return [ROOT / mention.only_in] if mention.only_in else files


def disagreements(version: str) -> list[str]:
    """One line per place that names another version, or per fixed place that names none."""
    problems = []
    if not RELEASE_VERSION.fullmatch(version):
        problems.append(f"{SOURCE.relative_to(ROOT)}: {version!r} is not a plain X.Y.Z release version")
    files = tracked_text_files()
    for mention in MENTIONS:
        for path in _files_for(mention, files):
            text = _text(path)
            if text is None:
                continue
            found = list(mention.pattern.finditer(text))
            if mention.only_in and not found:
                problems.append(f"{mention.only_in}: {mention.what} is missing")
            for match in found:
                if match["version"] != version:
                    line = text.count("\n", 0, match.start()) + 1
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {mention.what} says {match['version']}, "
                                    f"the package says {version}")
    return problems


def set_version(new: str) -> list[Path]:
    """Rewrite every mention to `new`; the files it changed."""
    if not RELEASE_VERSION.fullmatch(new):
        raise SystemExit(f"{new!r} is not a plain X.Y.Z release version")
    changed = []
    files = tracked_text_files()
    for path in sorted({p for mention in MENTIONS for p in _files_for(mention, files)}):
        text = _text(path)
        if text is None:
            continue
        updated = text
        for mention in MENTIONS:
            if mention.only_in is None or ROOT / mention.only_in == path:
                updated = mention.pattern.sub(lambda m: _replace_version(m, new), updated)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


def _replace_version(match: re.Match[str], new: str) -> str:
    start, end = match.span("version")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + new + whole[end - offset:]


def main(argv: list[str]) -> int:
    version = current()
    if not argv:
        print(version)
        return 0
    if argv == ["check"]:
        problems = disagreements(version)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if len(argv) == 2 and argv[0] == "check-tag":
        if argv[1] != f"v{version}":
            print(f"tag {argv[1]} does not match the package version {version} (expected v{version})", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 2 and argv[0] == "set":
        for path in set_version(argv[1]):
            print(path.relative_to(ROOT))
        print(f"now add a '## [{argv[1]}]' section to CHANGELOG.md", file=sys.stderr)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
