"""`sidecar-policy krm` as the KRM functions spec asks (kubernetes-sigs/kustomize
cmd/config/docs/api-conventions/functions-spec.md): ResourceList in, ResourceList out, the
items' orchestrator annotations and comments kept, warnings and errors in `results`."""

from __future__ import annotations

import json

import yaml

from postrender.core.policy import parse_policy
from tests.support.helpers import post_render
from tests.support.kustomize_tools import sidecar_policy
from tests.support.paths import ISTIO_GOLDEN

# As kpt writes it: compact sequences, comments, its annotations on items and on the functionConfig.
RESOURCE_LIST = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- # the web tier
  apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    annotations:
      config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/path: 'apps/web.yaml'
      internal.config.kubernetes.io/index: '0'
  spec:
    template:
      metadata:
        labels:
          app: web # keep me
      spec:
        containers:
        - name: app
          image: app
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    annotations:
      internal.config.kubernetes.io/path: 'apps/web.yaml'
      internal.config.kubernetes.io/index: '1'
  data:
    enabled: on
    text: |
      ---
      not a document
functionConfig:
  apiVersion: sidecar-policy/v1alpha1
  kind: SidecarPolicy
  metadata:
    name: mesh
    annotations:
      config.kubernetes.io/local-config: 'true'
      internal.config.kubernetes.io/path: 'policy.yaml'
  spec:
    rules:
    - name: web-is-native
      match: {kinds: [Deployment]}
      sidecar: native
    - name: jobs
      match: {kinds: [Job]}
      sidecar: regular
