"""Run a command on a file several times: wall time and peak RSS of that one child, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Repeating a run that already takes this long adds minutes, not precision.
SLOW_RUN_SECONDS = 10.0
SLOW_RUN_REPEAT = 3


class BenchError(Exception):
    """A command under measurement failed: the benchmark is broken, not slow."""


@dataclass
class Measurement:
    label: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    estimated: bool = False  # extrapolated from smaller runs, not run at this size
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_rss_kib(self) -> int:
        return int(statistics.median(self.peak_rss_kib))


def run_once(argv: list[str], stdin: Path, cwd: Path | None = None, output: Path | None = None) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one run; os.wait4 reports the rusage of exactly this child."""
    with stdin.open("rb") as source, open(output or os.devnull, "wb") as sink, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdin=source, stdout=sink, stderr=errors, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace").strip()
            raise BenchError(f"{' '.join(argv)} < {stdin} exited {child.returncode}: {tail}")
    return elapsed, usage.ru_maxrss  # ru_maxrss is in KiB on Linux


def measure(label: str, argv: list[str], stdin: Path, repeat: int, cwd: Path | None = None,
            output: Path | None = None) -> Measurement:
    """Median over `repeat` runs after one warm-up (page cache, .pyc files); a slow warm-up counts as a run.

    The warm-up's stdout goes to `output` when given (to check what the command did), else to /dev/null.
    """
    result = Measurement(label)
    seconds, rss = run_once(argv, stdin, cwd, output)
    if seconds > SLOW_RUN_SECONDS:
        repeat = min(repeat, SLOW_RUN_REPEAT)
        result.seconds.append(seconds)
        result.peak_rss_kib.append(rss)
    while len(result.seconds) < repeat:
        seconds, rss = run_once(argv, stdin, cwd)
        result.seconds.append(seconds)
        result.peak_rss_kib.append(rss)
        if seconds > SLOW_RUN_SECONDS:
            repeat = min(repeat, SLOW_RUN_REPEAT)
    return result
