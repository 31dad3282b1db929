"""Property: converting an injected pod there and back gives the original data, exactly.

Pods are drawn from the Istio goldens and varied the way Istio would have injected them: more
application containers, more user init containers (placed where reorderPod puts them), a
status port annotation, extra annotations, and any mesh-wide hold setting.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.core import convert
from tests.support.istio_cases import MESH_HOLD, golden_path, load_all, pair_cases, pod_templates

OTHER = {"native": "regular", "regular": "native"}
ISTIO_NAMES = {"istio-proxy", "istio-init", "istio-validation", "enable-core-dump"}

names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True).filter(lambda n: n not in ISTIO_NAMES)
user_containers = st.lists(st.builds(lambda n: {"name": n, "image": "busybox"}, names), max_size=3)


@st.composite
def injected_pods(draw) -> tuple[dict, dict | None, str, bool]:
    """(pod template, CronJob metadata, its form, the mesh hold it was injected with)."""
    case = draw(st.sampled_from(pair_cases()))
    form = draw(st.sampled_from(["native", "regular"]))
    docs = load_all(golden_path(case, form))
    doc = draw(st.sampled_from(docs))
    template, outer = draw(st.sampled_from(list(pod_templates(doc))))
    # A regular pod shows the hold it was injected with; a native one ignored it.
    hold = case in MESH_HOLD if form == "regular" else draw(st.booleans())
    spec = template["spec"]
    annotations = (outer if outer is not None else template["metadata"])["annotations"]

    apps = spec["containers"]
    proxy_first = apps[0]["name"] == "istio-proxy"
    for extra in draw(user_containers):
        position = draw(st.integers(1 if proxy_first else 0, len(apps) - (0 if proxy_first else 1)))
        apps.insert(position, extra)

    inits = spec.setdefault("initContainers", [])
    for extra in draw(user_containers):
        names_now = [c["name"] for c in inits]
        if form == "regular" and "istio-init" in names_now:
            inits.insert(names_now.index("istio-init"), extra)  # istio-init stays last
        else:
            inits.append(extra)  # after istio-init/validation and istio-proxy
    if not inits:
        del spec["initContainers"]

    if form == "regular" and draw(st.booleans()):
        annotations["status.sidecar.istio.io/port"] = str(draw(st.integers(1024, 65535)))
    for key, value in draw(st.dictionaries(names, names, max_size=2)).items():
        annotations.setdefault(f"example.com/{key}", value)
    return template, outer, form, hold


@settings(max_examples=300, deadline=None)
@given(injected_pods())
def test_there_and_back_gives_the_original(pod: tuple[dict, dict | None, str, bool]) -> None:
    template, outer, form, hold = pod
    original = copy.deepcopy((template, outer))

    assert convert.convert_template(template, OTHER[form], hold_application=hold, outer_metadata=outer)
    assert convert.injected_form(template, outer) == OTHER[form]
    assert not convert.convert_template(template, OTHER[form], hold_application=hold, outer_metadata=outer)

    assert convert.convert_template(template, form, hold_application=hold, outer_metadata=outer)
    assert (template, outer) == original
