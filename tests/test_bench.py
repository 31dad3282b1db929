"""The benchmark runs end to end in its quick mode and prints its table.

Figures are never asserted (they depend on the machine and its load): only that every measurement
the issue asks for is there, that each targeted ratio carries a verdict, and that it exits 0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.helm import HELM3_NEWEST, HELM4_NEWEST
from tests.support.paths import CORPUS, ROOT


def test_quick_benchmark_prints_its_table(tmp_path: Path, helm3: Path, helm4: Path) -> None:
    """What users run: the wheel of this checkout, installed by pip in a new venv (no --tool), and real Helm
    (the fixtures fetch or build the binaries the benchmark uses)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--sizes", "20,200", "--repeat", "1",
         "--bundle", str(CORPUS / "istio-bookinfo.yaml"), "--kustomize-budget", "5",
         "--work", str(tmp_path), "--pods-scales", "1,2"],
        capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    table = done.stdout
    assert table.startswith("sidecar-policy benchmark: ")
    assert f"measured: {tmp_path / 'venv' / 'bin' / 'sidecar-policy'} --policy" in table
    for row in ("start-up: small chart", "bundle: istio-bookinfo", "stream (20 docs", "stream (200 docs",
                "CPU time per doc, 20 / 200 docs", "peak RSS, 20 / 200 docs", "pods: cluster dump (",
                "pods: CPU time per pod", "pods: peak RSS per pod",
                f"Helm {HELM3_NEWEST}: helm template of a `helm create` chart",
                f"Helm {HELM4_NEWEST}: helm template of a `helm create` chart"):
        assert row in table
    if shutil.which("valgrind"):
        # Instruction counts are stable on a busy machine, so issue 28's target is held here: at most 3.0x
        # python -c pass (2.97x when it was met, docs/performance.md). Over it, see tests/test_startup.py's
        # rules and docs/performance.md's way to count.
        instructions = next(line for line in table.splitlines() if line.startswith("start-up, valgrind"))
        ratio = float(instructions.split("× python")[0].split()[-1])
        assert ratio <= 3.0, instructions
    for baseline in ("python -c pass", "PyYAML C full parse", "cat"):
        assert baseline in table
    assert ("kubectl kustomize" in table) == (shutil.which("kubectl") is not None)
    startup = next(line for line in table.splitlines() if line.startswith("start-up"))
    assert startup.rstrip().endswith(("met", "NOT MET"))
    results = json.loads((tmp_path / "results.json").read_text())
    stream_200 = next(runs for what, runs in results.items() if what.startswith("stream (200 docs"))
    assert all(seconds > 0 for seconds in stream_200["sidecar-policy"]["runs_s"])
