"""Build every release artifact and verify it as a user would receive it (`./dev release-check`).

    python release/check.py [--out dist] [--work DIR] [--helm PATH]
                            [--key NAME --secret-keyring FILE --public-keyring FILE [--passphrase-file FILE]]

1. the version agrees everywhere, and CHANGELOG.md has its section;
2. `python -m build`: the sdist and the wheel, then `twine check --strict`;
3. the wheel in a fresh virtualenv runs every command from outside the checkout (release/wheel_smoke.py);
4. real Helm 4 packages helm-plugin/ into a signed archive (a throwaway key unless --key is given: the
   release workflow passes its own), installs it with verification into an empty Helm home, and renders
   a chart through it, finding the sidecar-policy that the wheel installed. A throwaway key's public
   keyring stays in --out, and the last line is the `helm plugin install` that verifies the archive.

The artifacts land in --out (only they: the release uploads that folder); the scratch work in --work
(a temporary folder, removed afterwards, unless given). Exit 0 when all passed, 1 with one line per
failure otherwise.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import changelog
import helm_plugin
import version
import wheel_smoke
from helm_plugin import ReleaseCheckError, SigningKey

ROOT = Path(__file__).resolve().parents[1]
# A throwaway key's public keyring, kept beside the archive it verifies: the scratch folder that held the
# key is gone afterwards. Never written for --key (the release workflow's), so never in a release.
THROWAWAY_KEYRING = "sidecar-policy-throwaway-keyring.gpg"
ARTIFACT_PATTERNS = ("*.whl", "*.tar.gz", "sidecar-policy-*.tgz", "sidecar-policy-*.tgz.prov", THROWAWAY_KEYRING)
NATIVE = 'sidecar.istio.io/nativeSidecar: "true"'


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="release/check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the artifacts go (default: dist)")
    parser.add_argument("--work", type=Path, help="scratch folder to keep (default: a temporary one)")
    parser.add_argument("--helm", type=Path, help="a Helm 4 binary (default: $HELM4, else go-installed "
                        f"{helm_plugin.HELM4_MODULE}@{helm_plugin.HELM4_VERSION})")
    parser.add_argument("--key", help="the signing key's name (default: a throwaway key)")
    parser.add_argument("--secret-keyring", type=Path, help="OpenPGP secret keyring holding --key")
    parser.add_argument("--public-keyring", type=Path, help="the matching public keyring")
    parser.add_argument("--passphrase-file", type=Path)
    args = parser.parse_args(argv)
    if args.key and not (args.secret_keyring and args.public_keyring):
        parser.error("--key needs --secret-keyring and --public-keyring")
    return args


def find_helm4(given: Path | None) -> Path:
    """--helm, $HELM4, or `go install` of the pinned Helm 4 into the cache tests/support/gotools.py uses."""
    if given or os.environ.get("HELM4"):
        return Path(given or os.environ["HELM4"])
    cache = Path(os.environ.get("SIDECAR_POLICY_CACHE") or Path.home() / ".cache" / "sidecar-policy")
    folder = cache / "bin" / f"{helm_plugin.HELM4_MODULE.replace('/', '_')}@{helm_plugin.HELM4_VERSION}"
    if not (folder / "helm").exists():
        if shutil.which("go") is None:
            raise ReleaseCheckError("no Helm 4: pass --helm PATH or set HELM4, or install Go so that this can "
                                    f"`go install {helm_plugin.HELM4_MODULE}/cmd/helm@{helm_plugin.HELM4_VERSION}`")
        print(f"building Helm {helm_plugin.HELM4_VERSION} with go install (once; minutes) ...", file=sys.stderr)
        subprocess.run(["go", "install", f"{helm_plugin.HELM4_MODULE}/cmd/helm@{helm_plugin.HELM4_VERSION}"],
                       env={**os.environ, "GOBIN": str(folder)}, check=True)
    return folder / "helm"


def clean_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ARTIFACT_PATTERNS:
        for stale in out.glob(pattern):
            stale.unlink()


def step(title: str) -> None:
    print(f"== {title}", file=sys.stderr, flush=True)


def build(out: Path) -> tuple[Path, Path]:
    step("python -m build (sdist and wheel)")
    clean_out(out)
    # No isolation: the build backend is the locked, hash-checked setuptools of this environment.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)])
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise ReleaseCheckError(f"expected one wheel and one sdist in {out}")
    step("twine check --strict")
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheels[0]), str(sdists[0])])
    return wheels[0], sdists[0]


def check(args: argparse.Namespace, work: Path) -> list[str]:
    release = version.current()
    step(f"version {release} everywhere; CHANGELOG.md has its section")
    failures = version.disagreements(release)
    if changelog.section(release) is None:
        failures.append(f"CHANGELOG.md has no '## [{release}]' section")
    wheel, _ = build(args.out)
    step("the wheel in a fresh virtualenv, every command")
    failures += [f"wheel: {failure}" for failure in wheel_smoke.smoke(wheel, work / "wheel", release)]
    helm = find_helm4(args.helm)
    key = (SigningKey(args.key, args.secret_keyring, args.public_keyring, args.passphrase_file) if args.key
           else helm_plugin.throwaway_key(work / "key"))
    if not args.key:
        shutil.copy(key.public, args.out / THROWAWAY_KEYRING)
    step(f"helm plugin package (signed by {key.name})")
    archive = helm_plugin.package(helm, args.out, key, work / "package")
    step("helm plugin install, verified; helm template through it")
    home = work / "helm-home"
    helm_plugin.install_verified(helm, archive, key.public, home)
    chart = helm_plugin.write_chart(work / "chart", ROOT / "examples" / "rendered-chart.yaml")
    rendered = helm_plugin.render_chart(helm, home, work / "wheel" / "venv" / "bin", chart,
                                        ROOT / "examples" / "policy.yaml")
    (work / "rendered.yaml").write_text(rendered)
    if NATIVE not in rendered:
        failures.append(f"helm template through the installed plugin did not apply the policy ({NATIVE!r} missing)")
    return failures


def _run(args: list[str]) -> None:
    result = subprocess.run(args, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseCheckError(f"{' '.join(args)}: exit {result.returncode}:\n{(result.stdout + result.stderr)[-3000:]}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out = args.out.resolve()
    try:
        if args.work:
            args.work.mkdir(parents=True, exist_ok=True)
            failures = check(args, args.work.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="sidecar-policy-release-") as scratch:
                failures = check(args, Path(scratch))
    except (ReleaseCheckError, subprocess.CalledProcessError) as error:
        failures = [str(error)]
    for failure in failures:
        print(f"release check: {failure}", file=sys.stderr)
    if not failures:
        print(f"release check passed; artifacts in {args.out}:", file=sys.stderr)
        for path in sorted(args.out.iterdir()):
            print(f"  {path.name}", file=sys.stderr)
        print("install the plugin with Helm 4, verified against the key that signed it:", file=sys.stderr)
        print(f"  {install_command(args)}", file=sys.stderr)
    return 1 if failures else 0


def install_command(args: argparse.Namespace) -> str:
    """The `helm plugin install` that verifies what was built: paths as the user can type them here."""
    archive = args.out / f"sidecar-policy-{version.current()}.tgz"
    keyring = args.public_keyring.resolve() if args.key else args.out / THROWAWAY_KEYRING
    return f"helm plugin install {_shown(archive)} --keyring {_shown(keyring)}"


def _shown(path: Path) -> str:
    """Relative to the working directory when inside it, quoted for a shell."""
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return shlex.quote(shown)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
