"""`pods` on dumps with any value in any field it reads: a report (0) or one clear error (1), never a crash."""

from __future__ import annotations

import copy
import io
import json
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender import cli
from postrender.core.errors import EXIT_INPUT, EXIT_OK
from tests.support.cluster_dump import named_workloads

ITEMS = named_workloads()
# Every field the command reads, on the kinds that have it (a path into one item).
FIELDS = (
    ("metadata",), ("metadata", "name"), ("metadata", "namespace"), ("metadata", "annotations"),
    ("metadata", "labels"), ("metadata", "ownerReferences"), ("metadata", "ownerReferences", 0),
    ("metadata", "ownerReferences", 0, "kind"), ("metadata", "deletionTimestamp"), ("kind",), ("apiVersion",),
    ("spec",), ("spec", "containers"), ("spec", "containers", 0), ("spec", "initContainers"),
    ("spec", "initContainers", 0, "restartPolicy"), ("spec", "hostNetwork"), ("status",), ("status", "phase"),
    ("spec", "template"), ("spec", "template", "metadata"), ("spec", "template", "metadata", "annotations"),
    ("spec", "updateStrategy"), ("spec", "paused"), ("status", "desiredNumberScheduled"), ("spec", "workloadRef"),
    ("spec", "jobTemplate"), ("metadata", "annotations", "sidecar.istio.io/status"),
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def _set(item: dict, path: tuple, value) -> None:
    holder = item
    for key in path[:-1]:
        holder = holder[key] if isinstance(holder, (dict, list)) and _has(holder, key) else None
        if holder is None:
            return
    if isinstance(holder, dict) or (isinstance(holder, list) and _has(holder, path[-1])):
        holder[path[-1]] = value


def _has(holder, key) -> bool:
    return key in holder if isinstance(holder, dict) else isinstance(key, int) and key < len(holder)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.integers(0, len(ITEMS) - 1), st.sampled_from(FIELDS), VALUES),
                        min_size=1, max_size=4),
       policy=st.booleans())
def test_any_value_anywhere_is_a_report_or_one_clear_error(changes, policy, capsys, monkeypatch, tmp_path_factory):
    items = copy.deepcopy(ITEMS)
    for number, path, value in changes:
        _set(items[number], path, value)
    stdin = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    args = ["pods", "--istio-version", "1.27"]
    if policy:
        path = tmp_path_factory.mktemp("policy") / "policy.yaml"
        path.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: native\n")
        args += ["--policy", str(path)]
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert code in (EXIT_OK, EXIT_INPUT), err
    if code == EXIT_INPUT:
        assert out == "" and err.count("\n") == 1 and "document 1" in err


def test_a_template_whose_metadata_is_no_mapping_is_one_clear_error(capsys, monkeypatch):
    """A random run found it: the template's metadata as a number crashed the form test (exit 70)."""
    items = copy.deepcopy(ITEMS)
    deployment = next(item for item in items if item["kind"] == "Deployment")
    deployment["spec"]["template"]["metadata"] = 1
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps({"kind": "List", "items": items}).encode())))
    code = cli.main(["pods", "--istio-version", "1.27"])
    out, err = capsys.readouterr()
    assert code == EXIT_INPUT and out == "" and err.count("\n") == 1
    assert deployment["metadata"]["name"] in err
