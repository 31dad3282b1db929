"""The shape of the parts of a workload the tool reads, checked before anything is decided.

A manifest Kubernetes would refuse (`args: 7`, `labels: [x]`, `securityContext: 5`) is the user's
mistake: it is an input error at its location, with or without warnings, never an internal error
in a check that read it. Only the fields the policy, the findings and the conversion read are
checked, as the Kubernetes API types them (k8s.io/api core/v1 types.go: PodTemplateSpec,
ObjectMeta, PodSpec, Container); null is allowed wherever a field may be left out.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.core import yamlnodes

MAPPING, SCALAR, MAP_OF_SCALARS, LIST_OF_SCALARS, LIST_OF_MAPPINGS = (
    "a mapping", "a single value", "a mapping of strings", "a list of strings", "a list of mappings")

METADATA = {"name": SCALAR, "namespace": SCALAR, "labels": MAP_OF_SCALARS, "annotations": MAP_OF_SCALARS}
TEMPLATE = {"metadata": MAPPING, "spec": MAPPING}
POD_SPEC = {"containers": LIST_OF_MAPPINGS, "initContainers": LIST_OF_MAPPINGS, "securityContext": MAPPING,
            "hostNetwork": SCALAR, "restartPolicy": SCALAR}
CONTAINER = {"name": SCALAR, "image": SCALAR, "command": LIST_OF_SCALARS, "args": LIST_OF_SCALARS,
             "securityContext": MAPPING, "lifecycle": MAPPING, "restartPolicy": SCALAR}


def check_workload(workload: MappingNode, template: MappingNode | None, pod_metadata: MappingNode | None = None) -> None:
    """Raise NodeError at the first field the tool reads that does not have its API type: in the
    object's metadata, its pod template, or the pod metadata a target holds instead.

    One pass over each mapping's own entries (this runs for every workload); what a merge key
    (`<<`) gives is not checked.
    """
    _fields(_fields(workload, OBJECT, "").get("metadata"), METADATA, "metadata")
    _fields(pod_metadata, METADATA, "pod metadata")
    parts = _fields(template, TEMPLATE, "template")
    _fields(parts.get("metadata"), METADATA, "template.metadata")
    spec = _fields(parts.get("spec"), POD_SPEC, "template.spec")
    for key in ("initContainers", "containers"):
        if key in spec:
            for index, container in enumerate(spec[key].value):
                _fields(container, CONTAINER, f"template.spec.{key}[{index}]")


OBJECT = {"metadata": MAPPING}
_NULL = "tag:yaml.org,2002:null"


def _fields(mapping: Node | None, fields: dict[str, str], where: str) -> dict[str, Node]:
    """The fields of `fields` the mapping has (not null), each checked: key -> value node."""
    found: dict[str, Node] = {}
    if type(mapping) is not MappingNode:
        return found  # absent, null, or checked (and refused) by its owner
    for key_node, value in mapping.value:
        shape = fields.get(key_node.value) if type(key_node) is ScalarNode else None
        if shape is None or value.tag == _NULL:
            continue
        if not _has_shape(value, shape):
            raise yamlnodes.NodeError(f"{where}.{key_node.value}".lstrip(".") + f" must be {shape}, not "
                                      f"{_describe(value)} (Kubernetes would refuse this manifest)", value)
        found[key_node.value] = value
    return found


def _has_shape(node: Node, shape: str) -> bool:
    if shape == SCALAR:
        return type(node) is ScalarNode
    if shape == MAPPING:
        return type(node) is MappingNode
    if shape == MAP_OF_SCALARS:
        return type(node) is MappingNode and all(type(value) is ScalarNode for _, value in node.value)
    if type(node) is not SequenceNode:
        return False
    kind = ScalarNode if shape == LIST_OF_SCALARS else MappingNode
    return all(type(item) is kind for item in node.value)


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value) if len(node.value) <= 40 else "a string"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