"""


def krm(text: str):
    done = sidecar_policy("krm", stdin=text.encode())
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_only_the_annotation_and_the_results_are_added():
    code, out, err = krm(RESOURCE_LIST)
    assert code == 0, err
    edited = RESOURCE_LIST.replace(
        "          app: web # keep me\n",
        "          app: web # keep me\n        annotations:\n          sidecar.istio.io/nativeSidecar: \"true\"\n",
    )
    results = (
        "results:\n"
        "- message: 'set sidecar.istio.io/nativeSidecar: \"true\" (web-is-native)'\n"
        "  severity: info\n"
        "  resourceRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n"
        "  file:\n    path: apps/web.yaml\n    index: 0\n"
        "- message: jobs matched no workload\n"
        "  severity: warning\n"
    )
    assert out == edited + results
    assert "jobs matched no workload" in err


def test_a_linkerd_function_config_writes_linkerds_key_for_its_release():
    linkerd = RESOURCE_LIST.replace("  spec:\n    rules:", '  spec:\n    mesh: linkerd\n    linkerdVersion: "2.20"\n    rules:', 1)
    code, out, err = krm(linkerd)
    assert code == 0, err
    result = yaml.safe_load(out)
    assert result["items"][0]["spec"]["template"]["metadata"]["annotations"] == {
        "config.linkerd.io/proxy-enable-native-sidecar": "true"}
    assert result["results"][0]["message"] == 'set config.linkerd.io/proxy-enable-native-sidecar: "true" (web-is-native)'


def test_results_from_an_earlier_function_are_replaced():
    code, out, _ = krm(RESOURCE_LIST + "results:\n- message: old\n  severity: info\n")
    assert code == 0
    assert "old" not in out
    assert out.count("results:") == 1


def test_a_json_resource_list_gets_json_results():
    data = yaml.safe_load(RESOURCE_LIST)
    code, out, err = krm(json.dumps(data, indent=1))
    assert code == 0, err
    result = yaml.safe_load(out)
    template = result["items"][0]["spec"]["template"]["metadata"]
    assert template["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}
    assert [r["severity"] for r in result["results"]] == ["info", "warning"]
    assert result["items"][1] == data["items"][1]


def test_a_bad_policy_is_an_error_result_and_the_items_stay():
    broken = RESOURCE_LIST.replace("sidecar: native", "sidecar: maybe")
    code, out, err = krm(broken)
    assert code == 2
    assert out.startswith(broken)
    result = yaml.safe_load(out)["results"]
    assert len(result) == 1 and result[0]["severity"] == "error"
    line = broken.splitlines().index("      sidecar: maybe") + 1
    assert result[0]["message"] == f"functionConfig:{line}:16: spec.rules[0].sidecar must be one of native, regular, default, not 'maybe'"
    assert "sidecar must be one of" in err


def test_a_broken_item_is_an_error_result_that_points_at_it():
    broken = RESOURCE_LIST.replace("        labels:\n          app: web # keep me\n",
                                   "        annotations: {a: b}\n        annotations: {c: d}\n")
    code, out, _ = krm(broken)
    assert code == 1
    (result,) = yaml.safe_load(out)["results"]
    assert result["severity"] == "error"
    assert "duplicate key 'annotations'" in result["message"]
    assert result["resourceRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert result["file"] == {"path": "apps/web.yaml", "index": 0}


def test_without_a_function_config_the_list_comes_back_with_an_error_result():
    """The spec makes functionConfig optional; without a policy there is nothing to apply: the
    items come back unchanged with an error result (as kyaml's framework.Execute writes them), exit 2."""
    items_only = RESOURCE_LIST[: RESOURCE_LIST.index("functionConfig:")]
    config_map = items_only + "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data: {}\n"
    for resource_list, says in ((items_only, "is missing"), (config_map, "is a ConfigMap")):
        code, out, err = krm(resource_list)
        assert code == 2
        assert out.startswith(resource_list)
        (result,) = yaml.safe_load(out)["results"]
        assert result["severity"] == "error"
        assert f"functionConfig {says}" in result["message"] and "it must be the SidecarPolicy" in result["message"]
        assert result["message"] in err


def test_input_that_is_not_a_resource_list_is_refused():
    code, out, err = krm("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert code == 1
    assert "must be a ResourceList" in err
    assert out == ""


def test_items_indented_under_their_key_are_edited_at_their_own_indentation():
    head, rest = RESOURCE_LIST.split("items:\n", 1)
    items, config = rest.split("functionConfig:", 1)
    wide = head + "items:\n" + "".join("  " + line if line.strip() else line for line in items.splitlines(True))
    wide += "functionConfig:" + config
    code, out, err = krm(wide)
    assert code == 0, err
    assert out.startswith(wide.replace(
        "            app: web # keep me\n",
        "            app: web # keep me\n          annotations:\n            sidecar.istio.io/nativeSidecar: \"true\"\n",
    ))


def test_policy_errors_point_at_the_line_of_stdin_wherever_the_function_config_is():
    head, rest = RESOURCE_LIST.split("items:\n", 1)
    items, config = rest.split("functionConfig:", 1)
    reordered = head + "functionConfig:" + config + "items:\n" + items
    broken = reordered.replace("sidecar: native", "sidecar: maybe")
    code, out, _ = krm(broken)
    assert code == 2
    line = broken.splitlines().index("      sidecar: maybe") + 1
    assert yaml.safe_load(out)["results"][0]["message"].startswith(f"functionConfig:{line}:16: ")


def test_convert_injected_works_through_the_resource_list():
    """The engine re-emits a converted document; the list carries it back like any other edit."""
    golden = ISTIO_GOLDEN / "head-hello"
    policy = ("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nmetadata: {name: p}\n"
              "spec:\n  convertInjected: true\n  fallback: native\n")
    item = golden.joinpath("regular.injected.yaml").read_text().removesuffix("---\n")  # the golden ends with one
    resource_list = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- "
                     + item.replace("\n", "\n  ").rstrip() + "\nfunctionConfig:\n  " + policy.replace("\n", "\n  ").rstrip() + "\n")
    code, out, err = krm(resource_list)
    assert code == 0, err
    (converted,) = yaml.safe_load(out)["items"]
    direct, _ = post_render(item.encode(), parse_policy(policy, "p"))
    assert converted == yaml.safe_load(direct)
    assert any(c["name"] == "istio-proxy" for c in converted["spec"]["template"]["spec"]["initContainers"])
