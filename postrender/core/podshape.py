"""The shape of the parts of a workload the tool reads, checked before anything is decided, and
their scalars as Kubernetes reads them.

A manifest Kubernetes would refuse (`args: 7`, `labels: [x]`, `securityContext: 5`, a label
`version: 1.0`) is the user's mistake: it is an input error at its location, with or without
warnings, never an internal error in a check that read it. Only the fields the policy, the
findings and the conversion read are checked, as the Kubernetes API types them (k8s.io/api
core/v1 types.go: PodTemplateSpec, ObjectMeta, PodSpec, Container); null is allowed wherever a
field may be left out.

Scalars are read as Kubernetes' YAML reader reads them: go-yaml v2's resolver
(go.yaml.in/yaml/v2 resolve.go), under sigs.k8s.io/yaml, which turns a mapping key that is not
a string into the JSON key it writes (yaml.go convertToJSONableObject). So `y: x` is the label
`"true": x` to Kubernetes, and `version: 1.0` a number where a string must be.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.core import yamlnodes
from postrender.core.lazyre import compiled_on_use

MAPPING, SCALAR, MAP_OF_SCALARS, LIST_OF_SCALARS, LIST_OF_MAPPINGS = (
    "a mapping", "a single value", "a mapping of strings", "a list of strings", "a list of mappings")

METADATA = {"name": SCALAR, "namespace": SCALAR, "labels": MAP_OF_SCALARS, "annotations": MAP_OF_SCALARS}
TEMPLATE = {"metadata": MAPPING, "spec": MAPPING}
POD_SPEC = {"containers": LIST_OF_MAPPINGS, "initContainers": LIST_OF_MAPPINGS, "securityContext": MAPPING,
            "hostNetwork": SCALAR, "restartPolicy": SCALAR}
CONTAINER = {"name": SCALAR, "image": SCALAR, "command": LIST_OF_SCALARS, "args": LIST_OF_SCALARS,
             "securityContext": MAPPING, "lifecycle": MAPPING, "restartPolicy": SCALAR}


def check_workload(workload: MappingNode, template: MappingNode | None, text: str, pod_metadata: MappingNode | None = None) -> None:
    """Raise NodeError at the first field the tool reads that does not have its API type: in the
    object's metadata, its pod template, or the pod metadata a target holds instead.

    One pass over each mapping's own entries (this runs for every workload); what a merge key
    (`<<`) gives is not checked. `text` is the document the nodes were composed from.
    """
    metadata = _fields(_fields(workload, OBJECT, "").get("metadata"), METADATA, "metadata")
    labels(metadata.get("labels"), text, "metadata.labels")
    labels(_fields(pod_metadata, METADATA, "pod metadata").get("labels"), text, "pod metadata.labels")
    parts = _fields(template, TEMPLATE, "template")
    template_metadata = _fields(parts.get("metadata"), METADATA, "template.metadata")
    labels(template_metadata.get("labels"), text, "template.metadata.labels")
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


def labels(node: Node | None, text: str, where: str = "labels") -> dict[str, str]:
    """A labels mapping as Kubernetes stores it: keys as sigs.k8s.io/yaml writes them, values that
    must be strings (a null one is empty). NodeError for a value Kubernetes reads as a bool or a
    number, a key it cannot read, or two keys it reads as one."""
    if not isinstance(node, MappingNode):
        return {}
    result: dict[str, str] = {}
    written: dict[str, str] = {}  # each key as written
    for key_node, value_node in yamlnodes.entries(node):
        if not isinstance(key_node, ScalarNode):
            continue  # `? [a]: b`: composing it to data reports it
        key = go_yaml_key(key_node.value) if _resolved_by_go_yaml(key_node, text) else key_node.value
        if key is None:
            raise yamlnodes.NodeError(f"{where}: Kubernetes cannot read the key {key_node.value!r} "
                                      "(a null or a number beyond int64 as a mapping key): quote it", key_node)
        if key in result:
            both = {written[key], key_node.value}
            raise yamlnodes.NodeError(f"duplicate key {key!r}" + (f" ({' and '.join(sorted(both))} both read as {key} for Kubernetes)"
                                                                  if both != {key} else ""), key_node)
        written[key] = key_node.value
        value = go_yaml_scalar(value_node.value) if isinstance(value_node, ScalarNode) and _resolved_by_go_yaml(value_node, text) else None
        if value is not None and not isinstance(value, str):
            kind = "a boolean" if isinstance(value, bool) else "a number"
            raise yamlnodes.NodeError(f"{where}.{key} must be a string, not {value_node.value} unquoted, which Kubernetes reads "
                                      f"as {kind} and would refuse: quote it", value_node)
        result[key] = yamlnodes.scalar_text(value_node) or ""
    return result


_STR_TAG = "tag:yaml.org,2002:str"
_PROPERTY = compiled_on_use(r"[&!]\S*\s+")


def _resolved_by_go_yaml(node: ScalarNode, text: str) -> bool:
    """A plain scalar without an explicit tag: go-yaml decides its type (quotes and `!!str` make a string)."""
    if node.style:  # quoted or block ('' or None: plain)
        return False
    position = node.start_mark.index
    while text.startswith(("&", "!"), position) and (found := _PROPERTY.match(text, position)) is not None:
        # an anchor, a tag, in any order
        if text[position] == "!":
            return node.tag != _STR_TAG
        position = found.end()
    return True


# go-yaml v2's resolver: YAML 1.1's words, else (by the first character) an int as strconv.ParseInt
# or ParseUint(text without `_`, base 0) reads it, else a float as yamlStyleFloat and ParseFloat do.
_MERGE = object()
_WORDS: dict[str, object] = {
    **dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
    **dict.fromkeys(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], None),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], float("nan")),
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], float("inf")),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], float("-inf")),
    "<<": _MERGE,
}
_GO_INT = compiled_on_use(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = compiled_on_use(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_LONE_UNDERSCORE = compiled_on_use(r"(?<![0-9])_|_(?![0-9])")
_INFINITIES = (float("inf"), float("-inf"))  # (math and struct, for float keys only, are imported there)
_INT64, _UINT64 = 1 << 63, 1 << 64


class _Uint64(int):
    """An int beyond int64 that ParseUint reads: a value, but no mapping key for sigs.k8s.io/yaml."""


def go_yaml_scalar(text: str) -> object:
    """What Kubernetes' reader takes a plain scalar for: str, bool, None, int or float."""
    if text in _WORDS:
        word = _WORDS[text]
        return text if word is _MERGE else word
    if text[0] not in "+-.0123456789":
        return text
    plain = text.replace("_", "")
    if plain.count(".") > 1:  # a version (`1.0.4`): neither an int nor a float, and no pattern compiled for it
        return text
    if text[0] == ".":  # strconv.ParseFloat on the text itself: `_` only between digits
        return _float(plain, text) if not _LONE_UNDERSCORE.search(text) else text
    number = _GO_INT.fullmatch(plain)
    if number is not None:
        sign, digits = number.groups()
        value = int(sign + digits, 8) if digits[:1] == "0" and digits[1:].isdigit() else int(sign + digits, 0)
        if -_INT64 <= value < _INT64:
            return value
        if not sign and value < _UINT64:
            return _Uint64(value)
    return _float(plain, text)


