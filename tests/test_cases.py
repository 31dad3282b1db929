"""Folders of cases: tests/cases/NAME/{policy,input,expected}.yaml, the whole output reviewed beside its input.

Each case is a shape users' charts produce; expected.yaml shows exactly which lines change.
Rewrite the expected files with `./dev test tests/test_cases.py --snapshot-update`, then read the diff.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from postrender.core.istio import ANNOTATION
from postrender.core.policy import load_policy
from postrender.core.stream import read_documents
from tests.support.helpers import post_render

CASES = Path(__file__).parent / "cases"
EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir()))
def test_case(case, snapshot):
    folder = CASES / case
    output, _ = post_render((folder / "input.yaml").read_bytes(), load_policy(str(folder / "policy.yaml")))
    snapshot.snapshot_dir = folder  # the expected output lives beside its input, not under snapshots/
    snapshot.assert_match(output, "expected.yaml")


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir()))
def test_case_output_is_stable_and_valid(case):
    folder = CASES / case
    policy = load_policy(str(folder / "policy.yaml"))
    once, outcomes = post_render((folder / "input.yaml").read_bytes(), policy)
    twice, _ = post_render(once, policy)
    assert twice == once
    for document in yaml.load_all(once, Loader=yaml.CSafeLoader):
        for value in _annotation_values(document):
            assert isinstance(value, str), f"{ANNOTATION} must stay a string"
    assert outcomes
    for before, after in zip(_documents(folder / "input.yaml"), read_documents(io.BytesIO(once))):
        if _is_json(before.raw):
            assert _is_json(after.raw), "a JSON document must stay JSON"


def _documents(path: Path):
    return read_documents(io.BytesIO(path.read_bytes()))


def _is_json(raw: bytes) -> bool:
    body = raw.decode().removeprefix("---\n")
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _annotation_values(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == ANNOTATION:
                yield value
            yield from _annotation_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _annotation_values(item)


def test_bundled_example(snapshot):
    output, _ = post_render((EXAMPLES / "rendered-chart.yaml").read_bytes(), load_policy(str(EXAMPLES / "policy.yaml")))
    snapshot.assert_match(output, "post-rendered.yaml")
