"""Helpers for the tests that run the real kustomize (`kubectl kustomize`) and kpt."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from postrender.core.policy import Policy
from tests.support.helpers import installed_command, run_command

ORCHESTRATOR_PREFIXES = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/")
HAVE_KUBECTL = shutil.which("kubectl") is not None
HAVE_KPT = shutil.which("kpt") is not None
# Each build starts its own process: running a few at once keeps the suite's wall time down.
POOL = ThreadPoolExecutor(max_workers=4)


def sidecar_policy(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return run_command(list(args), stdin)


def selected(request, argument: str) -> list:
    """The values of `argument` in this module's tests that run in this session (after -k and -m)."""
    values = [item.callspec.params[argument] for item in request.session.items
              if item.module is request.module and argument in getattr(getattr(item, "callspec", None), "params", {})]
    return list(dict.fromkeys(values))


def kustomize_build(directory: Path) -> str:
    done = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def kpt_eval(stream: Path, policy: Path) -> str:
    """`kpt fn eval - --exec 'sidecar-policy krm'`: the list is read from stdin, written to stdout."""
    command = f"{installed_command()} krm"
    with open(stream, "rb") as source:
        done = subprocess.run(["kpt", "fn", "eval", "-", "--exec", command, "--fn-config", str(policy)],
                              stdin=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def objects(text: str) -> list[dict]:
    """The objects of a stream (or of a ResourceList's items), with Lists' items as objects."""
    documents = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if isinstance(d, dict)]
    if len(documents) == 1 and documents[0].get("kind") == "ResourceList":
        documents = documents[0].get("items") or []
    found = []
    for document in documents:
        if document.get("kind") == "List":
            found += [item for item in document.get("items") or [] if isinstance(item, dict)]
        else:
            found.append(document)
    return found


def key(obj: dict) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") or {}
    return obj.get("apiVersion", ""), obj.get("kind", ""), metadata.get("namespace") or "", metadata.get("name") or ""


def annotations(text: str, policy: Policy) -> dict[tuple, tuple[str | None, ...]]:
    """Every workload's native-sidecar annotations under the policy's mesh's keys (None when absent), by object identity."""
    found = {}
    for obj in objects(text):
        entry = policy.kinds.find(obj.get("kind", ""), obj.get("apiVersion"))
        if entry is None or entry.template_path is None:  # several places: tests/test_crd_kinds_flux.py
            continue
        template = obj
        for step in entry.template_path:
            template = (template or {}).get(step)
        if isinstance(template, dict):
            present = (template.get("metadata") or {}).get("annotations") or {}
            found[key(obj)] = tuple(present.get(name) for name in policy.switch.all_keys)
    return found


def borrowers(text: str) -> dict[tuple, dict]:
    """Argo Rollouts that borrow their pod template (spec.workloadRef), by identity."""
    return {key(obj): obj for obj in objects(text)
            if obj.get("kind") == "Rollout" and isinstance((obj.get("spec") or {}).get("workloadRef"), dict)}


def without_orchestrator_annotations(obj: dict) -> dict:
    """The object as a plain stream would carry it: kpt's own annotations (path, index, id) removed."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "annotations" in metadata:
        kept = {k: v for k, v in (metadata["annotations"] or {}).items() if not k.startswith(ORCHESTRATOR_PREFIXES)}
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "annotations"}}
        if kept:
            obj["metadata"]["annotations"] = kept
    return obj
