"""A Linkerd policy's output, injected by THE EMULATION of Linkerd's injector (tests/support/
linkerd_injector_emulation.py, which says why nothing of Linkerd can run here and which files it follows).

For any workloads (with any of Linkerd's native-sidecar keys already on them, any values) and any
Linkerd policy: the release the policy names, and every later release of its line, put linkerd-proxy
where the decision says (native: an init container with restartPolicy Always right after linkerd-init;
regular: a container); without a release, every release from 2.15 on does. `default` gives each
release its own default, `keep` what the workload already said. The output is read as Kubernetes
reads it (the kubeyaml harness), and a Linkerd policy never writes an Istio annotation.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.core.policy import parse_policy
from tests.support import linkerd_injector_emulation as linkerd
from tests.support.helpers import post_render
from tests.support.strategies import body_text

HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  mesh: linkerd\n"
MODES = ("native", "regular", "default")
VALUES = ("true", "false", "1", "F", "True", "yes", "")  # ParseBool's spellings, and two it refuses
KINDS = {"Deployment": ("apps/v1", ("spec", "template")), "Job": ("batch/v1", ("spec", "template")),
         "CronJob": ("batch/v1", ("spec", "jobTemplate", "spec", "template")), "Pod": ("v1", ())}


@st.composite
def workload(draw, index: int) -> dict:
    kind = draw(st.sampled_from(sorted(KINDS)))
    api_version, path = KINDS[kind]
    annotations = {key: draw(st.sampled_from(VALUES)) for key in draw(st.lists(st.sampled_from(
        [linkerd.GA, linkerd.BETA, linkerd.ALPHA, linkerd.AWAIT, "example.com/other"]), unique=True))}
    if linkerd.AWAIT in annotations:
        annotations[linkerd.AWAIT] = draw(st.sampled_from(["enabled", "disabled"]))
    template: dict = {"spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}
    if draw(st.booleans()):
        template["spec"]["initContainers"] = [{"name": "migrate", "image": "example/app:1"}]
    if annotations or draw(st.booleans()):
        template = {"metadata": {"annotations": annotations} if annotations else {}, **template}
    document: dict = {"apiVersion": api_version, "kind": kind, "metadata": {"name": f"w{index}"}}
    if not path:
        document["metadata"].update(template.get("metadata") or {})
        document["spec"] = template["spec"]
        return document
    holder = document
    for step in path[:-1]:
        holder = holder.setdefault(step, {})
    holder[path[-1]] = template
    return document


@st.composite
def linkerd_policies(draw) -> tuple[str, str | None]:
    """A Linkerd policy's text, and the release it names (None: not given)."""
    release = draw(st.sampled_from([None, *linkerd.RELEASES]))
    lines = [f'  linkerdVersion: "{release}"'] if release else []
    lines.append(f"  fallback: {draw(st.sampled_from(('keep', *MODES)))}")
    lines.append("  rules:")
    for _ in range(draw(st.integers(0, 3))):
        kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, unique=True))
        lines.append(f"  - match: {{kinds: [{', '.join(kinds)}]}}\n    sidecar: {draw(st.sampled_from(MODES))}")
    return HEADER + "\n".join(lines) + "\n", release


def _template(document: dict) -> dict:
    api_version, path = KINDS[document["kind"]]
    if not path:
        return {"metadata": document.get("metadata") or {}, "spec": document.get("spec") or {}}
    template = document
    for step in path:
        template = template[step]
    return template


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_release_the_policy_reaches_injects_linkerd_proxy_as_decided(data, kube_yaml):
    policy_text, release = data.draw(linkerd_policies(), "policy")
    policy = parse_policy(policy_text, "policy.yaml")
    documents = [data.draw(workload(index), f"workload {index}") for index in range(data.draw(st.integers(1, 4)))]
    stream = "".join("---\n" + data.draw(body_text(document, alias_strings=False))[0] for document in documents).encode()
    output, outcomes = post_render(stream, policy)
    written = kube_yaml.read_stream(output)
    releases = linkerd.later(release) if release else list(linkerd.RELEASES)
    assert len(outcomes) == len(documents) == len(written)
    for before, after, outcome in zip(documents, written, outcomes):
        template_before, template_after = _template(before), _template(after)
        for name in releases:
            expected = {"native": "native", "regular": "regular",
                        "default": "native" if linkerd.RELEASES[name].native_default else "regular",
                        "keep": linkerd.form(linkerd.inject(template_before, linkerd.RELEASES[name]))}[outcome.mode]
            got = linkerd.form(linkerd.inject(template_after, linkerd.RELEASES[name]))
            assert got == expected, f"Linkerd {name}, {outcome.workload.kind} decided {outcome.mode}"
        added = set((template_after.get("metadata") or {}).get("annotations") or {}) - set(
            (template_before.get("metadata") or {}).get("annotations") or {})
        assert not any("istio" in key for key in added)
        assert _without_keys(after) == _without_keys(before), "only Linkerd's native-sidecar keys change"
    assert post_render(output, policy)[0] == output, "a second run changes nothing"


def _without_keys(document: dict) -> dict:
    """The document with Linkerd's native-sidecar keys (and the maps they alone filled) taken out."""
    document = copy.deepcopy(document)
    holder = document if document["kind"] == "Pod" else _template(document)
    annotations = (holder.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        for key in (linkerd.GA, linkerd.BETA, linkerd.ALPHA):
            annotations.pop(key, None)
        if not annotations:
            del holder["metadata"]["annotations"]
    if document["kind"] != "Pod" and not holder.get("metadata"):  # Kubernetes reads a null or empty one alike
        holder.pop("metadata", None)
    return document


@pytest.mark.parametrize("release", ["2.19", "2.20"])
@pytest.mark.parametrize("mode", ["native", "regular"])
def test_the_decided_form_is_where_linkerds_templates_put_it(release, mode, kube_yaml):
    """The two releases the issue names, spelt out: linkerd-proxy right after linkerd-init as a native
    sidecar, or first among the containers (proxy.await) as a regular one."""
    policy = parse_policy(HEADER + f'  linkerdVersion: "{release}"\n  fallback: {mode}\n', "policy.yaml")
    stream = yaml.safe_dump({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}, "spec": {
        "template": {"spec": {"initContainers": [{"name": "wait", "image": "busybox"}],
                              "containers": [{"name": "migrate", "image": "example/app:1"}]}}}}).encode()
    output, _ = post_render(stream, policy)
    spec = linkerd.inject(_template(kube_yaml.read_stream(output)[0]), linkerd.RELEASES[release])["spec"]
    init = [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]]
    containers = [c["name"] for c in spec["containers"]]
    if mode == "native":
        assert (init, containers) == ([("linkerd-init", None), ("linkerd-proxy", "Always"), ("wait", None)], ["migrate"])
    else:
        assert (init, containers) == ([("wait", None), ("linkerd-init", None)], ["linkerd-proxy", "migrate"])
