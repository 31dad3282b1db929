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
# A run this short is mostly process start-up, where scheduling noise from other work is largest.
SHORT_RUN_SECONDS = 1.0
SHORT_RUN_REPEAT_FACTOR = 3


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


class BenchError(Exception):
    """A command under measurement failed: the benchmark is broken, not slow."""


@dataclass
class Measurement:
    label: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # user + system
    estimated: bool = False  # extrapolated from smaller runs, not run at this size
    note: str = ""

    def add(self, seconds: float, peak_rss_kib: int, cpu_seconds: float) -> None:
        self.seconds.append(seconds)
        self.peak_rss_kib.append(peak_rss_kib)
        self.cpu_seconds.append(cpu_seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_rss_kib(self) -> int:
        return int(statistics.median(self.peak_rss_kib))


@dataclass(frozen=True)
class Command:
    label: str
    argv: list[str]
    stdin: Path
    output: Path | None = None  # where the warm-up's stdout goes (to check what it did); else /dev/null
    env: dict[str, str] | None = None  # the environment it runs in; else this one


def run_once(argv: list[str], stdin: Path, output: Path | None = None,
             env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Seconds, peak RSS (KiB) and CPU seconds of one run.

    A forked child's ru_maxrss starts at its parent's size (this benchmark's), so when GNU time is
    there it runs the command and reports the peak of the command alone.
    """
    with stdin.open("rb") as source, open(output or os.devnull, "wb") as sink, \
            tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        wrapper = [GNU_TIME, "-o", peak.name, "-f", "%M"] if GNU_TIME else []
        started = time.perf_counter()
        child = subprocess.Popen(wrapper + argv, stdin=source, stdout=sink, stderr=errors, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace").strip()
            raise BenchError(f"{' '.join(argv)} < {stdin} exited {child.returncode}: {tail}")
        rss = int(peak.read().split()[-1]) if GNU_TIME else usage.ru_maxrss  # both in KiB on Linux
    return elapsed, rss, usage.ru_utime + usage.ru_stime


def measure_together(commands: list[Command], repeat: int) -> list[Measurement]:
    """Medians of `repeat` runs each, taken in rounds (A B C, A B C, ...) so that other work on the
    machine falls on every command alike. One warm-up each first (page cache, .pyc files); a run
    over SLOW_RUN_SECONDS limits its command to SLOW_RUN_REPEAT runs, and a slow warm-up counts;
    a warm-up under SHORT_RUN_SECONDS asks for SHORT_RUN_REPEAT_FACTOR times the runs."""
    results = [Measurement(command.label) for command in commands]
    wanted = [repeat] * len(commands)
    for number, command in enumerate(commands):
        seconds, rss, cpu = run_once(command.argv, command.stdin, command.output, command.env)
        if seconds > SLOW_RUN_SECONDS:
            wanted[number] = min(repeat, SLOW_RUN_REPEAT)
            results[number].add(seconds, rss, cpu)
        elif seconds < SHORT_RUN_SECONDS:
            wanted[number] = repeat * SHORT_RUN_REPEAT_FACTOR
    while any(len(result.seconds) < count for result, count in zip(results, wanted)):
        for number, command in enumerate(commands):
            if len(results[number].seconds) < wanted[number]:
                seconds, rss, cpu = run_once(command.argv, command.stdin, env=command.env)
                results[number].add(seconds, rss, cpu)
                if seconds > SLOW_RUN_SECONDS:
                    wanted[number] = min(wanted[number], SLOW_RUN_REPEAT)
    return results
