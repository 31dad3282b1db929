"""The documentation: the README is a door to docs/*.md, and docs/ builds as a site with no warning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

DOCS = ROOT / "docs"


def test_the_site_builds_strictly(tmp_path):
    """Sphinx with every warning an error: a link to a missing page or heading fails the build."""
    command = [str(Path(sys.executable).parent / "sphinx-build"), "-W", "--keep-going", "-n", "-q", "-E",
               "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "index.html").is_file()
    for page in _pages():
        assert (tmp_path / "html" / f"{page.stem}.html").is_file(), f"{page.name} is not in the site's toctree"


def test_the_readme_is_a_door_to_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250, "the README is a door: move details into a docs page"
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)(?:#[\w-]+)?\)", readme))
    assert linked == {page.name for page in _pages()}


def test_readme_links_to_files_resolve():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text()):
        assert (ROOT / target).exists(), target


def _pages() -> list[Path]:
    return [page for page in sorted(DOCS.glob("*.md")) if page.name != "index.md"]
