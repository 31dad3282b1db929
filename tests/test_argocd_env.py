"""The Argo CD contract pieces: environment, parameters, repository boundary, the helm command line.

Expected values come from Argo CD's source (cited in postrender/argocd/env.py and
sources.py), not from our own output.
"""

from __future__ import annotations

import io
import json
import os
import sys

import pytest
import yaml

from postrender.argocd.env import (
    AppEnv,
    Parameter,
    repository_root,
    resolve_in_repository,
)
from postrender.argocd.sources import (
    _shown_command,
    helm_template_argv,
    read_directory,
    source_kind,
)
from postrender.core.errors import InputError, UsageError
from postrender.core.stream import read_documents


def test_release_name_drops_the_namespace_qualifier_argo_cd_adds():
    # argo.ParseInstanceName splits once on "_": apps outside argocd's namespace are "<ns>_<name>".
    assert AppEnv(app_name="team-a_shop").release_name == "shop"
    assert AppEnv(app_name="shop").release_name == "shop"
    assert AppEnv(app_name="team-a_shop_v2").release_name == "shop_v2"


def test_parameters_come_from_argocd_app_parameters_json():
    env = AppEnv.from_environ(
        {
            "ARGOCD_APP_PARAMETERS": json.dumps(
                [
                    {"name": "values-files", "array": ["a.yaml", "b.yaml"]},
                    {"name": "helm-parameters", "map": {"image.tag": "v1,2"}},
                    {"name": "policy", "string": "spec: {}"},
                ]
            ),
            "PARAM_POLICY": "ignored when the JSON is there",
        }
    )
    assert env.parameter("values-files") == Parameter("values-files", array=("a.yaml", "b.yaml"))
    assert env.parameter("helm-parameters") == Parameter("helm-parameters", map=(("image.tag", "v1,2"),))
    assert env.parameter("policy") == Parameter("policy", string="spec: {}")


def test_plugin_section_without_parameters_sends_null():
    assert AppEnv.from_environ({"ARGOCD_APP_PARAMETERS": "null"}).parameters == ()


def test_param_variables_are_the_fallback_for_strings_and_arrays():
    env = AppEnv.from_environ({"PARAM_POLICY": "x", "PARAM_VALUES_FILES_0": "a.yaml", "PARAM_VALUES_FILES_1": "b.yaml"})
    assert env.parameter("policy") == Parameter("policy", string="x")
    assert env.parameter("values-files") == Parameter("values-files", array=("a.yaml", "b.yaml"))


@pytest.mark.parametrize("raw", ["{not json", '{"name": "x"}', '[{"string": "no name"}]', '[{"name": "x", "array": [1]}]'])
def test_malformed_parameters_are_a_usage_error(raw):
    with pytest.raises(UsageError):
        AppEnv.from_environ({"ARGOCD_APP_PARAMETERS": raw})


def test_plugin_env_loses_its_prefix_and_kube_api_versions_split_on_commas():
    env = AppEnv.from_environ(
        {"ARGOCD_ENV_SIDECAR_POLICY": "p.yaml", "KUBE_API_VERSIONS": "v1,apps/v1,apps/v1/Deployment", "OTHER": "x"}
    )
    assert env.env("SIDECAR_POLICY") == "p.yaml"
    assert env.env("OTHER") == ""
    assert env.api_versions == ("v1", "apps/v1", "apps/v1/Deployment")


def test_repository_root_strips_the_source_path(tmp_path):
    app = tmp_path / "work" / "apps" / "shop"
    app.mkdir(parents=True)
    assert repository_root(app, "apps/shop") == (tmp_path / "work").resolve()
    assert repository_root(app, "./apps/shop/") == (tmp_path / "work").resolve()
    # manifest-generate-paths sends only a common root: strip what matches, no more.
    assert repository_root(app, "platform/apps/shop") == (tmp_path / "work").resolve()
    assert repository_root(app, "") == app.resolve()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "apps" / "shop").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "prod.yaml").write_text("x")
    (root / "apps" / "shop" / "values.yaml").write_text("x")
    (tmp_path / "secret.yaml").write_text("outside")
    return root


def test_paths_resolve_like_argo_cd_value_files(repo):
    app = repo / "apps" / "shop"
    assert resolve_in_repository(app, repo, "values.yaml", "f") == (app / "values.yaml").resolve()
    assert resolve_in_repository(app, repo, "../../policies/prod.yaml", "f") == (repo / "policies/prod.yaml").resolve()
    assert resolve_in_repository(app, repo, "/policies/prod.yaml", "f") == (repo / "policies/prod.yaml").resolve()


@pytest.mark.parametrize("reference", ["../../../secret.yaml", "/../secret.yaml", "/etc/../../secret.yaml"])
def test_paths_may_not_leave_the_repository(repo, reference):
    with pytest.raises(UsageError, match="outside the repository"):
        resolve_in_repository(repo / "apps" / "shop", repo, reference, "ARGOCD_ENV_SIDECAR_POLICY")


