"""The `pods` case: `sidecar-policy pods` on cluster dumps of growing size (tests/support/cluster_dump.py).

Linear is the claim: CPU time and peak memory above start-up, per pod, should stay flat from the
smallest dump to the largest. The baseline is json.load of the same dump: the least any reader does.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import report
from measure import Command, Measurement
from report import Row

ROOT = Path(__file__).resolve().parents[1]
JSON_LOAD = "import json, sys; json.load(sys.stdin)"
OURS, LOAD = "sidecar-policy pods", "json.load"


def write_dump(path: Path, scale: int) -> int:
    """The dump at this scale, as kubectl's `-o json` indents it; returns its number of pods."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.support.cluster_dump import cluster_dump
    finally:
        sys.path.remove(str(ROOT))
    dump = cluster_dump(scale)
    path.write_text(json.dumps(dump, indent=4) + "\n")
    return sum(1 for item in dump["items"] if item["kind"] == "Pod")


def run(bench, startup: Measurement, scales: list[int]) -> None:
    tool = shlex.split(bench.args.tool) + ["pods", "--istio-version", "1.27"]
    per_pod: dict[int, tuple[float, float]] = {}  # pods -> (CPU s, RSS KiB) above start-up, per pod
    for scale in scales:
        dump = bench.work / f"cluster-dump-{scale}.json"
        bench.progress(f"generating {dump.name}")
        pods = write_dump(dump, scale)
        what = f"pods: cluster dump ({pods:,} pods, {dump.stat().st_size / 1e6:.1f} MB)"
        results = bench.measure(what, [Command(OURS, tool, dump), Command(LOAD, [bench.python, "-c", JSON_LOAD], dump)])
        bench.rows.append(report.speed_row(what, results[OURS], results[LOAD], None))
        per_pod[pods] = (max(results[OURS].median_cpu - startup.median_cpu, 0.0) / pods,
                         max(results[OURS].median_rss_kib - startup.median_rss_kib, 0) / pods)
    if len(per_pod) < 2:
        return
    small, large = min(per_pod), max(per_pod)
    sizes = f"{small:,} / {large:,} pods"
    for number, (label, unit, scale_by) in enumerate((("CPU time per pod", "µs", 1e6), ("peak RSS per pod", "KiB", 1))):
        first, last = per_pod[small][number], per_pod[large][number]
        figures = f"{first * scale_by:.0f} / {last * scale_by:.0f} {unit}"
        ratio = f"{last / first:.2f}×" if first else "n/a"
        target = report.SCALING if first else None
        bench.rows.append(Row(f"pods: {label}, {sizes}", figures, "", "", ratio, target, last / first if first else None))
    bench.notes.append("pods: per pod = (median of the run − that of start-up) / pods; flat means linear")
