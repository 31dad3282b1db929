"""Installing the plugin: the Component built with the real `kubectl kustomize` over Argo CD's own
install.yaml (../shared/data/corpus/argo-cd-install.yaml), `sidecar-policy argocd install`, and the
facts of the Dockerfile (no hadolint here, and no image can be built).

What the sidecar must look like comes from Argo CD's config-management-plugins guide
(docs/operator-manual/config-management-plugins.md in argoproj/argo-cd).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from postrender import __version__
from postrender.argocd.install import (
    DEFAULT_IMAGE,
    image_for,
    render_install,
    yaml_string,
)
from postrender.cli import main
from postrender.core.errors import UsageError
from tests.support.paths import CORPUS

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "argocd-plugin"
COMPONENT_FILES = ("kustomization.yaml", "plugin.yaml", "repo-server-patch.yaml", "argo-helm-values.yaml")
POLICY = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: regular\n"

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def build(tmp_path: Path, component: Path) -> list[dict]:
    """A user's kustomization: Argo CD's install.yaml as a resource, the plugin as a component."""
    shutil.copy(CORPUS / "argo-cd-install.yaml", tmp_path / "install.yaml")
    shutil.copytree(component, tmp_path / "argocd-plugin")
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [install.yaml]\ncomponents: [argocd-plugin]\n"
    )
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True)
    return [doc for doc in yaml.load_all(built.stdout, Loader=yaml.CSafeLoader) if doc]


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@needs_kubectl
def test_component_adds_the_sidecar_and_changes_nothing_else(tmp_path):
    original = by_key([d for d in yaml.load_all((CORPUS / "argo-cd-install.yaml").read_text(), Loader=yaml.CSafeLoader) if d])
    built = by_key(build(tmp_path, PLUGIN_DIR))

    (config_map_key,) = [key for key in built if key not in original]
    assert config_map_key[0] == "ConfigMap" and config_map_key[1].startswith("sidecar-policy-plugin-")
    config_map = built.pop(config_map_key)
    assert config_map["data"] == {"plugin.yaml": (PLUGIN_DIR / "plugin.yaml").read_text()}

    repo_server = built.pop(("Deployment", "argocd-repo-server"))
    assert built == {key: obj for key, obj in original.items() if key != ("Deployment", "argocd-repo-server")}

    pod = repo_server["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["argocd-repo-server", "sidecar-policy"]  # repo-server stays first
    sidecar = pod["containers"][1]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["image"] == DEFAULT_IMAGE
    assert sidecar["securityContext"]["runAsNonRoot"] is True and sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert mounts["/var/run/argocd"]["name"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"]["name"] == "plugins"
    assert mounts["/home/argocd/cmp-server/config/plugin.yaml"] == {
        "name": "sidecar-policy-plugin", "mountPath": "/home/argocd/cmp-server/config/plugin.yaml", "subPath": "plugin.yaml",
    }  # fmt: skip
    assert mounts["/etc/sidecar-policy"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp_volume = mounts["/tmp"]["name"]
    assert tmp_volume != "tmp" and volumes[tmp_volume] == {"name": tmp_volume, "emptyDir": {}}  # not repo-server's /tmp
    assert volumes["sidecar-policy-plugin"]["configMap"]["name"] == config_map_key[1]  # the hashed name
    assert sidecar["resources"]["requests"] and sidecar["resources"]["limits"]["memory"]
    assert "sidecar-policy.sock" in " ".join(sidecar["livenessProbe"]["exec"]["command"])
    assert "readinessProbe" not in sidecar

    # Everything else of repo-server is as Argo CD ships it.
    original_repo_server = original[("Deployment", "argocd-repo-server")]
    stripped = copy.deepcopy(repo_server)
    stripped_pod = stripped["spec"]["template"]["spec"]
    stripped_pod["containers"] = stripped_pod["containers"][:1]
    stripped_pod["volumes"] = [v for v in stripped_pod["volumes"] if v["name"] not in ("sidecar-policy-plugin", tmp_volume)]
    assert stripped == original_repo_server
    # Every volume the sidecar mounts exists in the pod.
    assert {m["name"] for m in sidecar["volumeMounts"]} <= set(volumes)


@needs_kubectl
def test_installed_default_policy_lands_in_the_config_map(tmp_path):
    component = tmp_path / "component"
    component.mkdir()
    for name, content in render_install("registry.example/sidecar-policy:1.2.3", POLICY).items():
        (component / name).write_text(content)
    (tmp_path / "build").mkdir()
    built = by_key(build(tmp_path / "build", component))
    (config_map,) = [o for (_, name), o in built.items() if name.startswith("sidecar-policy-plugin-")]
    assert config_map["data"]["default-policy.yaml"] == POLICY
    sidecar = built[("Deployment", "argocd-repo-server")]["spec"]["template"]["spec"]["containers"][1]
    assert sidecar["image"] == "registry.example/sidecar-policy:1.2.3"


def test_checked_in_component_is_what_install_renders():
    """argocd-plugin/ is `sidecar-policy argocd install --argocd-version v3.5.0`: no drift."""
    assert DEFAULT_IMAGE == image_for("v3.5.0") == f"ghcr.io/sidecar-policy/argocd-cmp:{__version__}-helm4"
    for name, content in render_install(DEFAULT_IMAGE).items():
        assert (PLUGIN_DIR / name).read_text() == content, f"argocd-plugin/{name} is stale: re-run the install command"


def test_install_command_writes_the_files(tmp_path, capsys):
    policy = tmp_path / "default.yaml"
    policy.write_text(POLICY)
    out = tmp_path / "out"
    code = main(["argocd", "install", "--image", "ghcr.io/acme/sidecar-policy:9.9@sha256:" + "a" * 64,
                 "--default-policy", str(policy), "--output-dir", str(out)])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(COMPONENT_FILES + ("default-policy.yaml",))
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    assert kustomization["configMapGenerator"][0]["files"] == ["plugin.yaml", "default-policy.yaml"]
    patch = yaml.safe_load((out / "repo-server-patch.yaml").read_text())
    assert patch[0]["value"]["image"] == "ghcr.io/acme/sidecar-policy:9.9@sha256:" + "a" * 64
    assert capsys.readouterr().out == ""  # stdout stays for manifests


@pytest.mark.parametrize(
    "version, helm",
    [("v2.14.21", 3), ("2.14", 3), ("v3.4.13", 3), ("v3.5.0-rc1", 4), ("v3.5.0", 4), ("3.5.7", 4), ("v3.6.1", 4), ("v4.0.0", 4)],
)
def test_the_image_has_the_helm_major_of_the_users_argo_cd(version, helm):
    """Argo CD ships Helm 3 up to 3.4 and Helm 4 from 3.5 (hack/tool-versions.sh at v3.4.7 and v3.5.0)."""
    assert image_for(version) == f"ghcr.io/sidecar-policy/argocd-cmp:{__version__}-helm{helm}"


@pytest.mark.parametrize("argv", [[], ["--argocd-version", "latest"], ["--argocd-version", "v3.5.0", "--image", "x:1"]])
def test_install_needs_exactly_one_of_argocd_version_and_image(tmp_path, capsys, argv):
    assert main(["argocd", "install", *argv, "-o", str(tmp_path / "o")]) == 2
    assert "--argocd-version" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_argo_helm_values_add_the_same_sidecar_as_the_component():
    """The argo-cd chart mounts argocd-cmp-cm's `<plugin>.yaml` key, written from configs.cmp.plugins
    (argoproj/argo-helm charts/argo-cd/templates/argocd-configs/argocd-cmp-cm.yaml), and adds
    repoServer.extraContainers, repoServer.volumes and extraObjects as given (templates/argocd-repo-server/
    deployment.yaml, templates/extra-manifests.yaml). No chart can be fetched here, so this compares with
    the Component, which is built with the real kustomize above."""
    files = render_install("registry.example/sidecar-policy:1.2.3", POLICY)
    values = yaml.safe_load(files["argo-helm-values.yaml"])
    component_sidecar = yaml.safe_load(files["repo-server-patch.yaml"])[0]["value"]
    plugin = yaml.safe_load(files["plugin.yaml"])

    assert values["configs"]["cmp"] == {"create": True, "plugins": {"sidecar-policy": plugin["spec"]}}
    (sidecar,) = values["repoServer"]["extraContainers"]
    rename = {"argocd-cmp-cm": "sidecar-policy-plugin", "sidecar-policy-default": "sidecar-policy-plugin"}
    for mount in sidecar["volumeMounts"]:
        mount["name"] = rename.get(mount["name"], mount["name"])
        if mount.get("subPath") == "sidecar-policy.yaml":  # the chart's key for plugin `sidecar-policy`
            mount["subPath"] = "plugin.yaml"
    assert sidecar == component_sidecar
    volumes = {v["name"]: v for v in values["repoServer"]["volumes"]}
    assert volumes["argocd-cmp-cm"]["configMap"]["name"] == "argocd-cmp-cm"
    assert volumes["sidecar-policy-default"]["configMap"]["name"] == "sidecar-policy-default"
    assert volumes["sidecar-policy-tmp"] == {"name": "sidecar-policy-tmp", "emptyDir": {}}
    (config_map,) = values["extraObjects"]
    assert config_map["metadata"]["name"] == "sidecar-policy-default"
    assert config_map["data"] == {"default-policy.yaml": POLICY}

    without_default = yaml.safe_load(render_install("x:1")["argo-helm-values.yaml"])
    assert "extraObjects" not in without_default
    assert all(m["mountPath"] != "/etc/sidecar-policy" for m in without_default["repoServer"]["extraContainers"][0]["volumeMounts"])


def test_install_refuses_a_broken_default_policy(tmp_path, capsys):
    policy = tmp_path / "default.yaml"
    policy.write_text(POLICY.replace("regular", "sometimes"))
    assert main(["argocd", "install", "--image", "x:1", "--default-policy", str(policy), "-o", str(tmp_path / "o")]) == 2
    assert "default.yaml" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("image", ["", "nginx\nkind: Secret", 'a" b', "UPPER/case:1", "x:1 --privileged"])
def test_install_refuses_what_is_not_an_image_reference(image):
    with pytest.raises(UsageError):
        render_install(image)


@pytest.mark.parametrize("text", ['a"b', "line\nbreak", "#not-a-comment", "key: value", "\\", "ünï"])
def test_yaml_string_keeps_any_text_one_value(text):
    assert yaml.safe_load(f"image: {yaml_string(text)}\n") == {"image": text}


def test_templates_are_sandboxed():
    """A template may not reach Python internals (jinja2's sandbox refuses unsafe attributes)."""
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    with pytest.raises(SecurityError):
        SandboxedEnvironment().from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


# The image definition, argocd-plugin/Dockerfile, is checked in tests/test_image.py.


@pytest.mark.parametrize("argv", [["argocd"], ["argocd", "deploy"], ["argocd", "install"], ["argocd", "generate", "x"]])
def test_command_line_mistakes_are_usage_errors(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err
