"""The Helm plugin archive: packaged and signed by real Helm 4, then installed by real Helm 4 with its
signature verified, into an empty Helm home, and used to render a chart.

Helm 4 facts this relies on (helm/helm, v4.3):
- pkg/cmd/plugin_package.go: `helm plugin package DIR` writes NAME-VERSION.tgz, and with --sign
  (the default) NAME-VERSION.tgz.prov, signed with --key from --keyring (a file of OpenPGP secret keys,
  not GnuPG 2's keybox); an unencrypted key needs no passphrase.
- internal/plugin/sign.go CreatePluginTarball: the archive holds every file of DIR, so we package a copy
  of the tracked files only.
- pkg/cmd/plugin_install.go + internal/plugin/installer/local_installer.go: installing a local .tgz
  verifies by default and refuses without the .prov beside it; only a directory installs unverified.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "helm-plugin"
HELM4_MODULE, HELM4_VERSION = "helm.sh/helm/v4", "v4.3.1"


@dataclass(frozen=True)
class SigningKey:
    name: str  # a user id (or part of one) of the key in `secret`
    secret: Path  # OpenPGP secret keyring file, what `helm plugin package --keyring` reads
    public: Path  # the matching public keyring, what `helm plugin install --keyring` reads
    passphrase_file: Path | None = None


def throwaway_key(folder: Path) -> SigningKey:
    """A new passphrase-less RSA signing key, for checks and tests only (the release uses its own)."""
    gnupg_home = folder / "gnupg"
    gnupg_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "GNUPGHOME": str(gnupg_home)}
    name = "sidecar-policy release check <release-check@example.invalid>"
    try:
        subprocess.run(["gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", name, "rsa3072", "sign",
                        "never"], env=env, check=True, capture_output=True)
        secret, public = folder / "secret-keyring.gpg", folder / "public-keyring.gpg"
        secret.write_bytes(_gpg_out(["--export-secret-keys"], env))
        public.write_bytes(_gpg_out(["--export"], env))
    finally:
        # gpg started an agent for this home; it must not outlive the check.
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False, env=env, capture_output=True)
    return SigningKey(name=name, secret=secret, public=public)


def _gpg_out(args: list[str], env: dict[str, str]) -> bytes:
    return subprocess.run(["gpg", "--batch", *args], env=env, check=True, capture_output=True).stdout


def helm_home(folder: Path) -> dict[str, str]:
    """An environment whose Helm sees nothing of the user's: its own cache, config and data (plugins).

    Not HELM_PLUGINS: installing an archive writes under HELM_DATA_HOME/plugins whatever it says
    (internal/plugin/installer/local_installer.go uses helmpath.DataPath), while lookups follow it.
    """
    env = {**os.environ, "HELM_CACHE_HOME": str(folder / "cache"), "HELM_CONFIG_HOME": str(folder / "config"),
           "HELM_DATA_HOME": str(folder / "data")}
    env.pop("HELM_PLUGINS", None)
    return env


def package(helm: Path, out: Path, key: SigningKey, scratch: Path) -> Path:
    """`helm plugin package` of the tracked plugin files, signed with `key`; the archive's path."""
    source = scratch / "helm-plugin"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    listed = subprocess.run(["git", "ls-files", "-z", "helm-plugin"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        shutil.copy2(ROOT / name, source / Path(name).name)
    args = [str(helm), "plugin", "package", str(source), "--destination", str(out), "--sign", "--key", key.name,
            "--keyring", str(key.secret)]
    if key.passphrase_file:
        args += ["--passphrase-file", str(key.passphrase_file)]
    _helm(args, helm_home(scratch / "helm-home"))
    archives = sorted(out.glob("sidecar-policy-*.tgz"))
    if len(archives) != 1:
        raise ReleaseCheckError(f"expected one plugin archive in {out}, found {[a.name for a in archives]}")
    return archives[0]


def install_verified(helm: Path, archive: Path, public_keyring: Path, home: Path) -> str:
    """`helm plugin install ARCHIVE` with verification on (Helm's default); Helm's report."""
    return _helm([str(helm), "plugin", "install", str(archive), "--keyring", str(public_keyring)], helm_home(home))


def render_chart(helm: Path, home: Path, bin_dir: Path, chart: Path, policy: Path) -> str:
    """`helm template` through the installed plugin, with only `bin_dir` and the system on PATH."""
    env = {**helm_home(home), "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("SIDECAR_POLICY_BIN", None)
    return _helm([str(helm), "template", "smoke", str(chart), "--post-renderer", "sidecar-policy",
                  f"--post-renderer-args=--policy={policy}"], env)


def write_chart(folder: Path, manifests: Path) -> Path:
    """A chart whose only template is an already rendered stream."""
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "Chart.yaml").write_text("apiVersion: v2\nname: smoke\nversion: 0.1.0\n")
    shutil.copy(manifests, folder / "templates" / "manifests.yaml")
    return folder


class ReleaseCheckError(Exception):
    """A step of the release check failed; the message says which and why."""


def _helm(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, check=False, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        shown = " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args))
        raise ReleaseCheckError(f"{shown}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout
