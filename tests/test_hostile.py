"""Hostile and broken input: each case ends in correct output or one clean error line, never a
traceback, a hang, a crash, exhausted memory, or code from the input being run."""

from __future__ import annotations

import re

import pytest
import yaml

from postrender.core import yamlnodes
from postrender.core.errors import InputError
from tests.support.helpers import NATIVE_FOR_ALL, POLICY_HEADER, policy, render, run_cli
from tests.support.hostile_inputs import ANNOTATION_LINE, POD, PYTHON_TAGS, alias_bomb, input_error, pod_with
from tests.support.paths import ISTIO_GOLDEN

# --- aliases ---------------------------------------------------------------------------------

def test_billion_laughs_in_a_workload_is_rejected():
    data = pod_with("  volumes: []\nx-bomb:\n" + alias_bomb())
    error = input_error(data)
    assert "alias" in error.message and error.location.line is not None


def test_billion_laughs_in_a_workload_with_outcomes_is_rejected_before_construction():
    """Reports build the pod template as data; the bomb must be refused before that."""
    data = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  bomb:\n"
            + alias_bomb().replace("\n  ", "\n    ").replace("  l0", "    l0", 1)).encode()
    error = input_error(data, outcomes=[])
    assert "alias" in error.message


def test_billion_laughs_in_a_config_map_passes_through_unparsed():
    data = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + alias_bomb()).encode()
    assert render(policy(), data) == data


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: x\n  labels: *m\n",
    "apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: x\n  <<: *m\n",
    "apiVersion: v1\nkind: List\nitems: &i\n- kind: List\n  items: *i\n",
])
def test_a_recursive_alias_is_an_error_not_a_hang(text):
    assert "recursive alias" in input_error(text.encode()).message


def test_a_long_merge_key_chain_does_not_exhaust_the_stack():
    lines = ["apiVersion: v1", "kind: Pod", "x-defaults:", "  d0: &d0 {name: web}"]
    lines += [f"  d{i}: &d{i} {{<<: *d{i - 1}}}" for i in range(1, 990)]
    lines += ["metadata: {<<: *d989}", "spec: {}"]
    data = ("\n".join(lines) + "\n").encode()
    out = render(policy(), data)
    assert re.search(rb'\nmetadata: \{<<: \*d989, "?annotations"?: \{"?sidecar.istio.io/nativeSidecar"?: "true"\}\}\n', out)
    assert render(policy(), out) == out


def test_merged_keys_are_overridden_by_the_mapping_own_keys():
    """YAML merge keys (and Kubernetes' decoder) let a mapping override what it merges: not a duplicate."""
    data = (
        b"apiVersion: apps/v1\nkind: Deployment\n"
        b"metadata: &base {name: base, labels: {tier: web}}\n"
        b"spec:\n  template:\n    metadata:\n      <<: *base\n      name: api\n      labels: {tier: api}\n"
        b"    spec: {containers: []}\n"
    )
    rules = POLICY_HEADER + "spec:\n  rules:\n  - match: {podLabels: tier=api}\n    sidecar: regular\n"
    out = render(policy(rules), data)
    template = yaml.safe_load(out)["spec"]["template"]
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/nativeSidecar": "false"}


# --- nesting and size ------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["flow-sequence", "flow-mapping", "block-sequence"])
def test_10000_deep_nesting_is_a_clean_error(shape):
    depth = 10_000
    value = {
        "flow-sequence": "[" * depth + "]" * depth,
        "flow-mapping": "{a: " * depth + "b" + "}" * depth,
        "block-sequence": "\n  " + "- " * depth + "x",
    }[shape]
    # Which layer words the refusal (our depth guard or libyaml's own limit) is free; that it is an
    # input error located in the document (input_error checks the document index) is not.
    error = input_error(pod_with(f"  nested: {value}\n"))
    assert error.location.line is not None and error.location.line >= 6


