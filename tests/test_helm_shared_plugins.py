"""Helm 3 and Helm 4 on one machine, sharing the default directories ($XDG_DATA_HOME/helm/plugins).

Helm 3 reads every $HELM_PLUGINS/*/plugin.yaml strictly and stops loading all plugins at the first
it cannot read (pkg/plugin/plugin.go LoadDir/LoadAll, v3.22.0: yaml.UnmarshalStrict, return on the
first error), and a Helm 4 plugin.yaml has keys Helm 3 does not know (apiVersion, type, runtime).
A post-renderer cannot be a legacy plugin.yaml either: Helm 4 turns those into cli/v1 or getter/v1
plugins only (internal/plugin/metadata.go fromMetadataLegacy, v4.3.1). No one file serves both, so
the README keeps them apart: Helm 4 gets its own data directory on a machine with both.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.helm import HELM3_NEWEST, HELM3_OLDEST, HELM4_NEWEST, helm_binary
from tests.support.helmrun import Helm, clean_env, create_chart, install_plugin, run

# Stands in for helm-diff & co.: a Helm 3 plugin in the legacy format both Helms load.
LEGACY_PLUGIN = 'name: hello\nversion: 0.1.0\nusage: "says hello"\ndescription: "a Helm 3 plugin"\ncommand: "$HELM_PLUGIN_DIR/hello.sh"\n'
POLICY = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n  - {match: {kinds: [Deployment]}, sidecar: native}\n"


@pytest.fixture(params=[HELM3_OLDEST, HELM3_NEWEST])
def machine(request, tmp_path: Path):
    """A HOME with default Helm directories, a Helm 3 plugin installed there, a chart and a policy."""
    helm3 = Helm(request.param, helm_binary(request.param))
    helm4 = Helm(HELM4_NEWEST, helm_binary(HELM4_NEWEST))
    env = clean_env(tmp_path / "home")
    hello = tmp_path / "home" / ".local" / "share" / "helm" / "plugins" / "hello"
    hello.mkdir(parents=True)
    (hello / "plugin.yaml").write_text(LEGACY_PLUGIN)
    (hello / "hello.sh").write_text("#!/bin/sh\necho hello from a Helm 3 plugin\n")
    (hello / "hello.sh").chmod(0o755)
    create_chart(helm3.binary, tmp_path, env)
    (tmp_path / "policy.yaml").write_text(POLICY)
    assert "hello from a Helm 3 plugin" in run(helm3, ["hello"], env, tmp_path).stdout
    return helm3, helm4, env, tmp_path


def test_installing_into_the_shared_directory_breaks_every_helm3_plugin(machine) -> None:
    """Why the README gives Helm 4 its own directory when Helm 3 is there too."""
    helm3, helm4, env, cwd = machine
    assert install_plugin(helm4, env, cwd).returncode == 0
    broken = run(helm3, ["hello"], env, cwd)
    assert broken.returncode != 0 and "hello from" not in broken.stdout
    assert 'unknown field "apiVersion"' in broken.stderr  # the line docs/helm.md quotes


def test_helm4_with_its_own_data_directory_leaves_helm3_working(machine) -> None:
    """The README's way for a machine with both: HELM_DATA_HOME for Helm 4 alone. (HELM_PLUGINS would
    not do: Helm 4 installs a local directory under $HELM_DATA_HOME/plugins whatever HELM_PLUGINS says,
    internal/plugin/installer/local_installer.go Path, v4.3.1, and then looks for it in HELM_PLUGINS.)"""
    helm3, helm4, env, cwd = machine
    helm4_env = {**env, "HELM_DATA_HOME": str(cwd / "home" / ".local" / "share" / "helm4")}
    assert install_plugin(helm4, helm4_env, cwd).returncode == 0
    assert "hello from a Helm 3 plugin" in run(helm3, ["hello"], env, cwd).stdout
    for helm, helm_env in ((helm3, env), (helm4, helm4_env)):
        done = run(helm, ["template", "r", "./app", *helm.post_renderer("--policy=policy.yaml")], helm_env, cwd)
        assert done.returncode == 0, (helm.version, done.stderr)
        assert "sidecar.istio.io/nativeSidecar" in done.stdout


def test_helm_plugins_alone_does_not_keep_a_helm4_install_apart(machine) -> None:
    """Why the README says HELM_DATA_HOME, not HELM_PLUGINS."""
    helm3, helm4, env, cwd = machine
    helm4_env = {**env, "HELM_PLUGINS": str(cwd / "home" / ".local" / "share" / "helm4-plugins")}
    assert install_plugin(helm4, helm4_env, cwd).returncode == 0
    assert run(helm3, ["hello"], env, cwd).returncode != 0


def _docs_block(containing: str) -> str:
    """The ```sh block of docs/helm.md that holds `containing`."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "helm.md").read_text()
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if containing in b]
    return block


def test_the_docs_helm4_wrapper_keeps_both_helms_working_from_scripts(machine) -> None:
    """docs/helm.md's `helm4` program, written as the docs say (Helm 4's path put in): a script, which an
    alias would not reach, runs Helm 4 through it with the plugin, and Helm 3 beside it keeps its plugins."""
    helm3, helm4, env, cwd = machine
    home = Path(env["HOME"])
    block = _docs_block("printf '#!/bin/sh").replace("/usr/local/lib/helm4/helm", str(helm4.binary))
    bin_dir = cwd / "helm3-bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(helm3.binary)
    shell_env = {**env, "PATH": f"{home / '.local' / 'bin'}:{bin_dir}:{env['PATH']}"}
    checkout = Path(__file__).resolve().parents[1]  # the docs run it in a checkout: ./helm-plugin
    written = subprocess.run(["sh", "-euc", block], env=shell_env, cwd=checkout, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    script = "helm4 template r ./app --post-renderer sidecar-policy --post-renderer-args=--policy=policy.yaml && helm hello"
    done = subprocess.run(["sh", "-euc", script], env=shell_env, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "sidecar.istio.io/nativeSidecar" in done.stdout and "hello from a Helm 3 plugin" in done.stdout
    assert [p.name for p in (home / ".local" / "share" / "helm" / "plugins").iterdir()] == ["hello"]  # Helm 3's alone
    assert any((home / ".local" / "share" / "helm4" / "plugins").iterdir())
