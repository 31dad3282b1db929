"""Sphinx configuration for the documentation site: the README as its home page, docs/*.md as its pages.

Built strictly by tests/test_docs.py (and `./dev docs`): every warning is an error, so a broken link
to a page or a heading fails the build.
"""

project = "sidecar-policy"
author = "sidecar-policy maintainers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3  # `page.md#a-heading` links resolve, and a wrong one is a warning
nitpicky = True
html_theme = "alabaster"
html_title = "sidecar-policy"
