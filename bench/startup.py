"""Start-up, as Helm and Argo CD pay it on every render: wall time and instructions against `python -c pass`
of the same interpreter, and real Helm's `helm template` with the post-renderer against without it."""

from __future__ import annotations

import helm
import instructions
import report
from measure import BenchError, Command, Measurement

PYTHON = "python -c pass"


def run(bench, what: str, label: str) -> Measurement:
    """The rows; the post-renderer's own Measurement (scaling takes its CPU time out of the streams')."""
    chart = bench.args.small_chart
    ours, python = Command(label, bench.tool, chart), Command(PYTHON, [bench.python, "-c", "pass"], chart)
    results = bench.measure(what, [ours, python])
    bench.rows.append(report.startup_row(what, results[label], results[PYTHON]))
    counted = [instructions.count(command.argv, chart) for command in (ours, python)]
    if counted[0] is not None and counted[1] is not None:
        bench.rows.append(report.instructions_row(what.replace("start-up", "start-up, valgrind", 1), *counted))
        bench.results.setdefault(what, {})["instructions"] = {label: counted[0], PYTHON: counted[1]}
    else:
        bench.notes.append("valgrind not found: start-up in instructions left out")
    if not bench.args.no_helm:
        _helm(bench)
    return results[label]


def _helm(bench) -> None:
    binaries, notes = helm.binaries()
    bench.notes.extend(notes)
    for version, without, with_us in helm.commands(binaries, bench.bin_dir, bench.policy, bench.work):
        what = f"Helm {version}: helm template of a `helm create` chart"
        results = bench.measure(what, [without, with_us])
        if not helm.post_rendered(with_us):
            raise BenchError(f"Helm {version} with --post-renderer sidecar-policy: no {helm.ANNOTATION.decode()} in its output")
        bench.rows.append(report.helm_row(what, results[with_us.label], results[without.label]))

