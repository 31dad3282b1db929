"""End to end: `sidecar-policy --policy P` with convertInjected on injected manifests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from postrender.cli import main
from postrender.core.engine import Options, run
from postrender.core.policy import parse_policy
from tests.support.istio_cases import MESH_HOLD, as_data, golden_path, pair_cases
from tests.support.paths import CORPUS

OTHER = {"native": "regular", "regular": "native"}


def write_policy(tmp_path: Path, fallback: str, **spec: object) -> str:
    lines = ["apiVersion: sidecar-policy/v1alpha1", "kind: SidecarPolicy", "spec:", f"  fallback: {fallback}"]
    lines += [f"  {key}: {str(value).lower() if isinstance(value, bool) else value}" for key, value in spec.items()]
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def render(capsysbinary, *args: str) -> tuple[int, bytes, str]:
    code = main(list(args))
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode()


def data(stream: bytes | str) -> list:
    return [doc for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader) if doc is not None]


@pytest.mark.parametrize("target", ["native", "regular"])
@pytest.mark.parametrize("case", pair_cases())
def test_cli_converts_golden_to_the_other_form(tmp_path, capsysbinary, case: str, target: str) -> None:
    """Includes the CronJob (annotations on spec.jobTemplate.metadata) and the kind: List."""
    policy = write_policy(tmp_path, target, convertInjected=True, holdApplicationUntilProxyStarts=case in MESH_HOLD)
    code, out, err = render(capsysbinary, "--policy", policy, str(golden_path(case, OTHER[target])))
    assert code == 0, err
    assert as_data(data(out)) == as_data(data(golden_path(case, target).read_bytes()))
    expected = golden_path(case, target).read_text()
    # Only the policy's annotation lines differ from Istio's own output.
    added = [line.strip() for line in out.decode().splitlines() if line not in expected.splitlines()]
    assert added and set(added) <= {f'sidecar.istio.io/nativeSidecar: "{"true" if target == "native" else "false"}"',
                                     "metadata:", "annotations:"}


def test_cli_output_is_stable_when_run_again(tmp_path, capsysbinary) -> None:
    policy = write_policy(tmp_path, "native", convertInjected=True)
    _, first, _ = render(capsysbinary, "--policy", policy, str(golden_path("flip-list", "regular")))
    (tmp_path / "once.yaml").write_bytes(first)
    _, second, _ = render(capsysbinary, "--policy", policy, str(tmp_path / "once.yaml"))
    assert second == first


def test_only_the_converted_document_is_rewritten(tmp_path, capsysbinary) -> None:
    injected = golden_path("head-hello", "regular").read_text().split("---\n")[0]
    gateway_docs = (CORPUS / "istio-manifest-generate-all_on.golden.yaml").read_text().split("\n---\n")
    gateway = next(doc for doc in gateway_docs if "name: istio-ingressgateway\n" in doc and "kind: Deployment" in doc)
    stream = (
        "---\n# Source: app/templates/config.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
        "data:\n  k: 'v'   # a comment\n"
        "---\n# Source: app/templates/deployment.yaml\n" + injected
        + "---\n" + gateway.rstrip("\n") + "\n"
    )
    (tmp_path / "in.yaml").write_text(stream)
    policy = write_policy(tmp_path, "native", convertInjected=True)
    code, out, err = render(capsysbinary, "--policy", policy, str(tmp_path / "in.yaml"))
    assert code == 0, err
    parts = out.decode().split("---\n")
    original = stream.split("---\n")
    assert parts[1] == original[1]  # the ConfigMap, comment and quoting untouched
    assert parts[2].startswith("# Source: app/templates/deployment.yaml\napiVersion: apps/v1\n")
    assert [c["name"] for c in data(parts[2])[0]["spec"]["template"]["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    # The gateway only gets the policy's annotation, by a line edit; its istio-proxy stays the main container.
    assert [line for line in parts[3].splitlines() if line not in original[3].splitlines()] == [
        '        sidecar.istio.io/nativeSidecar: "true"'
    ]


def test_without_convert_injected_only_the_annotation_changes(tmp_path, capsysbinary) -> None:
    source = golden_path("head-hello", "regular")
    policy = write_policy(tmp_path, "native")
    code, out, _ = render(capsysbinary, "--policy", policy, str(source))
    assert code == 0
    changed = [line for line in out.decode().splitlines() if line not in source.read_text().splitlines()]
    assert [line.strip() for line in changed] == ['sidecar.istio.io/nativeSidecar: "true"']


@pytest.mark.parametrize(("mesh_default", "expected"), [("regular", "regular"), ("native", "native")])
def test_default_means_the_mesh_default(tmp_path, capsysbinary, mesh_default: str, expected: str) -> None:
    policy = write_policy(tmp_path, "default", convertInjected=True, meshDefault=mesh_default)
    _, out, _ = render(capsysbinary, "--policy", policy, str(golden_path("head-pod", OTHER[expected])))
    converted = data(out)
    assert as_data(converted) == as_data(data(golden_path("head-pod", expected).read_bytes()))
    assert "sidecar.istio.io/nativeSidecar" not in converted[0]["metadata"]["annotations"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_converting_to_native_is_refused_below_kubernetes_1_29(tmp_path, capsysbinary, monkeypatch, how: str) -> None:
    policy = write_policy(tmp_path, "native", convertInjected=True)
    args = ["--policy", policy, str(golden_path("head-job", "regular"))]
    if how == "flag":
        args[:0] = ["--kube-version", "1.28"]
    else:
        monkeypatch.setenv("KUBE_VERSION", "v1.27.3")
    code, _, err = render(capsysbinary, *args)
    assert code == 1
    assert "native sidecars need Kubernetes 1.29 or later" in err and "document 1" in err


@pytest.mark.parametrize(("version", "target"), [("1.29", "native"), ("1.27", "regular")])
def test_supported_conversions_pass_the_version_check(tmp_path, capsysbinary, version: str, target: str) -> None:
    policy = write_policy(tmp_path, target, convertInjected=True)
    code, out, err = render(capsysbinary, "--kube-version", version, "--policy", policy, str(golden_path("head-job", OTHER[target])))
    assert code == 0, err
    assert as_data(data(out)) == as_data(data(golden_path("head-job", target).read_bytes()))


def test_outcome_reports_the_converted_template() -> None:
    policy = parse_policy("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: native\n  convertInjected: true\n", "inline")
    outcomes = []
    run(policy, io.BytesIO(golden_path("flip-list", "regular").read_bytes()), io.BytesIO(), Options(), outcomes.append)
    assert [o.action for o in outcomes] == ["converted", "converted"]
    template = outcomes[0].template
    assert [c["name"] for c in template["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    assert template["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"


def test_converted_document_keeps_timestamps_and_comment_header(tmp_path, capsysbinary) -> None:
    injected = golden_path("head-statefulset", "regular").read_text().split("---\n")[0]
    injected = injected.replace("  name: hello\n", "  name: hello\n  creationTimestamp: 2024-01-01T00:00:00Z\n", 1)
    (tmp_path / "in.yaml").write_text("# Licence header\n---\n# Source: app/templates/sts.yaml\n" + injected)
    policy = write_policy(tmp_path, "native", convertInjected=True)
    code, out, err = render(capsysbinary, "--policy", policy, str(tmp_path / "in.yaml"))
    assert code == 0, err
    text = out.decode()
    assert text.startswith("# Licence header\n---\n# Source: app/templates/sts.yaml\napiVersion: apps/v1\n")
    assert "  creationTimestamp: 2024-01-01T00:00:00Z\n" in text


def test_a_plain_merge_key_word_as_a_value_converts_as_the_string_it_is(tmp_path, capsysbinary) -> None:
    """kube-inject writes the argument `<<` unquoted; Kubernetes reads a string, PyYAML a merge key.

    Found by the Istio-injector oracle (test_istio_oracle.py); it used to stop the conversion with exit 1.
    """
    text = golden_path("head-hello", "regular").read_text()
    anchor = "      - image: fake.docker.io/google-samples/hello-go-gke:1.0\n"
    assert anchor in text
    source = tmp_path / "in.yaml"
    source.write_text(text.replace(anchor, "      - args:\n        - <<\n" + anchor.replace("- image", "  image")))
    policy = write_policy(tmp_path, "native", convertInjected=True)
    code, out, err = render(capsysbinary, "--policy", policy, str(source))
    assert code == 0, err
    hello = data(out)[0]["spec"]["template"]["spec"]["containers"][0]
    assert hello["name"] == "hello" and hello["args"] == ["<<"]
    assert '- "<<"' in out.decode()  # quoted, so no reader can take it for a merge key
