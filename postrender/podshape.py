"""The shape of the parts of a workload the tool reads, checked before anything is decided.

A manifest Kubernetes would refuse (`args: 7`, `labels: [x]`, `securityContext: 5`) is the user's
mistake: it is an input error at its location, with or without warnings, never an internal error
in a check that read it. Only the fields the policy, the findings and the conversion read are
checked, as the Kubernetes API types them (k8s.io/api core/v1 types.go: PodTemplateSpec,
ObjectMeta, PodSpec, Container); null is allowed wherever a field may be left out.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender import yamlnodes

MAPPING, SCALAR, MAP_OF_SCALARS, LIST_OF_SCALARS, LIST_OF_MAPPINGS = (
    "a mapping", "a single value", "a mapping of strings", "a list of strings", "a list of mappings")

METADATA = {"name": SCALAR, "namespace": SCALAR, "labels": MAP_OF_SCALARS, "annotations": MAP_OF_SCALARS}
TEMPLATE = {"metadata": MAPPING, "spec": MAPPING}
POD_SPEC = {"containers": LIST_OF_MAPPINGS, "initContainers": LIST_OF_MAPPINGS, "securityContext": MAPPING,
            "hostNetwork": SCALAR, "restartPolicy": SCALAR}
CONTAINER = {"name": SCALAR, "image": SCALAR, "command": LIST_OF_SCALARS, "args": LIST_OF_SCALARS,
             "securityContext": MAPPING, "lifecycle": MAPPING, "restartPolicy": SCALAR}


def check_workload(workload: MappingNode, template: MappingNode) -> None:
    """Raise NodeError at the first field the tool reads that does not have its API type."""
    _check_fields(yamlnodes.get(workload, "metadata"), METADATA, "metadata")
    _check_fields(template, TEMPLATE, "template")
    _check_fields(yamlnodes.get(template, "metadata"), METADATA, "template.metadata")
    spec = yamlnodes.get(template, "spec")
    _check_fields(spec, POD_SPEC, "template.spec")
    for key in ("initContainers", "containers"):
        containers = yamlnodes.get(spec, key)
        if isinstance(containers, SequenceNode):
            for index, container in enumerate(containers.value):
                _check_fields(container, CONTAINER, f"template.spec.{key}[{index}]")


def _check_fields(mapping: Node | None, fields: dict[str, str], where: str) -> None:
    if not isinstance(mapping, MappingNode):
        return  # absent, null, or checked (and refused) by its owner
    for key_node, value in yamlnodes.entries(mapping):
        shape = fields.get(key_node.value) if isinstance(key_node, ScalarNode) else None
        if shape is not None and not yamlnodes.is_null(value) and not _has_shape(value, shape):
            raise yamlnodes.NodeError(f"{where}.{key_node.value} must be {shape}, not {_describe(value)} "
                                      "(Kubernetes would refuse this manifest)", value)


def _has_shape(node: Node, shape: str) -> bool:
    if shape == SCALAR:
        return isinstance(node, ScalarNode)
    if shape == MAPPING:
        return isinstance(node, MappingNode)
    if shape == MAP_OF_SCALARS:
        return isinstance(node, MappingNode) and all(isinstance(value, ScalarNode) for _, value in yamlnodes.entries(node))
    items = node.value if isinstance(node, SequenceNode) else None
    if items is None:
        return False
    kind = ScalarNode if shape == LIST_OF_SCALARS else MappingNode
    return all(isinstance(item, kind) for item in items)


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value) if len(node.value) <= 40 else "a string"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
