"""The policy file: what it means, and clear errors with file:line:col for what it must not say."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from postrender.core.errors import UsageError
from postrender.core.policy import Workload, parse_policy
from tests.support.helpers import POLICY_HEADER, policy_of, run_command

FULL_EXAMPLE = POLICY_HEADER + """\
metadata:
  name: example
spec:
  fallback: keep
  rules:
  - name: batch-is-native
    match:
      kinds: [Job, CronJob]
      names: ["db-migrate-*"]
      namespaces: ["team-*"]
      labels: "app.kubernetes.io/part-of=shop,tier!=web"
      podLabels:
        matchLabels: {app: api}
        matchExpressions: [{key: track, operator: NotIn, values: [canary]}]
    sidecar: native
  workloadKinds:
  - {kind: CloneSet, apiVersion: apps.kruise.io/v1alpha1, podTemplate: spec.template}
"""


SEVERAL_TARGETS = """\
spec:
  workloadKinds:
  - kind: Training
    apiVersion: ml.example.com/v1
    podTemplates: [spec.launcher.template, "spec.groups[*].template", spec.replicas.*.template]
    runsToCompletion: true
  - kind: Pipeline
    apiVersion: ml.example.com/v1
    podMetadata:
    - path: spec.podMetadata
      mergedWith: ["spec.steps[*].metadata"]
    - {path: spec.reporter, runsToCompletion: false}
