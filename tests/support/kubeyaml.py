"""Kubernetes' own reading of YAML and label selectors, through the Go harness tests/harness/kubeyaml.

The harness links k8s.io/apimachinery and sigs.k8s.io/yaml, so an answer here is what kubectl and
the API server's clients read, not an imitation. One process serves a whole test session:

    reader = KubeYAML(harness("kubeyaml"))        # from a session fixture (see `kube_yaml` below)
    reader.read_stream(b"a: 1e6\n---\nb: y\n")    # [{"a": 1000000.0}, {"b": "y"}]
    reader.to_json(b"- 0o17\n")                    # [15]: one document through sigs.k8s.io/yaml alone
    reader.objects(b"kind: PodList\napiVersion: v1\nitems: [{metadata: {name: a}}]\n")
                                                   # [[{"kind": "Pod", "apiVersion": "v1", ...}]]: the objects of each
                                                   # document as kubectl's builder decodes them
    reader.selector("app=")                        # Selector(valid=True, matches=None, error="")
    reader.selector("app!=", {"app": "x"})         # Selector(valid=True, matches=True, error="")

A stream kubectl cannot read raises KubeYAMLError with Kubernetes' message.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from pathlib import Path
from typing import Any, NamedTuple


class KubeYAMLError(ValueError):
    """Kubernetes' reader refused the input (the message is its own)."""


class Selector(NamedTuple):
    valid: bool
    matches: bool | None  # None when no labels were given or the selector is invalid
    error: str


class KubeYAML:
    """A running harness process; thread-safe, one request at a time."""

    def __init__(self, binary: Path):
        self._process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()  # type: ignore[union-attr]
            self._process.wait(timeout=10)

    def _ask(self, request: dict) -> dict:
        line = json.dumps(request).encode() + b"\n"
        with self._lock:
            self._process.stdin.write(line)  # type: ignore[union-attr]
            answer = self._process.stdout.readline()  # type: ignore[union-attr]
        if not answer:
            raise RuntimeError("the kubeyaml harness exited")
        return json.loads(answer)

    def read_stream(self, data: bytes, keep_empty: bool = False) -> list[Any]:
        """Each document of a stream as kubectl reads a file; empty documents dropped as kubectl drops them."""
        answer = self._ask({"yaml": base64.b64encode(data).decode()})
        if "error" in answer:
            raise KubeYAMLError(answer["error"])
        documents = answer.get("documents", [])
        return documents if keep_empty else [document for document in documents if document is not None]

    def objects(self, data: bytes) -> list[list[dict] | KubeYAMLError]:
        """Per document, its objects as kubectl's builder decodes them (unstructured.UnstructuredJSONScheme):
        a list's items, those without kind and apiVersion given the list's; an error where it refuses one."""
        answer = self._ask({"objects": base64.b64encode(data).decode()})
        if "error" in answer:
            raise KubeYAMLError(answer["error"])
        return [KubeYAMLError(found["error"]) if isinstance(found, dict) else found for found in answer.get("documents", [])]

    def to_json(self, document: bytes) -> Any:
        """One YAML document through sigs.k8s.io/yaml.YAMLToJSON alone."""
        answer = self._ask({"document": base64.b64encode(document).decode()})
        if "error" in answer:
            raise KubeYAMLError(answer["error"])
        return answer["documents"][0]

    def selector(self, text: str, labels: dict[str, str] | None = None) -> Selector:
        """labels.Parse(text), and whether it matches `labels` when they are given."""
        return self._selector({"selector": text}, labels)

    def label_selector(self, selector: dict, labels: dict[str, str] | None = None) -> Selector:
        """metav1.LabelSelectorAsSelector of a {matchLabels, matchExpressions} object."""
        return self._selector({"labelSelector": selector}, labels)

    def _selector(self, request: dict, labels: dict[str, str] | None) -> Selector:
        answer = self._ask({**request, "labels": labels or {}})
        if "valid" not in answer:
            raise RuntimeError(answer.get("error", "no answer"))
        return Selector(answer["valid"], answer.get("matches") if labels is not None else None, answer.get("error", ""))


def start() -> KubeYAML:
    """A harness process (built once, cached); skipped without Go, failed under CI. Close it when done."""
    from tests.support.gotools import harness

    return KubeYAML(harness("kubeyaml"))