def test_100000_deep_nesting_from_the_command_line_is_one_line_on_stderr(tmp_path):
    """libyaml's composer recurses per level and crashes the interpreter near this depth."""
    (tmp_path / "policy.yaml").write_text(NATIVE_FOR_ALL)
    depth = 100_000
    before = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before}\n---\n"
    result = run_cli(["--policy", str(tmp_path / "policy.yaml")], before + pod_with("  n: " + "[" * depth + "]" * depth + "\n"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert re.search(r"<stdin>:\d+:\d+ document 2\b", result.stderr), result.stderr  # where, not whose words
    assert result.stdout == before.removesuffix(b"---\n")  # nothing before the bad document is lost


def test_nesting_just_below_the_limit_is_processed():
    depth = yamlnodes.MAX_DEPTH - 10
    data = pod_with("  nested: " + "[" * depth + "]" * depth + "\n")
    outcomes: list = []
    out = render(policy(), data, outcomes=outcomes)
    assert ANNOTATION_LINE in out and len(outcomes) == 1


def test_a_document_of_too_many_nodes_is_refused_before_it_is_built():
    data = pod_with("  env: [" + "1," * (yamlnodes.MAX_EXPANDED_NODES + 10) + "1]\n")
    assert f"more than {yamlnodes.MAX_EXPANDED_NODES:,} YAML nodes" in input_error(data).message


# --- encoding, BOM, tabs -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Pod", "ConfigMap"])
def test_non_utf8_bytes_are_an_error_with_their_line(kind):
    data = f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: web\n".encode() + b"  labels: {a: caf\xe9}\n"
    error = input_error(b"---\napiVersion: v1\nkind: Secret\n---\n" + data)
    assert "not UTF-8" in error.message
    assert error.location.line == 9 and error.location.document == 2


def test_a_utf16_stream_is_a_clean_error():
    error = input_error(POD.encode("utf-16"))
    assert "not UTF-8" in error.message


def test_a_leading_bom_is_kept_and_the_document_still_edited():
    data = b"\xef\xbb\xbf" + POD.encode()
    out = render(policy(), data)
    assert out.startswith(b"\xef\xbb\xbfapiVersion: v1\n") and ANNOTATION_LINE in out
    assert render(policy(), out) == out


@pytest.mark.parametrize("first_key", ["kind: Pod\napiVersion: v1\n", "apiVersion: v1\nkind: Pod\n"])
def test_a_bom_after_a_document_marker_is_an_error_not_a_skipped_workload(first_key):
    """libyaml reads `---\\n<BOM>kind: Pod` in a stream as a Pod: leaving it alone would be wrong."""
    data = b"apiVersion: v1\nkind: Secret\n---\n\xef\xbb\xbf" + first_key.encode() + b"metadata: {name: x}\n"
    error = input_error(data)
    assert "byte order mark" in error.message and error.location.line == 4


def test_tab_indentation_in_a_workload_is_an_error_with_its_line():
    error = input_error(b"apiVersion: v1\nkind: Pod\nmetadata:\n\tname: web\n")
    assert error.location.line == 4


def test_tabs_inside_values_of_a_passed_through_document_are_kept():
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: \"a\\tb\"\n  raw: |\n    a\tb\n"
    assert render(policy(), data) == data


# --- duplicate keys ----------------------------------------------------------------------------

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team
  labels:
    app: web
spec:
  template:
    metadata:
      labels:
        app: web
      annotations:
        sidecar.istio.io/nativeSidecar: "false"
    spec:
      containers: []
"""


@pytest.mark.parametrize("index, duplicate", [
    (2, "kind: Deployment"),
    (4, "  name: other"),
    (5, "  namespace: other"),
    (7, "    app: other"),
    (7, "metadata: {}"),
    (16, "  template: {}"),
    (12, "        app: other"),
    (14, '        sidecar.istio.io/nativeSidecar: "true"'),
])
def test_a_duplicate_key_the_policy_reads_is_an_error_at_its_line(index, duplicate):
    lines = DEPLOYMENT.splitlines()
    lines.insert(index, duplicate)
    error = input_error(("\n".join(lines) + "\n").encode())
    assert "duplicate key" in error.message
    assert error.location.line == index + 1


# --- tags ------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["metadata", "spec", "label", "annotation", "document"])
@pytest.mark.parametrize("tag", PYTHON_TAGS)
def test_python_tags_in_a_workload_are_never_constructed(tmp_path, where, tag):
    marker = tmp_path / "executed"
    value = tag.format(marker=marker)
    text = {
        "metadata": f"apiVersion: v1\nkind: Pod\nmetadata: {value}\n",
        "spec": f"apiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\nspec: {value}\n",
        "label": f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {{a: {value}}}\n",
        "annotation": f"apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    sidecar.istio.io/nativeSidecar: {value}\n",
        "document": f"--- {value}\n",
    }[where]
    for outcomes in (None, []):
        try:
            out = render(policy(), text.encode(), outcomes=outcomes)
        except InputError:
            continue
        assert value.encode() in out or where == "annotation"
    assert not marker.exists()


def test_a_tag_yaml_cannot_build_data_from_is_an_input_error():
    data = pod_with("  priority: !!int high\n")
    assert render(policy(), data)  # the engine itself never builds the spec...
    assert "invalid literal" in input_error(data, outcomes=[]).message  # ...reports do, and fail cleanly


def test_unknown_tags_are_left_in_place():
    data = b"apiVersion: v1\nkind: Pod\nmetadata: !custom\n  name: x\nspec: !other {}\n"
    out = render(policy(), data)
    assert out == data.replace(b"  name: x\n", b"  name: x\n  annotations:\n    " + ANNOTATION_LINE + b"\n")


# --- the command line never shows a traceback -------------------------------------------------

HOSTILE_STREAMS = {
    "alias-bomb": pod_with("x-bomb:\n" + alias_bomb()),
    "recursive-alias": b"apiVersion: v1\nkind: Pod\nmetadata: &m\n  labels: *m\n",
    "deep": pod_with("  n: " + "{a: " * 20_000 + "}" * 20_000 + "\n"),
    "latin-1": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: caf\xe9\n",
    "stray-bom": b"a: 1\n---\n\xef\xbb\xbfkind: Pod\n",
    "tabs": b"kind: Pod\nmetadata:\n\tname: x\n",
    "duplicate": b"kind: Pod\nkind: Pod\n",
    "bad-yaml": b"kind: Pod\nmetadata: {name: [x}\n",
    "nul": b"kind: Pod\nmetadata: {name: \"\x00\"}\n",
    "complex-key": b"kind: Pod\nmetadata:\n  ? [a, b]\n  : c\n",
    "two-documents-in-one": b"kind: Pod\n--- \nkind: Pod\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_STREAMS))
def test_the_command_reports_hostile_input_in_one_line(tmp_path, name):
    (tmp_path / "policy.yaml").write_text(NATIVE_FOR_ALL)
    result = run_cli(["--policy", str(tmp_path / "policy.yaml")], HOSTILE_STREAMS[name])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.returncode == 0:
        list(yaml.compose_all(result.stdout, Loader=yaml.CSafeLoader))  # what it wrote instead must be YAML
    else:
        assert result.returncode == 1
        assert re.fullmatch(r"sidecar-policy: error: <stdin>:\S* document \d+.*\n", result.stderr)


# --- found by the property tests (tests/test_properties.py) ------------------------------------

@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"# Source: x.yaml\n"])
def test_a_workload_written_on_its_marker_line_is_not_skipped(prefix):
    data = prefix + b"--- {apiVersion: v1, kind: Pod, metadata: {name: x}}\n"
    out = render(policy(), data)
    assert out.startswith(prefix + b"--- {") and out.count(b"\n") == data.count(b"\n")
    assert yaml.safe_load(out.lstrip(b"\xef\xbb\xbf"))["metadata"]["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}


# --- found by fuzzing (fuzz/run.py) -----------------------------------------------------------

@pytest.mark.parametrize("metadata", ["labe 9080", "[a, b]", "7"])
@pytest.mark.parametrize("fallback", ["default", "keep"])
def test_a_template_whose_metadata_is_no_mapping_is_reported_not_crashed_on(metadata, fallback):
    """Outcome.template (what reports read) assumed metadata was a mapping: AttributeError. Such a
    manifest is the user's mistake (issue 15): exit 1 at the field, whatever the decision."""
    data = f"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    metadata: {metadata}\n".encode()
    with pytest.raises(InputError) as caught:
        render(policy(POLICY_HEADER + f"spec:\n  fallback: {fallback}\n"), data, outcomes=[])
    assert caught.value.location.line == 5 and "template.metadata must be a mapping" in caught.value.message


@pytest.mark.parametrize("mode, annotations, expected", [
    ("native", "{}", {"metadata": {"annotations": {"sidecar.istio.io/nativeSidecar": "true"}}}),
    ("regular", "null", {"metadata": {"annotations": {"sidecar.istio.io/nativeSidecar": "false"}}}),
    ("default", '{sidecar.istio.io/nativeSidecar: "true"}', {"metadata": {}}),
    ("default", '{sidecar.istio.io/nativeSidecar: "true", a: b}', {"metadata": {"annotations": {"a": "b"}}}),
])
def test_the_reported_template_is_what_was_written(mode, annotations, expected):
    data = f"apiVersion: v1\nkind: PodTemplate\ntemplate:\n  metadata:\n    annotations: {annotations}\n".encode()
    outcomes: list = []
    out = render(policy(POLICY_HEADER + f"spec:\n  fallback: {mode}\n"), data, outcomes=outcomes)
    written = yaml.safe_load(out)["template"]
    assert outcomes[0].template == expected == {key: value or {} for key, value in written.items()}


# --- YAML inside input: annotation values, repository files -----------------------------------

def test_a_billion_laughs_proxy_config_annotation_is_not_expanded():
    """convert (and check's findings) read proxy.istio.io/config as YAML: with guards, since it is input."""
    from postrender.core import convert, istio

    bomb = "x:\n" + alias_bomb() + "holdApplicationUntilProxyStarts: true\n"
    assert convert._holds_application({istio.PROXY_CONFIG_ANNOTATION: bomb}, False) is False
    deep = "holdApplicationUntilProxyStarts: true\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert convert._holds_application({istio.PROXY_CONFIG_ANNOTATION: deep}, False) is False
    fine = "holdApplicationUntilProxyStarts: true\n"
    assert convert._holds_application({istio.PROXY_CONFIG_ANNOTATION: fine}, False) is True


@pytest.mark.parametrize("content", [
    "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: &a [x, x, x, x, x, x, x, x, x], "
    + ", ".join(f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 1 else f'l{i - 1}'}"] * 9) + "]" for i in range(1, 10)) + "}}\n",
    "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: " + "[" * 100_000 + "]" * 100_000 + "}\n",
], ids=["alias-bomb", "deep-nesting"])
def test_a_hostile_file_in_an_argo_cd_directory_app_is_a_clean_error(tmp_path, content):
    """The repo-server reads a directory app's files: a bomb or deep nesting must not take it down."""
    import io as io_

    from postrender.argocd.sources import read_directory

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "bomb.yaml").write_text(content)
    with pytest.raises(InputError, match="bomb.yaml"):  # names the file; the wording is the YAML layer's
        read_directory(tmp_path / "app", tmp_path, set(), io_.StringIO())