def _float(plain: str, text: str) -> object:
    if not _GO_FLOAT.fullmatch(plain):
        return text
    value = float(plain)
    return text if value in _INFINITIES else value  # out of float64's range: ParseFloat fails, a string


def go_yaml_reads_as_non_string(text: str) -> bool:
    """Whether Kubernetes' reader takes this text, written as a plain scalar, for anything but that string."""
    return text in _WORDS or not isinstance(go_yaml_scalar(text), str)


def go_yaml_key(text: str) -> str | None:
    """The JSON key sigs.k8s.io/yaml writes for a plain mapping key; None when it cannot have one."""
    if text == "<<":
        return None  # a merge key, which must give a mapping
    value = go_yaml_scalar(text)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, _Uint64):
        return None
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, float)
    return _format_float32(value)


def _float32(value: float) -> float:
    import math
    import struct

    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:  # rounds beyond float32's range: Go's conversion gives an infinity
        return math.copysign(math.inf, value)


def _format_float32(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's names for infinities and NaN."""
    import math

    if math.isnan(value):
        return ".nan"
    single = _float32(value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(9):  # the shortest decimal that reads back as the same float32
        written = f"{abs(single):.{precision}e}"
        if _float32(float(written)) == abs(single):
            break
    mantissa, exponent = written.split("e")
    digits, power = mantissa.replace(".", "").rstrip("0") or "0", int(exponent)
    sign = "-" if single < 0 else ""
    if power < -4 or power >= 6:  # %e, for the shortest precision (strconv ftoa.go)
        return f"{sign}{digits[0]}{'.' + digits[1:] if len(digits) > 1 else ''}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if power < 0:
        return f"{sign}0.{'0' * (-power - 1)}{digits}"
    whole, fraction = digits[: power + 1].ljust(power + 1, "0"), digits[power + 1 :]
    return sign + whole + ("." + fraction if fraction else "")
