"""Install the built wheel into a fresh virtualenv and run every command from a directory outside the
checkout, so nothing of the source tree can stand in for what the wheel forgot (the JSON Schema, the
Argo CD templates, an entry point).

    python release/wheel_smoke.py WHEEL WORKDIR
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Run:
    """One command of the installed package and a line its stdout must contain."""

    argv: tuple[str, ...]
    expect: str
    stdin: str | None = None  # a file in the work directory
    cwd: str = "."
    program: str = "sidecar-policy"
    creates: str | None = None  # a file the command must write, relative to its directory

    @property
    def command(self) -> str:
        """The subcommand this exercises ("" for the post-renderer itself)."""
        return self.argv[0] if self.argv and not self.argv[0].startswith("-") else ""


NATIVE_YAML = 'sidecar.istio.io/nativeSidecar: "true"'
RUNS = (
    Run(("--policy", "policy.yaml"), NATIVE_YAML, stdin="rendered.yaml"),
    Run(("schema",), '"$schema"'),  # the JSON Schema is package data
    Run(("explain", "--policy", "policy.yaml", "-o", "json", "rendered.yaml"), '"kind": "Job"'),
    Run(("check", "--policy", "policy.yaml", "rendered.yaml"), "passed"),
    Run(("pods", "--mesh-default", "regular", "-o", "json", "cluster.json"), '"name": "migrate"'),
    # The kubectl plugin (`kubectl sidecar-policy pods`): kubectl runs it with the words after its own name.
    Run(("pods", "--mesh-default", "regular", "-o", "json", "cluster.json"), '"name": "migrate"',
        program="kubectl-sidecar_policy"),
    Run(("kustomize", "--policy", "policy.yaml"), "patches:"),
    Run(("flux", "--policy", "policy.yaml"), "postRenderers:"),
    Run(("admission", "--policy", "admission-policy.yaml"), "kind: MutatingAdmissionPolicy"),
    Run(("krm",), '"sidecar.istio.io/nativeSidecar": "true"', stdin="resourcelist.json"),
    Run((), '"sidecar.istio.io/nativeSidecar": "true"', stdin="resourcelist.json", program="sidecar-policy-krm"),
    Run(("argocd", "init"), "", cwd="app"),
    Run(("argocd", "generate"), NATIVE_YAML, cwd="app"),
    # The Component is rendered from the packaged templates.
    Run(("argocd", "install", "--image", "registry.example/sidecar-policy:smoke", "-o", "component"), "",
        creates="component/repo-server-patch.yaml"),
)


def make_venv(wheel: Path, venv: Path) -> Path:
    """A new virtualenv with only the wheel (and its dependencies from the index); its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    bin_dir = venv / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(wheel)], check=True, cwd=venv)
    return bin_dir


def prepare_inputs(work: Path) -> None:
    """The example policies and chart output, an Argo CD app directory, and a KRM ResourceList."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "policy.yaml", work / "policy.yaml")
    shutil.copy(EXAMPLES / "rendered-chart.yaml", work / "rendered.yaml")
    shutil.copy(EXAMPLES / "admission-policy.yaml", work / "admission-policy.yaml")
    app = work / "app"
    app.mkdir(exist_ok=True)
    shutil.copy(EXAMPLES / "rendered-chart.yaml", app / "manifests.yaml")
    shutil.copy(EXAMPLES / "policy.yaml", app / ".sidecar-policy.yaml")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m"}]}}}}
    policy = {"apiVersion": "sidecar-policy/v1alpha1", "kind": "SidecarPolicy", "metadata": {"name": "smoke"},
              "spec": {"rules": [{"name": "jobs", "match": {"kinds": ["Job"]}, "sidecar": "native"}]}}
    resource_list = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                     "functionConfig": policy, "items": [job]}
    (work / "resourcelist.json").write_text(json.dumps(resource_list))
    # What `kubectl get pods,jobs,... -o json` prints: the Job and a pod it owns.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "migrate-1", "ownerReferences": [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "migrate", "controller": True}]},
        "spec": {"containers": [{"name": "m", "image": "m"}]}}
    (work / "cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [job, pod]}))


def run_all(bin_dir: Path, work: Path, version: str) -> list[str]:
    """Every Run plus --version; one line per failure."""
    failures = []
    runs = (Run(("--version",), f"sidecar-policy {version}"), *RUNS)
    for run in runs:
        stdin = (work / run.stdin).read_bytes() if run.stdin else b""
        result = subprocess.run([str(bin_dir / run.program), *run.argv], check=False, input=stdin, cwd=work / run.cwd,
                                capture_output=True, env=_clean_env(bin_dir))
        shown = " ".join((run.program, *run.argv))
        if result.returncode != 0:
            failures.append(f"{shown}: exit {result.returncode}: {result.stderr.decode(errors='replace').strip()}")
        elif run.expect not in result.stdout.decode(errors="replace"):
            failures.append(f"{shown}: stdout lacks {run.expect!r}")
        elif run.creates and not (work / run.cwd / run.creates).is_file():
            failures.append(f"{shown}: did not write {run.creates}")
    return failures


def imported_from(bin_dir: Path, work: Path) -> Path:
    """Where the fresh venv's python finds the package, run from the work directory."""
    found = subprocess.run([str(bin_dir / "python"), "-c", "import postrender; print(postrender.__file__)"],
                           cwd=work, capture_output=True, text=True, check=True, env=_clean_env(bin_dir))
    return Path(found.stdout.strip())


def _clean_env(bin_dir: Path) -> dict[str, str]:
    """No PYTHONPATH, no other virtualenv: only the fresh one and the system's tools."""
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(bin_dir.parent), "LC_ALL": "C.UTF-8"}


def smoke(wheel: Path, work: Path, version: str) -> list[str]:
    """Install and run everything; one line per failure."""
    bin_dir = make_venv(wheel, work / "venv")
    prepare_inputs(work / "inputs")
    failures = run_all(bin_dir, work / "inputs", version)
    package = imported_from(bin_dir, work / "inputs")
    if not package.is_relative_to(work / "venv"):
        failures.append(f"the fresh venv imports postrender from {package}, not from its own site-packages")
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    from version import current  # this script's directory is first on sys.path

    failures = smoke(Path(argv[0]).resolve(), Path(argv[1]).resolve(), current())
    for failure in failures:
        print(f"wheel smoke: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
