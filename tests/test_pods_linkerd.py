"""`sidecar-policy pods` for Linkerd: a cluster's pods injected by Linkerd 2.19 (as the emulation of its
injector places linkerd-proxy, tests/support/linkerd_injector_emulation.py), judged against what
2.19 and 2.20 would inject now."""

from __future__ import annotations

import io
import json
import sys

import pytest

from postrender import cli
from postrender.core.errors import EXIT_OK, EXIT_USAGE
from tests.support import linkerd_injector_emulation as linkerd

BETA = linkerd.BETA


def _template(app: str, annotations: dict | None = None) -> dict:
    metadata: dict = {"labels": {"app": app}}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {"containers": [{"name": app, "image": f"example/{app}:1"}]}}


def _deployment(name: str, annotations: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": _template(name, annotations)}}


def _pods(owner: dict, count: int, release: str | None) -> list[dict]:
    """Running pods of `owner`'s template, as Linkerd `release` injected them (None: not injected)."""
    template = owner["spec"]["template"]
    spec = (linkerd.inject(template, linkerd.RELEASES[release]) if release else template)["spec"]
    reference = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"], "controller": True}]
    return [{"apiVersion": "v1", "kind": "Pod", "spec": spec, "status": {"phase": "Running"},
             "metadata": {"name": f"{owner['metadata']['name']}-{n}", "namespace": "shop", "ownerReferences": reference,
                          "annotations": template["metadata"].get("annotations") or {}}}
            for n in range(count)]


@pytest.fixture(scope="module")
def dump() -> bytes:
    web = _deployment("web")  # 2.19's default: regular
    pinned = _deployment("pinned", {BETA: "false"})  # regular on purpose
    batch = _deployment("batch", {BETA: "true"})  # native on purpose
    plain = _deployment("plain")  # not injected (its namespace is not annotated)
    items = [web, pinned, batch, plain, *_pods(web, 2, "2.19"), *_pods(pinned, 1, "2.19"), *_pods(batch, 1, "2.19"),
             *_pods(plain, 1, None)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode()


def run(args: list[str], stdin: bytes, capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.delenv("KUBE_VERSION", raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(["pods", *args])
    out, err = capsys.readouterr()
    return code, out, err


def rows(args: list[str], stdin: bytes, capsys, monkeypatch) -> dict[str, tuple]:
    code, out, err = run([*args, "-o", "json"], stdin, capsys, monkeypatch)
    assert (code, err) == (EXIT_OK, "")
    return {row["name"]: (row["actual"], row["desired"], row["restart"]) for row in json.loads(out)}


def test_after_upgrading_to_linkerd_2_20(dump, capsys, monkeypatch):
    assert rows(["--linkerd-version", "2.20"], dump, capsys, monkeypatch) == {
        "web": ("regular", "native", True),  # 2.20 injects native by default
        "pinned": ("regular", "regular", False),  # 2.20 still reads the beta key
        "batch": ("native", "native", False),
        "plain": ("none", None, False),
    }


def test_on_linkerd_2_19_nothing_is_stale(dump, capsys, monkeypatch):
    found = rows(["--linkerd-version", "2.19"], dump, capsys, monkeypatch)
    assert not any(restart for _, _, restart in found.values())


def test_on_2_18_the_beta_key_is_not_read(dump, capsys, monkeypatch):
    assert rows(["--linkerd-version", "2.18"], dump, capsys, monkeypatch)["batch"] == ("native", "regular", True)


def test_a_linkerd_policy_previews_the_templates_it_would_write(dump, capsys, monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  mesh: linkerd\n"
                      '  linkerdVersion: "2.19"\n  rules:\n  - match: {names: [web]}\n    sidecar: native\n')
    assert rows(["--policy", str(policy)], dump, capsys, monkeypatch)["web"] == ("regular", "native", True)
    code, out, _ = run(["--policy", str(policy)], dump, capsys, monkeypatch)
    assert (code, out.splitlines()[0]) == (EXIT_OK, f"Linkerd default regular (--linkerd-version 2.19); templates as the policy {policy} leaves them")
    assert "not injected: no linkerd-proxy sidecar" in out


@pytest.mark.parametrize(("args", "says"), [
    (["--mesh", "linkerd"], "--linkerd-version X.Y to derive it"),
    (["--mesh", "linkerd", "--istio-version", "1.27"], "--istio-version is Istio's"),
    (["--linkerd-version", "2.14"], "reads no native-sidecar annotation"),
])
def test_linkerds_default_must_be_known(args, says, capsys, monkeypatch):
    code, out, err = run(args, b"{}", capsys, monkeypatch)
    assert (code, out) == (EXIT_USAGE, "")
    assert says in err
