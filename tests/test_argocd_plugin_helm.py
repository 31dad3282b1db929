"""Helm charts through the plugin in Argo CD's own code, compared with Argo CD's own Helm source on
the same chart (real Helm 4, as Argo CD 3.5 and later ship); the plugin chained after another plugin; the
time limit; the examples of docs/argocd.md as written. Only `init`'s dependency download uses a
recording fake helm (named so below): no chart repository can be reached from here.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support.argocd import NEWEST, Application, ArgoCD, GenerateFailed, build, sidecar_path
from tests.support.argocd_apps import (  # noqa: F401  pytest fixtures
    DEPLOYMENT,
    JOB,
    POLICY,
    annotation,
    app_files,
    failure,
    helm_bin,
    link_helm,
    repo,
    run,
    sidecar_env,
    tools,
    without_annotation,
    write_chart,
)


@pytest.fixture(scope="session")
def argocd() -> ArgoCD:
    """The newest release only, to keep the suite's time: these tests run real Helm renders, and
    what the plugin meets differently from release to release (discovery, the cmp-server and the
    env it hands over) is proven against the oldest and the newest in test_argocd_plugin.py."""
    return build(NEWEST)


# --- Helm chart (real helm) -------------------------------------------------------------------------------

HELM_SOURCE = {
    "releaseName": "storefront",
    "valueFiles": ["values-prod.yaml", "/shared/values-$ARGOCD_APP_PROJECT_NAME.yaml", "missing.yaml"],
    "ignoreMissingValueFiles": True,
    "valuesObject": {"settings": {"color": "blue"}},
    "parameters": [
        {"name": "image.tag", "value": "1.28"},
        {"name": "settings.owner", "value": "a,b"},
        {"name": "hosts", "value": "{a.example,b.example}"},
        {"name": "settings.zip", "value": "01234", "forceString": True},
        {"name": "settings.app", "value": "$ARGOCD_APP_NAME-$$x"},
    ],
    "fileParameters": [{"name": "certificate", "path": "/shared/cert.pem"}],
    "namespace": "shop-helm",
    "kubeVersion": "1.31.0",
    "apiVersions": ["v1", "apps/v1", "batch/v1", "monitoring.coreos.com/v1"],
    "skipCrds": True,
    "skipTests": True,
    "skipSchemaValidation": True,
}


@pytest.mark.parametrize(
    "helm",
    [
        pytest.param(None, id="defaults"),
        pytest.param(HELM_SOURCE, id="every-option"),
        pytest.param({"values": "settings: {tier: inline}\n"}, id="inline-values"),
    ],
)
def test_a_chart_moved_onto_the_plugin_renders_as_argo_cds_helm_source(argocd, repo, tmp_path, sidecar_env, helm_bin, tools, helm):
    """Differential: the same chart and spec.source.helm, once through Argo CD's Helm source, once
    through the plugin with the block moved into the `helm` parameter. Only the annotation differs."""
    link_helm(tools, helm_bin)
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    (repo / "shared").mkdir()
    (repo / "shared" / "values-default.yaml").write_text("settings: {region: eu}\n")
    (repo / "shared" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    name = "team-a_shop"  # an app outside Argo CD's namespace: the release drops the qualifier
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": yaml.safe_dump(helm)}] if helm else []}

    out, _ = run(argocd, repo, Application(name=name, plugin=plugin), sidecar_env, tmp_path / "sidecar")
    native = argocd.generate(repo, Application(name=name, plugin=None, helm=helm or {}), path=sidecar_path(tools))

    assert native.source_type == "Helm"
    assert [without_annotation(o) for o in out.objects] == native.objects
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_helm_parameters_as_plugin_parameters(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    """The array and map parameters: values files and --set values, escaped as Argo CD escapes them."""
    link_helm(tools, helm_bin)
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    plugin = {
        "name": "sidecar-policy",
        "parameters": [
            {"name": "values-files", "array": ["values-prod.yaml"]},
            {"name": "helm-parameters", "map": {"image.tag": "v2", "settings.owner": "a,b", "hosts": "{x,y}"}},
        ],
    }
    out, _ = run(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "sidecar")
    (deployment,) = [o for o in out.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:v2"
    (settings,) = [o for o in out.objects if o["kind"] == "ConfigMap"]
    assert settings["data"]["tier"] == "prod" and settings["data"]["owner"] == "a,b"
    assert json.loads(settings["data"]["hosts"]) == ["x", "y"]


def test_without_a_destination_namespace_a_chart_renders_into_default_as_in_argo_cds_helm_source(
    argocd, repo, tmp_path, sidecar_env, helm_bin, tools
):
    """An Application without spec.destination.namespace: Argo CD's Helm source runs `helm template`
    without --namespace (util/helm/cmd.go), so `{{ .Release.Namespace }}` is Helm's default, `default`,
    and the plugin renders the same. The Deployment states it and is decided by it; the Job states
    none, which Argo CD would not apply, so a namespace rule that needs it fails the app."""
    link_helm(tools, helm_bin)
    deployments_in_default = POLICY.replace("{kinds: [Job, CronJob]}", "{kinds: [Deployment], namespaces: [default]}")
    write_chart(app_files(repo, {".sidecar-policy.yaml": deployments_in_default}))
    out, _ = run(argocd, repo, Application(namespace=""), sidecar_env, tmp_path / "sidecar")
    native = argocd.generate(repo, Application(plugin=None, helm={}, namespace=""), path=sidecar_path(tools))
    assert [without_annotation(o) for o in out.objects] == native.objects
    (deployment,) = [o for o in out.objects if o["kind"] == "Deployment"]
    assert deployment["metadata"]["namespace"] == "default"
    assert annotation(out.objects, "Deployment", "web") == "true"

    jobs_in_default = POLICY.replace("{kinds: [Job, CronJob]}", "{kinds: [Job], namespaces: [default]}")
    (repo / "apps" / "shop" / ".sidecar-policy.yaml").write_text(jobs_in_default)
    message = failure(argocd, repo, Application(namespace=""), sidecar_env, tmp_path / "refused")
    assert "exit status 1" in message and "Job migrate" in message and "spec.destination.namespace" in message


@pytest.mark.parametrize(
    "helm, message",
    [
        ({"valueFiles": ["../../../../etc/passwd"]}, "outside the repository"),
        ({"valueFiles": ["$values/prod.yaml"]}, "another source"),
        ({"valueFiles": ["values-*.yaml"]}, "glob"),
        ({"valueFile": ["values-prod.yaml"]}, "unknown field 'valueFile'"),
        ({"parameters": [{"name": "a", "value": 1}]}, "parameters"),
    ],
)
def test_a_bad_helm_parameter_fails_the_app_before_helm_runs(argocd, repo, tmp_path, sidecar_env, helm, message):
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": yaml.safe_dump(helm)}]}
    failed = failure(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "sidecar")
    assert "exit status 2" in failed and message in failed


def test_init_builds_chart_dependencies_only_when_not_vendored(argocd, repo, tmp_path, sidecar_env, tools):
    """A fake helm that records its calls and prints a chart: no chart repository can be reached here."""
    log = tmp_path / "helm-calls.jsonl"
    (tools / "helm").write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""\
            import json, sys
            with open({str(log)!r}, "a") as out:
                out.write(json.dumps(sys.argv[1:]) + "\\n")
            if sys.argv[1:2] == ["template"]:
                sys.stdout.write({JOB!r})
            """
        )
    )
    (tools / "helm").chmod(0o755)
    app_dir = repo / "apps" / "shop"
    write_chart(
        app_dir,
        "dependencies:\n- {name: redis, version: 19.0.0, repository: https://charts.example/stable}\n"
        "- {name: common, version: 2.0.0, repository: oci://registry.example/charts}\n",
    )
    (app_dir / ".sidecar-policy.yaml").write_text(POLICY)
    plugin = {"name": "sidecar-policy", "parameters": [{"name": "helm", "string": "passCredentials: true\n"}]}

    run(argocd, repo, Application(plugin=plugin), sidecar_env, tmp_path / "first")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [call[:2] for call in calls] == [["repo", "add"], ["dependency", "build"], ["template", "."]]
    assert calls[0][2:4] == ["--force-update", "--pass-credentials"] and calls[0][5] == "https://charts.example/stable"

    log.unlink()
    for name in ("redis", "common"):
        (app_dir / "charts" / name).mkdir(parents=True)
        (app_dir / "charts" / name / "Chart.yaml").write_text(f"name: {name}\n")
    run(argocd, repo, Application(), sidecar_env, tmp_path / "again")
    assert [json.loads(line)[0] for line in log.read_text().splitlines()] == ["template"]


