"""Converting an injected istio-proxy must give exactly what Istio's injector writes in the other mode.

The oracle is shared/data/istio-golden: verbatim goldens of istio/istio pkg/kube/inject.
"""

from __future__ import annotations

import copy

import pytest

from postrender.core import convert, keyorder
from postrender.core.errors import InputError
from tests.support.istio_cases import MESH_HOLD, as_data, golden_path, load_all, pair_cases, pod_templates
from tests.support.paths import CORPUS, ISTIO_GOLDEN

OTHER = {"native": "regular", "regular": "native"}


def convert_docs(docs: list, target: str, *, hold: bool) -> list[bool]:
    return [
        convert.convert_template(template, target, hold_application=hold, outer_metadata=outer)
        for doc in docs
        for template, outer in pod_templates(doc)
    ]


@pytest.mark.parametrize("target", ["native", "regular"])
@pytest.mark.parametrize("case", pair_cases())
def test_conversion_reproduces_istio_golden(case: str, target: str) -> None:
    docs = load_all(golden_path(case, OTHER[target]))
    changed = convert_docs(docs, target, hold=case in MESH_HOLD)
    assert changed and all(changed)
    assert as_data(docs) == as_data(load_all(golden_path(case, target)))


@pytest.mark.parametrize("form", ["native", "regular"])
@pytest.mark.parametrize("case", pair_cases())
def test_pod_already_in_target_form_is_left_alone(case: str, form: str) -> None:
    docs = load_all(golden_path(case, form))
    before = copy.deepcopy(docs)
    assert not any(convert_docs(docs, form, hold=case in MESH_HOLD))
    assert docs == before


@pytest.mark.parametrize(
    ("opted", "target", "expected_case"),
    [
        # The opt-out pod is head-pod's input plus the annotation; the opt-in one is head-native-sidecar's.
        ("head-native-sidecar-opt-out", "native", "head-pod"),
        ("head-native-sidecar-opt-in", "regular", "head-native-sidecar"),
    ],
)
def test_opted_in_or_out_pod_converts_like_its_twin(opted: str, target: str, expected_case: str) -> None:
    docs = load_all(ISTIO_GOLDEN / opted / "injected.yaml")
    assert all(convert_docs(docs, target, hold=False))
    assert as_data(docs) == as_data(load_all(golden_path(expected_case, target)))


def test_user_native_sidecar_stays_behind_istio_in_native_form() -> None:
    docs = load_all(ISTIO_GOLDEN / "head-native-sidecar-opt-in" / "injected.yaml")
    convert_docs(docs, "regular", hold=False)
    spec = docs[0]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["other-sidecar", "istio-init"]
    assert [c["name"] for c in spec["containers"]] == ["hello", "istio-proxy"]
    assert spec["initContainers"][0]["restartPolicy"] == "Always"  # the user's own sidecar is untouched