"""


def test_workload_kinds_take_several_targets_with_list_and_mapping_steps():
    training, pipeline = parse_policy(POLICY_HEADER + SEVERAL_TARGETS, "p").workload_kinds
    assert [(t.path, t.pod_metadata, t.completes) for t in training.targets] == [
        (("spec", "launcher", "template"), False, True),
        (("spec", "groups", "[*]", "template"), False, True),
        (("spec", "replicas", "*", "template"), False, True),
    ]
    assert training.groups == frozenset({"ml.example.com"})
    metadata, reporter = pipeline.targets
    assert (metadata.path, metadata.pod_metadata, metadata.merged_with, metadata.completes) == (
        ("spec", "podMetadata"), True, (("spec", "steps", "[*]", "metadata"),), False)
    assert (reporter.path, reporter.pod_metadata, reporter.merged_with) == (("spec", "reporter"), True, ())


def test_the_one_pod_template_form_still_reads_as_before():
    (entry,) = policy_of("  workloadKinds:\n  - {kind: CloneSet, apiVersion: apps.kruise.io/v1alpha1, podTemplate: spec.template}\n").workload_kinds
    assert entry.template_path == ("spec", "template")


def workload(kind="Job", name="db-migrate-1", namespace="team-a", labels=None, pod_labels=None) -> Workload:
    labels = {"app.kubernetes.io/part-of": "shop"} if labels is None else labels
    pod_labels = {"app": "api"} if pod_labels is None else pod_labels
    return Workload(kind, "batch/v1", name, namespace, labels, pod_labels, 1, "", 1)


def test_the_documented_example_matches_only_what_it_says():
    policy = parse_policy(FULL_EXAMPLE, "policy.yaml")
    assert policy.decide(workload())[1] == "native"
    assert policy.decide(workload(kind="Deployment"))[1] == "keep"
    assert policy.decide(workload(name="api"))[1] == "keep"
    assert policy.decide(workload(namespace="prod"))[1] == "keep"
    assert policy.decide(workload(labels={"app.kubernetes.io/part-of": "shop", "tier": "web"}))[1] == "keep"
    assert policy.decide(workload(pod_labels={"app": "api", "track": "canary"}))[1] == "keep"
    # notin / != also match workloads without the label, as in Kubernetes
    assert policy.decide(workload(pod_labels={"app": "api"}))[1] == "native"


def test_first_matching_rule_wins_and_fallback_applies_to_the_rest():
    policy = policy_of(
        "  fallback: default\n  rules:\n"
        "  - {name: first, match: {kinds: [Job]}, sidecar: native}\n"
        "  - {name: second, match: {kinds: [Job, Deployment]}, sidecar: regular}\n"
    )
    rule, mode = policy.decide(workload())
    assert (rule.label, mode) == ("first", "native")
    rule, mode = policy.decide(workload(kind="Deployment"))
    assert (rule.label, mode) == ("second", "regular")
    assert policy.decide(workload(kind="Pod")) == (None, "default")


def test_an_empty_namespace_pattern_matches_only_the_empty_namespace():
    policy = policy_of("  rules:\n  - {match: {namespaces: ['*']}, sidecar: native}\n")
    assert policy.decide(workload(namespace=""))[1] == "native"  # '*' matches "" too
    policy = policy_of("  rules:\n  - {match: {namespaces: ['team-*']}, sidecar: native}\n")
    assert policy.decide(workload(namespace=""))[1] == "keep"


@pytest.mark.parametrize(
    "spec, message, line, column",
    [
        ("  fallback: sometimes\n", "spec.fallback must be one of keep, native, regular, default", 4, 13),
        ("  rules:\n  - sidecar: native\n    matches: {}\n", "unknown field 'matches'", 6, 5),
        ("  rules:\n  - match: {kinds: [Job]}\n", "needs sidecar", 5, 5),
        ("  rules:\n  - sidecar: on\n", "spec.rules[0].sidecar must be one of native, regular, default", 5, 14),
        ("  rules:\n  - sidecar: native\n    match: {labels: 'a in (x'}\n", "unexpected end of selector", 6, 21),
        ("  rules:\n  - sidecar: native\n    match: {labels: 'a b'}\n", "expected an operator", 6, 21),
        ("  rules:\n  - sidecar: native\n    match: {labels: 'Bad Key=x'}\n", "expected an operator", 6, 21),
        ("  rules:\n  - sidecar: native\n    match: {podLabels: {matchExpressions: [{key: a, operator: In}]}}\n",
         "needs at least one value", 6, 24),
        ("  rules:\n  - sidecar: native\n    match: {names: ['web-[']}\n", "unbalanced", 6, 21),
        ("  rules:\n  - sidecar: native\n    match: {names: []}\n", "at least one entry", 6, 20),
        ("  rules:\n  - sidecar: native\n    match: {names: ['db-[9-0]']}\n", "reversed range '9-0'", 6, 21),
        ("  rules:\n  - sidecar: native\n    match: {kinds: Job}\n", "must be a list", 6, 20),
        ("  convertInjected: yes please\n", "must be true or false", 4, 20),
        ("  holdApplicationUntilProxyStarts: sometimes\n", "must be true, false or always", 4, 36),
        ("  holdApplicationUntilProxyStarts: 'true'\n", "must be true, false or always", 4, 36),
        ("  workloadKinds:\n  - {kind: X, podTemplate: 'spec..template'}\n", "dotted path", 5, 28),
        ("  workloadKinds:\n  - {kind: X, podTemplates: ['spec.a[1].template']}\n", "spec.workloadKinds entry.podTemplates[0] must be", 5, 30),
        ("  workloadKinds:\n  - {kind: X, podTemplates: []}\n", "at least one entry", 5, 29),
        ("  workloadKinds:\n  - {kind: X}\n", "needs podTemplate, podTemplates or podMetadata", 5, 5),
        ("  workloadKinds:\n  - {kind: X, podTemplate: a, podTemplates: [b]}\n", "podTemplate and podTemplates", 5, 45),
        ("  workloadKinds:\n  - {kind: X, podMetadata: [{mergedWith: [a]}]}\n", "podMetadata[0] needs path", 5, 29),
        ("  workloadKinds:\n  - {kind: X, podMetadata: [{path: a, mergedWith: ['b.*x']}]}\n", "mergedWith[0] must be", 5, 52),
        ("  workloadKinds:\n  - {kind: X, podMetadata: [{path: a, merged: [b]}]}\n", "unknown field 'merged'", 5, 39),
        ("  workloadKinds:\n  - {kind: X, podTemplates: [a], runsToCompletion: 1}\n", "must be true or false", 5, 52),
        ("  rules:\n  - sidecar: native\n  - sidecar: native\n    sidecar: regular\n", "duplicate field 'sidecar'", 7, 5),
    ],
)
def test_bad_policies_name_the_line_and_column(spec, message, line, column):
    with pytest.raises(UsageError) as raised:
        parse_policy(POLICY_HEADER + "spec:\n" + spec, "p.yaml")
    assert message in raised.value.message
    assert (raised.value.location.file, raised.value.location.line, raised.value.location.column) == ("p.yaml", line, column)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the policy is empty"),
        ("kind: SidecarPolicy\nspec: {}\n", "missing apiVersion"),
        ("apiVersion: v1\nkind: SidecarPolicy\nspec: {}\n", "apiVersion must be sidecar-policy/v1alpha1"),
        (POLICY_HEADER + "spec: [\n", "expected"),
        (POLICY_HEADER + "spec: !!python/object:os.system {}\n", "unsupported YAML tag"),
    ],
)
def test_malformed_policies_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as raised:
        parse_policy(text, "p.yaml")
    assert raised.value.exit_code == 2


def test_kpt_metadata_annotations_are_accepted():
    policy = parse_policy(POLICY_HEADER + "metadata:\n  annotations: {config.kubernetes.io/index: '0'}\nspec: {}\n", "p")
    assert policy.rules == ()


def test_a_bad_policy_exits_2_before_reading_input_and_prints_nothing(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY_HEADER + "spec:\n  fallback: sometimes\n")
    result = run_command(["--policy", str(tmp_path / "policy.yaml")], stdin=b"kind: Pod\n")
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().strip() == (
        f"sidecar-policy: error: {tmp_path}/policy.yaml:4:13: spec.fallback must be one of keep, native, regular, default, not 'sometimes'"
    )


def test_published_json_schema_agrees_with_the_validator(tmp_path):
    result = run_command(["schema"])
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = [FULL_EXAMPLE, POLICY_HEADER + "spec: {}\n", POLICY_HEADER + "spec:\n  convertInjected: true\n  meshDefault: regular\n",
            POLICY_HEADER + "spec:\n  holdApplicationUntilProxyStarts: always\n",
            POLICY_HEADER + "spec:\n  mesh: linkerd\n  linkerdVersion: \"edge-25.10.2\"\n  meshDefault: regular\n",
            POLICY_HEADER + "spec:\n  mesh: istio\n  convertInjected: true\n",
            POLICY_HEADER + "spec:\n  mesh: linkerd\n  convertInjected: false\n",
            POLICY_HEADER + SEVERAL_TARGETS]
    bad = [
        POLICY_HEADER + "spec:\n  fallback: sometimes\n",
        POLICY_HEADER + "spec:\n  rules: [{match: {kinds: [Job]}}]\n",
        POLICY_HEADER + "spec:\n  rules: [{sidecar: native, match: {names: []}}]\n",
        POLICY_HEADER + "spec:\n  extra: 1\n",
        POLICY_HEADER + "spec:\n  meshDefault: default\n",
        POLICY_HEADER + "spec:\n  holdApplicationUntilProxyStarts: sometimes\n",
        POLICY_HEADER + "spec:\n  workloadKinds: [{kind: X}]\n",
        POLICY_HEADER + "spec:\n  workloadKinds: [{kind: X, podTemplate: a, podTemplates: [b]}]\n",
        POLICY_HEADER + "spec:\n  workloadKinds: [{kind: X, podTemplates: ['a.[*]']}]\n",
        POLICY_HEADER + "spec:\n  workloadKinds: [{kind: X, podMetadata: [{path: a, mergedWith: []}]}]\n",
        POLICY_HEADER + "spec:\n  mesh: consul\n",
        POLICY_HEADER + "spec:\n  linkerdVersion: \"2.19\"\n",
        POLICY_HEADER + "spec:\n  mesh: linkerd\n  linkerdVersion: 2.20\n",
        POLICY_HEADER + "spec:\n  mesh: linkerd\n  convertInjected: true\n",
        POLICY_HEADER + "spec:\n  mesh: linkerd\n  holdApplicationUntilProxyStarts: true\n",
    ]
    for text in good:
        parse_policy(text, "p")
        jsonschema.validate(yaml.safe_load(text), schema)
    for text in bad:
        with pytest.raises(UsageError):
            parse_policy(text, "p")
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(yaml.safe_load(text), schema)


@pytest.mark.parametrize(("value", "hold", "always"), [("false", False, False), ("true", True, False), ("always", True, True)])
def test_hold_application_names_which_of_istios_two_settings_the_mesh_uses(value, hold, always):
    policy = policy_of(f"  holdApplicationUntilProxyStarts: {value}\n")
    assert (policy.hold_application, policy.hold_application_always) == (hold, always)