def test_a_missing_helm_is_a_clear_error(argocd, repo, tmp_path, sidecar_env):
    write_chart(app_files(repo, {".sidecar-policy.yaml": POLICY}))
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 4" in message and "`helm` is not installed in this sidecar image" in message


def test_a_failing_helm_fails_the_app_with_helms_message(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    link_helm(tools, helm_bin)
    app_dir = app_files(repo, {".sidecar-policy.yaml": POLICY})
    write_chart(app_dir)
    (app_dir / "templates" / "broken.yaml").write_text("{{ .Values.nothing.here }}\n")
    message = failure(argocd, repo, Application(), sidecar_env, tmp_path / "sidecar")
    assert "exit status 4" in message and "nil pointer" in message and "helm template" in message


# --- chained after another plugin, and the time limit ---------------------------------------------------


RENDER = "for f in *.yaml; do echo ---; cat $f; done"  # the other plugin's render, in the app directory


def other_plugin(tmp_path: Path, name: str, generate: list[str]) -> Path:
    """A plugin.yaml of another plugin whose generate runs through sidecar-policy."""
    config = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ConfigManagementPlugin", "metadata": {"name": name},
              "spec": {"generate": {"command": generate}}}  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    "generate",
    [
        pytest.param(["sidecar-policy", "argocd", "generate", "--", "sh", "-c", RENDER], id="wrapped"),
        pytest.param(["bash", "-c", f"({RENDER}) | sidecar-policy argocd generate -"], id="piped-like-lovely"),
    ],
)
def test_chained_after_another_plugin(argocd, repo, tmp_path, sidecar_env, generate):
    """The other plugin is `cat` here (argocd-vault-plugin and lovely cannot be installed): what
    matters is how cmp-server runs the chain and what reaches Argo CD."""
    app_files(repo, {"job.yaml": JOB, "deployment.yaml": DEPLOYMENT, ".sidecar-policy.yaml": POLICY})
    sidecar = argocd.sidecar(tmp_path / "sidecar", sidecar_env, other_plugin(tmp_path, "other", generate))
    try:
        out = argocd.generate(repo, Application(plugin={"name": "other"}), sidecar)
    finally:
        sidecar.close()
    assert annotation(out.objects, "Job", "migrate") == "true"
    assert annotation(out.objects, "Deployment", "web") == "false"