def test_reinjection_leftovers_are_not_reproduced() -> None:
    """Istio re-injecting this regular pod natively keeps the old postStart hook; a conversion does not."""
    folder = ISTIO_GOLDEN / "reinject-merge-probers"
    reinjected = load_all(folder / "reinjected-native.yaml")[0]["spec"]["template"]["spec"]["initContainers"]
    assert "postStart" in next(c for c in reinjected if c["name"] == "istio-proxy")["lifecycle"]

    docs = load_all(folder / "input-already-injected-regular.yaml")
    assert all(convert_docs(docs, "native", hold=False))
    proxy = next(c for c in docs[0]["spec"]["template"]["spec"]["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["lifecycle"] == {
        "preStop": {"exec": {"command": ["pilot-agent", "request", "--debug-port=15020", "POST", "drain"]}}
    }


def test_hold_in_pod_proxy_config_overrides_the_mesh_setting() -> None:
    case = "flip-hello-probes-proxyHoldApplication-ProxyConfig"  # the pod asks for hold itself
    docs = load_all(golden_path(case, "native"))
    convert_docs(docs, "regular", hold=False)
    assert as_data(docs) == as_data(load_all(golden_path(case, "regular")))

    template = load_all(golden_path(case, "native"))[0]["spec"]["template"]
    template["metadata"]["annotations"]["proxy.istio.io/config"] = "holdApplicationUntilProxyStarts: false"
    convert.convert_template(template, "regular", hold_application=True)
    proxy = template["spec"]["containers"][-1]
    assert proxy["name"] == "istio-proxy" and "lifecycle" not in proxy


def test_helm_value_hold_wins_over_the_pods_own_setting() -> None:
    """Istio ORs values.global.proxy.holdApplicationUntilProxyStarts in (webhook.go reorderPod): no pod turns it off.

    Found by the Istio-injector oracle (test_istio_oracle.py, mesh setting values-hold).
    """
    case = "flip-hello-probes-proxyHoldApplication-ProxyConfig"
    template = load_all(golden_path(case, "native"))[0]["spec"]["template"]
    template["metadata"]["annotations"]["proxy.istio.io/config"] = "holdApplicationUntilProxyStarts: false"
    convert.convert_template(template, "regular", hold_application=True, hold_always=True)
    expected = load_all(golden_path(case, "regular"))[0]["spec"]["template"]["spec"]["containers"][0]
    assert template["spec"]["containers"][0] == expected  # istio-proxy first, with the postStart wait


def test_status_port_annotation_sets_the_drain_port() -> None:
    template = load_all(golden_path("head-hello", "regular"))[0]["spec"]["template"]
    template["metadata"]["annotations"]["status.sidecar.istio.io/port"] = "15999"
    assert convert.convert_template(template, "native", hold_application=False)
    proxy = template["spec"]["initContainers"][1]
    assert proxy["lifecycle"]["preStop"]["exec"]["command"][2] == "--debug-port=15999"
    assert convert.convert_template(template, "regular", hold_application=False)
    assert "lifecycle" not in template["spec"]["containers"][-1]


def test_foreign_proxy_lifecycle_is_kept() -> None:
    """A lifecycle from values.global.proxy.lifecycle applies to both forms: it is not replaced."""
    template = load_all(golden_path("head-hello", "regular"))[0]["spec"]["template"]
    hook = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    next(c for c in template["spec"]["containers"] if c["name"] == "istio-proxy")["lifecycle"] = hook
    convert.convert_template(template, "native", hold_application=False)
    assert template["spec"]["initContainers"][1]["lifecycle"] == hook


def _gateway_templates() -> list[tuple[str, dict]]:
    docs = load_all(CORPUS / "istio-manifest-generate-all_on.golden.yaml")
    return [
        (doc["metadata"]["name"], doc["spec"]["template"])
        for doc in docs
        if isinstance(doc, dict) and doc.get("kind") == "Deployment"
    ]


@pytest.mark.parametrize("target", ["native", "regular"])
def test_gateways_whose_only_container_is_istio_proxy_are_never_converted(target: str) -> None:
    templates = _gateway_templates()
    assert {"istio-ingressgateway", "istio-egressgateway"} <= {name for name, _ in templates}
    for _, template in templates:
        before = copy.deepcopy(template)
        assert convert.injected_form(template) is None
        assert not convert.convert_template(template, target, hold_application=False)
        assert template == before


def _injected(form: str = "regular") -> dict:
    return load_all(golden_path("head-hello", form))[0]["spec"]["template"]


def test_gateway_shape_with_status_annotation_is_not_converted() -> None:
    template = _injected()
    template["spec"]["containers"] = [c for c in template["spec"]["containers"] if c["name"] == "istio-proxy"]
    assert convert.injected_form(template) is None


def test_inject_false_is_not_converted() -> None:
    template = _injected()
    template["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    assert not convert.convert_template(template, "native", hold_application=False)


def test_user_istio_proxy_without_status_annotation_is_not_converted() -> None:
    template = _injected()
    del template["metadata"]["annotations"]["sidecar.istio.io/status"]
    assert not convert.convert_template(template, "native", hold_application=False)


def test_status_that_disagrees_with_the_pod_is_not_converted() -> None:
    template = _injected("native")
    template["metadata"]["annotations"]["sidecar.istio.io/status"] = '{"containers":["istio-proxy"]}'
    assert convert.injected_form(template) is None


@pytest.mark.parametrize(
    ("mode", "mesh_default", "expected"),
    [("native", "regular", "native"), ("regular", "native", "regular"), ("default", "native", "native"),
     ("default", "regular", "regular"), ("keep", "native", None)],
)
def test_target_form(mode: str, mesh_default: str, expected: str | None) -> None:
    assert convert.target_form(mode, mesh_default) == expected


@pytest.mark.parametrize("version", [None, (1, 29), (1, 33), (2, 0)])
def test_native_support_accepted(version: tuple[int, int] | None) -> None:
    convert.require_native_support(version)


@pytest.mark.parametrize("version", [(1, 27), (1, 28)])
def test_native_support_refused_below_1_29(version: tuple[int, int]) -> None:
    with pytest.raises(InputError, match=r"Kubernetes 1\.2[78]: native sidecars need Kubernetes 1\.29") as raised:
        convert.require_native_support(version)
    assert ("SidecarContainers feature gate" in raised.value.message) == (version == (1, 28))


def test_set_key_places_new_keys_in_sorted_mappings_and_before_anchor_otherwise() -> None:
    sorted_mapping = {"a": 1, "c": 3}
    keyorder.set_key(sorted_mapping, "b", 2)
    assert list(sorted_mapping) == ["a", "b", "c"]
    written = {"name": "x", "image": "y", "containers": []}
    keyorder.set_key(written, "initContainers", [], before="containers")
    assert list(written) == ["name", "image", "initContainers", "containers"]
