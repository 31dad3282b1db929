"""core/_pyyaml.py: PyYAML imported without compiling its pure-Python reader's pattern, and nothing else changed."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import re, sys
assert "yaml" not in sys.modules
import postrender.core
import yaml
from postrender.core import _pyyaml

# The stand-in is in place: the costly pattern was not compiled at import.
assert isinstance(yaml.reader.Reader.NON_PRINTABLE, _pyyaml.CompiledOnFirstUse)
# PyYAML's pure-Python reader still refuses what it refused, at the same character.
try:
    yaml.load("a: b\\x07", Loader=yaml.SafeLoader)
except yaml.reader.ReaderError as error:
    assert (error.character, error.position) == (7, 4), error
else:
    raise AssertionError("a non-printable character was accepted")
# Anyone else compiling the same pattern gets the real thing.
assert isinstance(re.compile(_pyyaml.NON_PRINTABLE), re.Pattern)
"""


def test_pyyaml_is_imported_without_its_reader_pattern_and_reads_as_before():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