@pytest.mark.parametrize("extra, problem", [
    ("x-flag: !true yes\n", "could not determine a constructor"),
    ("x-count: !!int many\n", "cannot read the document's data"),
    ("x-deep: " + "[" * 900 + "]" * 900 + "\n", "nested too deeply"),
])
def test_converting_an_injected_workload_with_unreadable_data_is_an_input_error(extra, problem):
    """The conversion builds the whole document as data (reemit.construct): a custom tag or deep
    nesting raised ConstructorError or RecursionError, an internal error."""
    injected = (ISTIO_GOLDEN / "flip-hello-cni" / "regular.injected.yaml").read_bytes()
    converting = POLICY_HEADER + "spec:\n  fallback: native\n  convertInjected: true\n  meshDefault: regular\n"
    assert b"initContainers" in render(policy(converting), injected)  # converts without the extra
    error = input_error(injected.replace(b"status: {}\n", b"status: {}\n" + extra.encode()), converting)
    assert problem in error.message or "cannot read the document's data" in error.message


@pytest.mark.parametrize("key", ["on", "1", "null", "2024-01-01"])
def test_a_template_with_keys_that_are_not_strings_is_reported(key):
    """YAML reads `on:` as the boolean true and `1:` as an integer: placing a new `metadata` key
    by sort order compared them with strings (TypeError, exit 70)."""
    data = f"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    {key}: x\n    spec: {{}}\n".encode()
    outcomes: list = []
    out = render(policy(), data, outcomes=outcomes)
    assert outcomes[0].template["metadata"] == {"annotations": {"sidecar.istio.io/nativeSidecar": "true"}}
    assert yaml.safe_load(out)["spec"]["template"]["metadata"] == outcomes[0].template["metadata"]
