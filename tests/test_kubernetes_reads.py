"""Differential tests (issue 15): every output, read by Kubernetes' own reader (tests/harness/kubeyaml:
k8s.io/apimachinery's stream decoder over sigs.k8s.io/yaml), equals what the policy intends for
the input as Kubernetes reads it, computed by reference.py, which knows nothing of our edits.

Where the engine refuses, it refuses with exit 1 and a line that names what it cannot edit safely;
never an internal error, never a wrong manifest, never a workload passed over.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.core import reemit
from postrender.core.errors import InputError
from postrender.core.policy import parse_policy
from tests.support.helpers import render
from tests.support.kubeyaml import KubeYAMLError
from tests.support.paths import ROOT
from tests.support.reference import apply_mode, normalise, workloads
from tests.support.unusual_yaml import (
    ODD_LINE_BREAKS,
    policies,
    unusual_streams,
    workload_text,
)

EXAMPLES = int(os.environ.get("SIDECAR_POLICY_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What the engine may refuse, and the feature of the input each refusal must name.
HONEST_REFUSALS = {"anchor": "&", "merge key": "<<", "line break": None}


def intended(documents: list, for_a: str, fallback: str) -> list:
    """Kubernetes' reading of the input with the policy's decisions applied: names `a` get `for_a`."""
    result = []
    for document in documents:
        for obj, template in workloads(document, custom_kind=False):
            apply_mode(template, for_a if obj["metadata"]["name"] == "a" else fallback)
        result.append(document)
    return result


def check(kube_yaml, stream: bytes, policy: tuple[str, str, str]) -> bytes | None:
    """The output when the engine writes one (it is right), None when it refuses (honestly)."""
    text, for_a, fallback = policy
    wanted = intended(kube_yaml.read_stream(stream), for_a, fallback)  # read twice: aliases stay separate
    try:
        output = render(parse_policy(text, "policy.yaml"), stream)
    except InputError as error:
        named = [feature for phrase, feature in HONEST_REFUSALS.items() if phrase in error.message]
        assert named, error
        assert named[0] is None or named[0].encode() in stream, error
        assert normalise(kube_yaml.read_stream(stream)) != normalise(wanted), f"refused a stream that needs no edit: {error}"
        return None
    assert normalise(kube_yaml.read_stream(output)) == normalise(wanted)
    return output


@SETTINGS
@given(stream=unusual_streams(), policy=policies())
def test_kubernetes_reads_what_the_policy_intends(kube_yaml, stream: str, policy) -> None:
    output = check(kube_yaml, stream.encode("utf-8"), policy)
    if output is not None:
        assert render(parse_policy(policy[0], "policy.yaml"), output) == output  # a second run changes nothing


@SETTINGS
@given(data=st.data(), newline=st.sampled_from(ODD_LINE_BREAKS), policy=policies())
def test_other_line_breaks_are_edited_never_or_refused(kube_yaml, data, newline: str, policy) -> None:
    """CR, NEL, LS, PS break lines for go-yaml and libyaml: a workload written so is never passed over."""
    stream = data.draw(workload_text("a", newline)).encode("utf-8")
    output = check(kube_yaml, stream, policy)
    assert output is None or output == stream


# The characters numbers, booleans and nulls are made of, in YAML 1.1 and Go's number syntax.
NUMBERISH = st.text(st.sampled_from("0123456789+-._eEoOxXbBabcdfyYnNtTrRuUlLsS~<:=#"), min_size=1, max_size=8)


@SETTINGS
@given(strings=st.lists(NUMBERISH | st.text(max_size=6), min_size=1, max_size=8))
def test_a_converted_string_stays_a_string_for_kubernetes(kube_yaml, strings: list[str]) -> None:
    """The re-emitter (conversion) writes strings that sigs.k8s.io/yaml reads back as the same strings."""
    strings = [value for value in strings if "\x00" not in value]
    for original in ("a: 1\n", '{"a": 1}\n'):
        written = reemit.reemit(original, {"args": strings, "env": {value: value for value in strings}})
        assert kube_yaml.to_json(written.encode("utf-8")) == {"args": strings, "env": {value: value for value in strings}}


@SETTINGS
@given(value=NUMBERISH)
def test_the_resolver_quotes_all_that_go_yaml_reads_as_another_type(kube_yaml, value: str) -> None:
    """Every text go-yaml reads, written plain, as something else than that string is quoted."""
    try:
        read = kube_yaml.to_json(f"v: {value}\n".encode())
    except KubeYAMLError:
        return  # no plain scalar (`v: :`): the emitter quotes those by its own rules
    if isinstance(read, dict) and read.get("v") != value and not value.startswith(("#", "- ")) and " #" not in value:
        assert reemit.go_yaml_reads_as_non_string(value), (value, read)


def test_the_issue_examples(kube_yaml) -> None:
    written = reemit.reemit("a: 1\n", {"args": ["--rate", "1e6", "y", "0o17"]})
    assert kube_yaml.to_json(written.encode()) == {"args": ["--rate", "1e6", "y", "0o17"]}


def test_a_directive_before_the_first_marker_is_read(kube_yaml) -> None:
    stream = b"%YAML 1.1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n"
    output = render(parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {fallback: native}\n", "p"), stream)
    assert output.startswith(b"%YAML 1.1\n---\n")
    # (kubectl's stream reader cuts the directive from its document, so read it from the marker on)
    assert kube_yaml.read_stream(output[len(b"%YAML 1.1\n"):])[0]["metadata"]["annotations"] == {
        "sidecar.istio.io/nativeSidecar": "true"}


@pytest.mark.parametrize("field, line", [
    ("    args: 7", 9), ("    securityContext: 5", 9), ("    command: [{a: b}]", 9)])
@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_a_manifest_kubernetes_would_refuse_is_exit_1_at_its_place(field: str, line: int, quiet: list[str]) -> None:
    from tests.support.helpers import run_command

    stream = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: {app: x}\nspec:\n  containers:\n"
              f"  - name: app\n{field}\n").encode()
    result = run_command(["--policy", "examples/policy.yaml", *quiet], stream, cwd=ROOT)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().startswith(f"sidecar-policy: error: <stdin>:{line}:")


@pytest.mark.parametrize("metadata", ["labels: [x]", "annotations: abc"])
def test_bad_labels_or_annotations_are_exit_1(metadata: str) -> None:
    stream = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  {metadata}\nspec: {{}}\n".encode()
    with pytest.raises(InputError, match="must be a mapping of strings"):
        render(parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {fallback: keep}\n", "p"), stream)


def test_a_json_document_after_a_directive_stays_json(kube_yaml) -> None:
    stream = b'%YAML 1.1\n---\n{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {}}\n'
    output = render(parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {fallback: native}\n", "p"), stream)
    body = output[len(b"%YAML 1.1\n---\n"):]
    assert kube_yaml.read_stream(body) == [{"apiVersion": "v1", "kind": "Pod", "spec": {}, "metadata": {
        "name": "a", "annotations": {"sidecar.istio.io/nativeSidecar": "true"}}}]
    assert b'"annotations": {"sidecar.istio.io/nativeSidecar": "true"}' in body
