"""The API server reads what the post-renderer writes for the operators' kinds as it reads their input.

The projects' own CRDs (tests/support/upstream.py) are installed into the local control plane, and
every document of their example manifests (ARC: its chart rendered with its values files), plus
generated variants of them, is created in a server-side dry run before and after the post-renderer
under `native`, `regular` and `default` policies. The variants make every place of each kind say
`true` (so that `regular` replaces and `default` removes at every place), and pod metadata hold
nothing but the annotation (so that `default` empties it: Spark's required `driver`). For every
document, the server must accept the output exactly where it accepts the input (some examples are
not valid against their own CRD: KEDA's sample ScaledJob has no template), and store at every place
what the output says there (a field the schema does not know would be pruned).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import yaml

from postrender.core.policy import parse_policy
from postrender.core.workloads import BUILTIN_KINDS, KindTable, Target, TemplateKind, api_group
from tests.support import upstream
from tests.support.crd_server import accepted, install_operator_crds
from tests.support.helpers import POLICY_HEADER, render
from tests.support.kubeyaml import KubeYAMLError
from tests.support.places import ANNOTATION, annotations_at, walk

TABLE = KindTable(BUILTIN_KINDS)
MODES = ("native", "regular", "default")
VARIANTS_PER_KIND = 2  # generated variants of the first documents of each kind


@pytest.fixture(scope="module")
def crds_installed(cluster):
    install_operator_crds(cluster)
    return cluster


def _objects(documents: list) -> Iterator[dict]:
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List"):
            yield from (item for item in document.get("items") or [] if isinstance(item, dict))
        elif isinstance(document, dict) and document.get("kind"):
            yield document


def _entry(obj: dict) -> TemplateKind | None:
    entry = TABLE.find(str(obj.get("kind")), obj.get("apiVersion"))
    return entry if entry is not None and entry.source else None


def _annotate(metadata: dict) -> None:
    if not isinstance(metadata.get("annotations"), dict):
        metadata["annotations"] = {}
    metadata["annotations"][ANNOTATION] = "true"


def saying_native(obj: dict, entry: TemplateKind, only_annotations: bool) -> dict:
    """A copy in which every place of the kind (targets and merged places) says `true`; with
    `only_annotations`, pod metadata holds nothing else."""
    variant = copy.deepcopy(obj)
    for target in entry.targets:
        for place, parent, key in list(walk(variant, target.path)):
            if target.pod_metadata and only_annotations and isinstance(parent, dict):
                parent[key] = {"annotations": {ANNOTATION: "true"}}
            elif isinstance(place, dict) and target.pod_metadata:
                _annotate(place)
            elif isinstance(place, dict):
                if not isinstance(place.get("metadata"), dict):
                    place["metadata"] = {}
                _annotate(place["metadata"])
        for path in target.merged_with:
            for place, _, _ in walk(variant, path):
                if isinstance(place, dict):
                    _annotate(place)
    return variant


def _inputs(project: str, kube_yaml, helm) -> Iterator[tuple[bytes, list[dict]]]:
    """(the text to post-render, the documents Kubernetes' parser reads from it) of each example and variant."""
    examples = [path.read_bytes() for path in upstream.example_files(project)]
    examples += [data for _, data in upstream.chart_renders(project, helm)]
    varied: dict[tuple[str, str], int] = {}
    for data in examples:
        try:
            documents = list(_objects(kube_yaml.read_stream(data)))
        except KubeYAMLError:  # not YAML (test_crd_kinds shows it refused): nothing for the server
            continue
        yield data, documents
        for obj in documents:
            entry = _entry(obj)
            kind = (api_group(str(obj.get("apiVersion"))), str(obj.get("kind")))
            if entry is None or varied.get(kind, 0) >= VARIANTS_PER_KIND:
                continue
            varied[kind] = varied.get(kind, 0) + 1
            for only in {False, any(target.pod_metadata for target in entry.targets)}:
                variant = saying_native(obj, entry, only)
                yield yaml.safe_dump(variant, sort_keys=False).encode(), [variant]


def said_at_every_place(obj: dict) -> list:
    """What each target and merged place of the object says (None: no annotation)."""
    entry = _entry(obj)
    places = [] if entry is None else [*entry.targets, *(Target(path, True) for target in entry.targets
                                                          for path in target.merged_with)]
    return [annotations_at(obj, place) for place in places]


@pytest.mark.parametrize("project", upstream.PROJECTS)
def test_the_api_server_accepts_every_output_where_it_accepts_the_input(project, crds_installed, server_reader,
                                                                        kube_yaml, helm3):
    sources = list(_inputs(project, kube_yaml, helm3))
    before = {index: document for index, document in enumerate(doc for _, documents in sources for doc in documents)}
    server_reader.prepare(list(before.values()))  # the namespaces the examples name
    valid = set(accepted(crds_installed, before))
    assert any(_entry(before[index]) for index in valid) or project == "keda", f"no example workload of {project} valid"
    for mode in MODES:
        policy = parse_policy(POLICY_HEADER + f"spec:\n  fallback: {mode}\n", "policy.yaml")
        after = [doc for data, _ in sources for doc in _objects(kube_yaml.read_stream(render(policy, data)))]
        assert len(after) == len(before)
        changed = {index: document for index, document in enumerate(after) if document != before[index]}
        read = accepted(crds_installed, changed)
        refused = sorted(valid & set(changed) - set(read))
        assert not refused, f"{mode}: the server refuses the output of {[after[index].get('kind') for index in refused]}"
        assert set(read) <= valid, f"{mode}: outputs accepted whose input was refused: {sorted(set(read) - valid)}"
        for index, stored in read.items():  # a field the schema does not know would be pruned: missing here
            assert said_at_every_place(stored) == said_at_every_place(changed[index]), f"{mode}: {stored.get('kind')}"


@pytest.mark.parametrize("api_version", ["", "apiVersion: {group: batch}\n", "apiVersion: [batch/v1]\n"])
def test_kubernetes_refuses_a_workload_whose_api_version_is_absent_or_no_string(cluster, api_version: str) -> None:
    """What lets sidecar-policy read such an object by its kind alone, or refuse it (docs/robustness.md):
    it never reaches a cluster. The same Job with `apiVersion: batch/v1` is accepted."""
    namespace = cluster.namespace(injection=False)
    job = "kind: Job\nmetadata: {name: a}\nspec:\n  template:\n    spec: {restartPolicy: Never, containers: [{name: a, image: a}]}\n"
    create = ("create", "--dry-run=server", "-n", namespace, "-f", "-")
    accepted_job = cluster.kubectl(*create, stdin=f"apiVersion: batch/v1\n{job}".encode(), check=False)
    assert accepted_job.returncode == 0, accepted_job.stderr.decode()
    assert cluster.kubectl(*create, stdin=f"{api_version}{job}".encode(), check=False).returncode != 0
