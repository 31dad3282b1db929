"""Instructions a run executes, counted by valgrind: a start-up figure that the machine's load does not move.

Wall time on a shared machine swings with other work; the instruction count of the same run barely
changes (a few in a million). It is not time (a cache miss costs more than an add), so the benchmark
reports both, each against `python -c pass` of the same interpreter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

VALGRIND = shutil.which("valgrind")


def count(argv: list[str], stdin: Path) -> int | None:
    """Instructions of one run of argv (its children too) with stdin from a file; None without valgrind."""
    if VALGRIND is None:
        return None
    with stdin.open("rb") as source:
        done = subprocess.run([VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=yes",
                               *argv], stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    collected = [int(figure.replace(b",", b"")) for figure in re.findall(rb"Collected : ([\d,]+)", done.stderr)]
    if done.returncode != 0 or not collected:
        raise subprocess.CalledProcessError(done.returncode, argv, stderr=done.stderr[-2000:])
    return sum(collected)