def test_a_failing_chained_command_fails_the_app(argocd, repo, tmp_path, sidecar_env):
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    generate = ["sidecar-policy", "argocd", "generate", "--", "sh", "-c", "cat job.yaml; echo vault is sealed >&2; exit 3"]
    sidecar = argocd.sidecar(tmp_path / "sidecar", sidecar_env, other_plugin(tmp_path, "other", generate))
    try:
        with pytest.raises(GenerateFailed) as failed:
            argocd.generate(repo, Application(plugin={"name": "other"}), sidecar)
    finally:
        sidecar.close()
    assert "exit status 4" in str(failed.value) and "vault is sealed" in str(failed.value)


def test_the_time_limit_is_the_repo_servers_deadline_not_argocd_exec_timeout(argocd, repo, tmp_path, sidecar_env):
    """cmpserver/plugin/plugin.go runs commands under the request's deadline; ARGOCD_EXEC_TIMEOUT on
    the sidecar changes nothing."""
    app_files(repo, {"job.yaml": JOB, ".sidecar-policy.yaml": POLICY})
    slow = other_plugin(tmp_path, "slow", ["sidecar-policy", "argocd", "generate", "--", "sh", "-c", "sleep 2; cat job.yaml"])
    sidecar = argocd.sidecar(tmp_path / "sidecar", {**sidecar_env, "ARGOCD_EXEC_TIMEOUT": "1s"}, slow)
    try:
        out = argocd.generate(repo, Application(plugin={"name": "slow"}), sidecar, timeout=30)
        assert annotation(out.objects, "Job", "migrate") == "true"
        with pytest.raises(GenerateFailed) as failed:
            argocd.generate(repo, Application(plugin={"name": "slow"}), sidecar, timeout=1)
    finally:
        sidecar.close()
    assert "deadline" in str(failed.value).lower() or "signal" in str(failed.value).lower()


# --- the docs' examples, as written ----------------------------------------------------------------


def docs_applications() -> list[dict]:
    """Every YAML block of docs/argocd.md that holds an Application's source (whole or in part)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "argocd.md").read_text()
    blocks = [yaml.safe_load(textwrap.dedent(block.split("```")[0])) for block in text.split("```yaml\n")[1:]]
    found = []
    for block in blocks:
        source = (block.get("spec") or {}).get("source") if block.get("kind") == "Application" else block.get("source")
        if isinstance(source, dict) and isinstance(source.get("plugin"), dict) and source["plugin"].get("name") == "sidecar-policy":
            found.append(source)
    return found


def test_the_docs_examples_work_as_written(argocd, repo, tmp_path, sidecar_env, helm_bin, tools):
    """The Application of "Use it in an Application" and the source of "Moving a Helm app", on a chart
    that has the files they name; the second also renders as the same block does in Argo CD's Helm source."""
    link_helm(tools, helm_bin)
    application, moved = docs_applications()
    for source in (application, moved):
        chart = repo / source["path"]
        chart.mkdir(parents=True, exist_ok=True)
        write_chart(chart)
    (repo / "policies" / "shop.yaml").write_text(POLICY)
    (repo / "shared").mkdir()
    (repo / "shared" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\n")

    out, _ = run(argocd, repo, Application(source_path=application["path"], plugin=application["plugin"]), sidecar_env, tmp_path / "a")
    (deployment,) = [o for o in out.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:v1.4.2"
    assert annotation(out.objects, "Job", "migrate") == "true"

    Path(sidecar_env["SIDECAR_POLICY_DEFAULT"]).write_text(POLICY)
    out, _ = run(argocd, repo, Application(source_path=moved["path"], plugin=moved["plugin"]), sidecar_env, tmp_path / "b")
    helm = yaml.safe_load(moved["plugin"]["parameters"][0]["string"])
    native = argocd.generate(repo, Application(source_path=moved["path"], plugin=None, helm=helm), path=sidecar_path(tools))
    assert [without_annotation(o) for o in out.objects] == native.objects
    assert "storefront" in json.dumps(native.objects)
