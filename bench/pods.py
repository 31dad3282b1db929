"""The `pods` case: `sidecar-policy pods` on cluster dumps of growing size (tests/support/cluster_dump.py).

Linear is the claim: peak memory above start-up, per pod, stays flat from the smallest dump to the
largest, and CPU time per pod grows no more than that of json.load of the same dump, the least any
reader does (on a dump held whole, cache effects make even that grow a little).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import report
from measure import Command
from report import Row

ROOT = Path(__file__).resolve().parents[1]
JSON_LOAD = "import json, sys; json.load(sys.stdin)"
OURS, EMPTY, LOAD, PYTHON = "sidecar-policy pods", "sidecar-policy pods (empty List)", "json.load", "python -c pass"
LIKE_JSON_LOAD = report.Target(f"≤ {report.FLAT_TOLERANCE}× json.load's", at_most=report.FLAT_TOLERANCE)


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


def run(bench, scales: list[int]) -> None:
    tool = shlex.split(bench.args.tool) + ["pods", "--istio-version", "1.27"]
    empty = bench.work / "cluster-dump-empty.json"
    empty.write_text('{"apiVersion": "v1", "kind": "List", "items": []}\n')
    per_pod: dict[int, dict[str, float]] = {}  # pods -> figure -> value per pod, start-up taken out
    for scale in scales:
        dump = bench.work / f"cluster-dump-{scale}.json"
        bench.progress(f"generating {dump.name}")
        pods = write_dump(dump, scale)
        what = f"pods: cluster dump ({pods:,} pods, {dump.stat().st_size / 1e6:.1f} MB)"
        # Each with its start-up, measured in the same rounds: other work on the machine falls on both.
        results = bench.measure(what, [Command(OURS, tool, dump), Command(EMPTY, tool, empty),
                                       Command(LOAD, [bench.python, "-c", JSON_LOAD], dump),
                                       Command(PYTHON, [bench.python, "-c", "pass"], dump)])
        bench.rows.append(report.speed_row(what, results[OURS], results[LOAD], None))
        ours, startup, load, python = results[OURS], results[EMPTY], results[LOAD], results[PYTHON]
        per_pod[pods] = {
            "cpu": max(ours.median_cpu - startup.median_cpu, 0.0) / pods,
            "load cpu": max(load.median_cpu - python.median_cpu, 0.0) / pods,
            "rss": max(ours.median_rss_kib - startup.median_rss_kib, 0) / pods,
        }
    if len(per_pod) >= 2:
        _growth_rows(bench, per_pod)


def _growth_rows(bench, per_pod: dict[int, dict[str, float]]) -> None:
    """Per-pod figures at the smallest and largest dump. A dump is one document held whole, so the
    heap outgrows the CPU caches and even json.load costs more per pod on a large one: our CPU
    time is held to json.load's growth, memory to flat."""
    small, large = min(per_pod), max(per_pod)
    sizes = f"{small:,} / {large:,} pods"

    def growth(figure: str) -> float | None:
        first = per_pod[small][figure]
        return per_pod[large][figure] / first if first else None

    ours, load = growth("cpu"), growth("load cpu")
    cpu = f"{per_pod[small]['cpu'] * 1e6:.0f} / {per_pod[large]['cpu'] * 1e6:.0f} µs"
    if ours is None or load is None:
        bench.rows.append(Row(f"pods: CPU time per pod, {sizes}", cpu, LOAD, "", "n/a"))
    else:
        bench.rows.append(Row(f"pods: CPU time per pod, {sizes}", cpu, f"{LOAD} grows", f"{load:.2f}×",
                              f"{ours:.2f}× ({ours / load:.2f}× {LOAD}'s)", LIKE_JSON_LOAD, ours / load))
    rss = growth("rss")
    figures = f"{per_pod[small]['rss']:.0f} / {per_pod[large]['rss']:.0f} KiB"
    bench.rows.append(Row(f"pods: peak RSS per pod, {sizes}", figures, "", "",
                          "n/a" if rss is None else f"{rss:.2f}×", None if rss is None else report.SCALING, rss))
    bench.notes.append("pods: per pod = (median of the run − that of the same command's start-up) / pods; start-up "
                       "is `pods` on an empty List, and python -c pass for json.load")
