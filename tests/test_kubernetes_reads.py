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

from postrender.core import podshape, reemit
from postrender.core.errors import InputError
from postrender.core.policy import parse_policy
from tests.support.helpers import render
from tests.support.kubeyaml import KubeYAMLError
from tests.support.paths import ROOT
from tests.support.reference import apply_mode, normalise, pod_template, requirement_holds
from tests.support.unusual_yaml import (
    ALIAS_USES,
    ANCHORED_ANNOTATIONS,
    ODD_LINE_BREAKS,
    UnusualPolicy,
    policies,
    unusual_streams,
    workload_text,
)

EXAMPLES = int(os.environ.get("SIDECAR_POLICY_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What the engine may refuse when an edit is needed, and the feature of the input each refusal must name.
HONEST_REFUSALS = {"anchor": "&", "merge key": "<<", "line break": None}


def intended(kube_yaml, stream: bytes, policy: UnusualPolicy) -> list:
    """Kubernetes' reading of the input with the policy's decisions applied: workloads named `a`
    whose labels meet the requirement get `for_a`, the rest the fallback. Which objects are
    workloads, and of which kind, is what Kubernetes' decoder says (a typed list's items too)."""
    documents = kube_yaml.read_stream(stream, keep_empty=True)  # read twice: aliases stay separate
    for document, objects in zip(documents, kube_yaml.objects(stream)):
        if isinstance(objects, KubeYAMLError):
            continue  # not an object Kubernetes can decode: no workload
        holders = document["items"] if isinstance(document, dict) and "items" in document else [document]
        for holder, obj in zip(holders, objects):
            template = pod_template(holder, custom_kind=False, kind_of=obj)
            if template is not None:
                apply_mode(template, policy.for_a if _decides(policy, holder, template) else policy.fallback)
    return [document for document in documents if document is not None]


def _decides(policy: UnusualPolicy, obj: dict, template: dict) -> bool:
    """Whether the rule decides the workload: its name is `a`, its labels meet the requirement."""
    if (obj.get("metadata") or {}).get("name") != "a":
        return False
    if policy.requirement is None:
        return True
    field, key, operator, values = policy.requirement
    owner = obj if field == "labels" else template
    labels = {k: "" if v is None else v for k, v in ((owner.get("metadata") or {}).get("labels") or {}).items()}
    return requirement_holds(labels, key, operator, values)


def label_values_kubernetes_refuses(kube_yaml, stream: bytes) -> bool:
    """Whether a workload has a label whose value Kubernetes does not read as a string (nor null)."""
    for objects in kube_yaml.objects(stream):
        for obj in [] if isinstance(objects, KubeYAMLError) else objects:
            template = pod_template(obj, custom_kind=False)
            for owner in [obj, template] if template is not None else []:
                labels = (owner.get("metadata") or {}).get("labels") or {}
                if any(value is not None and not isinstance(value, str) for value in labels.values()):
                    return True
    return False


def check(kube_yaml, stream: bytes, policy: UnusualPolicy) -> bytes | None:
    """The output when the engine writes one (it is right), None when it refuses (honestly)."""
    try:
        wanted = intended(kube_yaml, stream, policy)
    except KubeYAMLError:  # kubectl cannot read it (a null label key): neither may we write it
        with pytest.raises(InputError):
            render(parse_policy(policy.text, "policy.yaml"), stream)
        return None
    refused_types = label_values_kubernetes_refuses(kube_yaml, stream)
    try:
        output = render(parse_policy(policy.text, "policy.yaml"), stream)
    except InputError as error:
        if refused_types and "must be a string" in error.message:
            return None
        named = [feature for phrase, feature in HONEST_REFUSALS.items() if phrase in error.message]
        assert named, error
        assert named[0] is None or named[0].encode() in stream, error
        assert normalise(kube_yaml.read_stream(stream)) != normalise(wanted), f"refused a stream that needs no edit: {error}"
        return None
    assert not refused_types, "a label value Kubernetes refuses went through"
    assert normalise(kube_yaml.read_stream(output)) == normalise(wanted)
    return output


@SETTINGS
@given(stream=unusual_streams(), policy=policies())
def test_kubernetes_reads_what_the_policy_intends(kube_yaml, stream: str, policy) -> None:
    output = check(kube_yaml, stream.encode("utf-8"), policy)
    if output is not None:
        assert render(parse_policy(policy.text, "policy.yaml"), output) == output  # a second run changes nothing


@SETTINGS
@given(data=st.data(), newline=st.sampled_from(ODD_LINE_BREAKS), policy=policies())
def test_other_line_breaks_are_edited_never_or_refused(kube_yaml, data, newline: str, policy) -> None:
    """CR, NEL, LS, PS break lines for go-yaml and libyaml: a workload written so is never passed over."""
    stream = data.draw(workload_text("a", newline)).encode("utf-8")
    output = check(kube_yaml, stream, policy)
    assert output is None or output == stream


@pytest.mark.parametrize("shape", sorted(ANCHORED_ANNOTATIONS))
@pytest.mark.parametrize("mode", ["default", "native", "regular"])
def test_every_anchor_an_edit_could_remove_is_kept_or_refused(kube_yaml, shape: str, mode: str) -> None:
    """Each place an anchor can stand in the annotations, with each way an alias can name it."""
    lines, is_mapping = ANCHORED_ANNOTATIONS[shape]
    policy_text = f"apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: {mode}\n"
    for alias in ALIAS_USES[is_mapping]:
        stream = "\n".join(["apiVersion: apps/v1", "kind: Deployment", "metadata: {name: b}", "spec:", "  template:",
                            *("    " + line for line in lines), f"    spec: {{nodeSelector: {alias}, containers: []}}"]) + "\n"
        output = check(kube_yaml, stream.encode(), UnusualPolicy(policy_text, mode, mode, None))
        if mode == "default" and shape != "elsewhere":
            assert output is None, "the annotation went, and its anchor with it"


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
        assert podshape.go_yaml_reads_as_non_string(value), (value, read)


@SETTINGS
@given(text=NUMBERISH)
def test_label_keys_and_values_are_read_as_kubernetes_reads_them(kube_yaml, text: str) -> None:
    """A plain label key is the key Kubernetes stores (`y` is "true", `1e3` is "1000"), or refused
    when Kubernetes cannot read it; a plain label value it reads as anything but a string is refused."""
    head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels:\n"
    keep = parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec: {fallback: keep}\n", "p")
    for labels in (f"    {text}: x\n", f"    x: {text}\n"):
        stream = (head + labels + "spec: {containers: []}\n").encode()
        try:
            read = kube_yaml.read_stream(stream)
        except KubeYAMLError:
            read = None
        if read is not None and not isinstance(((read or [{}])[0].get("metadata") or {}).get("labels"), dict):
            continue  # not a plain scalar there (`#...`): nothing about labels to learn
        outcomes: list = []
        try:
            render(keep, stream, outcomes=outcomes)
        except InputError as error:
            assert read is None or any(not isinstance(value, str) and value is not None
                                       for value in read[0]["metadata"]["labels"].values()), error
            continue
        assert read is not None, "Kubernetes cannot read this stream, which went through"
        assert outcomes[0].workload.labels == {key: value or "" for key, value in read[0]["metadata"]["labels"].items()}


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


@pytest.mark.parametrize("api_version, line", [("{group: apps}", 2), ("[apps/v1]", 2), ("\n  metadata: {a: b}", 3)])
def test_an_api_version_that_is_no_string_is_exit_1_at_it(api_version: str, line: int) -> None:
    """Kubernetes refuses such an object; taken by its kind alone, it would have been edited as if it had none."""
    from tests.support.helpers import run_command

    stream = (f"kind: Deployment\napiVersion: {api_version}\nmetadata: {{name: a}}\n"
              "spec:\n  template:\n    spec: {containers: [{name: a, image: a}]}\n").encode()
    result = run_command(["--policy", "examples/policy.yaml"], stream, cwd=ROOT)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().startswith(f"sidecar-policy: error: <stdin>:{line}:")
    assert "apiVersion" in result.stderr.decode()


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