def test_symlinks_are_followed_before_the_check(repo):
    app = repo / "apps" / "shop"
    os.symlink("../../../secret.yaml", app / "innocent.yaml")
    with pytest.raises(UsageError, match="outside the repository"):
        resolve_in_repository(app, repo, "innocent.yaml", "f")
    os.symlink(str(repo.parent), app / "up")  # a directory link in the middle of the path
    with pytest.raises(UsageError, match="outside the repository"):
        resolve_in_repository(app, repo, "up/secret.yaml", "f")


@pytest.mark.parametrize("reference", ["https://evil.example/p.yaml", "", "a\0b", "missing.yaml"])
def test_urls_empty_and_missing_paths_are_refused(repo, reference):
    with pytest.raises(UsageError):
        resolve_in_repository(repo / "apps" / "shop", repo, reference, "f")


def test_helm_command_line_mirrors_argo_cds_native_helm(repo):
    """util/helm/cmd.go `template`'s order: --name-template, --namespace, --kube-version, --set,
    --values, --api-versions per item, --include-crds (the chart test compares with Argo CD itself)."""
    app = repo / "apps" / "shop"
    env = AppEnv(
        app_name="team-a_shop",
        namespace="shop",
        kube_version="1.30.2",
        api_versions=("v1", "apps/v1"),
        parameters=(
            Parameter("values-files", array=("values.yaml", "/policies/prod.yaml")),
            Parameter("helm-parameters", map=(("image.tag", "v2"), ("list", "a,b"))),
        ),
        plugin_env=(("HELM_VALUES_FILES", "values.yaml"), ("HELM_SET", "replicas=2,x=y")),
    )
    values, prod = str((app / "values.yaml").resolve()), str((repo / "policies/prod.yaml").resolve())
    assert helm_template_argv(app, repo, env) == [
        "helm", "template", ".", "--name-template", "shop", "--namespace", "shop", "--kube-version", "1.30.2",
        "--set", "image.tag=v2", "--set", "list=a\\,b", "--set", "replicas=2,x=y",
        "--values", values, "--values", values, "--values", prod,
        "--api-versions", "v1", "--api-versions", "apps/v1", "--include-crds",
    ]  # fmt: skip


def test_helm_command_line_without_optional_inputs(repo):
    assert helm_template_argv(repo, repo, AppEnv()) == ["helm", "template", ".", "--include-crds"]


def test_a_values_file_outside_the_repository_is_refused(repo):
    env = AppEnv(parameters=(Parameter("values-files", array=("../../../secret.yaml",)),))
    with pytest.raises(UsageError, match="outside the repository"):
        helm_template_argv(repo / "apps" / "shop", repo, env)


def test_error_messages_elide_the_api_version_list():
    shown = _shown_command(["helm", "template", ".", "--api-versions", "v1", "--api-versions", "apps/v1", "--include-crds"])
    assert shown == "helm template . --include-crds --api-versions <2 API versions>"


def test_kustomization_beats_chart_as_in_argo_cd_discovery(tmp_path):
    assert source_kind(tmp_path) == "directory"
    (tmp_path / "Chart.yaml").write_text("name: x")
    assert source_kind(tmp_path) == "helm"
    (tmp_path / "kustomization.yaml").write_text("resources: []")
    assert source_kind(tmp_path) == "kustomize"


def test_directory_reads_manifests_in_name_order_and_skips_other_files(tmp_path, capsys):
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    (tmp_path / "a.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}')
    (tmp_path / "values.yaml").write_text("replicas: 3\n")  # not a manifest: ignored, as Argo CD does
    (tmp_path / "README.md").write_text("# hi")
    (tmp_path / ".sidecar-policy.yaml").write_text("kind: SidecarPolicy\napiVersion: x\nmetadata: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    stream = read_directory(tmp_path, tmp_path, {".sidecar-policy.yaml"}, sys.stderr).decode()
    names = [line for line in stream.splitlines() if line.startswith("# Source:")]
    assert names == ["# Source: a.json", "# Source: b.yaml"]
    assert "ignoring values.yaml" in capsys.readouterr().err


def test_every_document_names_its_file_even_with_a_bom(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"\xef\xbb\xbfapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "b.yaml").write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b1}\n---\n"
                                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b2}\n")
    stream = read_directory(tmp_path, tmp_path, set(), sys.stderr)
    documents = [doc for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader) if doc]
    assert [doc["metadata"]["name"] for doc in documents] == ["a", "b1", "b2"]
    assert [d.source for d in read_documents(io.BytesIO(stream)) if b"kind:" in d.raw] == ["a.yaml", "b.yaml", "b.yaml"]


def test_a_broken_manifest_file_is_an_error_not_a_silent_skip(tmp_path):
    (tmp_path / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: [\n")
    with pytest.raises(InputError, match="deploy.yaml"):
        read_directory(tmp_path, tmp_path, set(), sys.stderr)


def test_jsonnet_is_refused_rather_than_dropped(tmp_path):
    (tmp_path / "app.jsonnet").write_text("{}")
    with pytest.raises(InputError, match="jsonnet"):
        read_directory(tmp_path, tmp_path, set(), sys.stderr)


def test_a_manifest_symlink_out_of_the_repository_is_refused(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    os.symlink("../x.yaml", repo / "x.yaml")
    with pytest.raises(UsageError, match="outside the repository"):
        read_directory(repo, repo, set(), sys.stderr)

