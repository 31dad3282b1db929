"""A 100 MB document: streamed, memory bounded by a small multiple of the document.

Each case runs the command in a child process that reports its own peak RSS.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.helpers import NATIVE_FOR_ALL
from tests.support.hostile_inputs import ANNOTATION_LINE, POD, pod_with

MEASURE_PEAK = """
import resource, sys
from postrender.cli import main
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(code, baseline * 1024, peak * 1024, file=sys.stderr)
"""
HUNDRED_MB = 100 << 20


def _peak_run(tmp_path, document: bytes) -> tuple[int, int, int]:
    """Exit code, the output's size and the extra peak memory of a child running the command."""
    (tmp_path / "policy.yaml").write_text(NATIVE_FOR_ALL)
    (tmp_path / "in.yaml").write_bytes(document)
    with open(tmp_path / "out.yaml", "wb") as out:
        result = subprocess.run(
            [sys.executable, "-c", MEASURE_PEAK, "--policy", str(tmp_path / "policy.yaml"), str(tmp_path / "in.yaml")],
            stdout=out, stderr=subprocess.PIPE, timeout=600,
        )
    assert "Traceback" not in result.stderr.decode()
    code, baseline, peak = (int(field) for field in result.stderr.decode().split("\n")[-2].split())
    return code, (tmp_path / "out.yaml").stat().st_size, peak - baseline


@pytest.mark.slow
def test_a_100mb_document_that_is_no_workload_streams_through_in_bounded_memory(tmp_path):
    document = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: " + b"x" * HUNDRED_MB + b"\n"
    code, size, extra = _peak_run(tmp_path, document + b"---\n" + POD.encode())
    assert code == 0 and size > len(document)
    assert extra < 3 * len(document)


@pytest.mark.slow
def test_a_100mb_workload_of_one_huge_value_is_processed_in_bounded_memory(tmp_path):
    document = pod_with("  hostname: " + "x" * HUNDRED_MB + "\n")
    code, size, extra = _peak_run(tmp_path, document)
    assert code == 0 and size == len(document) + len(b"  annotations:\n    " + ANNOTATION_LINE + b"\n")
    assert extra < 7 * len(document)


@pytest.mark.slow
def test_a_100mb_workload_of_small_entries_is_refused_in_bounded_memory(tmp_path):
    entry = b"  - {name: VARIABLE, value: some value}\n"
    document = pod_with("  env:\n") + entry * (HUNDRED_MB // len(entry))
    code, _, extra = _peak_run(tmp_path, document)
    assert code == 1
    assert extra < 5 * len(document)
