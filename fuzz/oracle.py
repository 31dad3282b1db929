"""What must hold for any input, checked on one (policy, stream) pair: the fuzzers' oracle.

- the only exception is a SidecarPolicyError, with a one-line message;
- on success the documents come out in order, as many as went in; a document the reference
  leaves alone keeps its bytes; a changed document parses to the reference's data;
- a second run changes nothing.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support

from postrender.core.errors import SidecarPolicyError  # noqa: E402
from postrender.core.policy import Policy, parse_policy  # noqa: E402
from postrender.core.stream import read_documents  # noqa: E402
from tests.support.helpers import render  # noqa: E402
from tests.support.reference import expected, normalise  # noqa: E402
from tests.support.strategies import CUSTOM_KIND  # noqa: E402


class Finding(AssertionError):
    """The engine broke a promise; the message says which."""


class FuzzPolicy:
    """A policy with the reference's reading of its rules."""

    def __init__(self, rules: list[dict], fallback: str, custom_kind: bool, mesh_default: str | None = None):
        spec: dict = {"fallback": fallback, "rules": [{k: v for k, v in r.items() if k != "_reference"} for r in rules]}
        if mesh_default is not None:  # convertInjected: istio-proxy moves; the reference does not model that
            spec.update(convertInjected=True, meshDefault=mesh_default)
        self.has_reference = mesh_default is None
        if custom_kind:
            kind, api_version, path = CUSTOM_KIND
            spec["workloadKinds"] = [{"kind": kind, "apiVersion": api_version, "podTemplate": ".".join(path)}]
        text = yaml.safe_dump({"apiVersion": "sidecar-policy/v1alpha1", "kind": "SidecarPolicy", "spec": spec})
        self.compiled: Policy = parse_policy(text, "fuzz-policy.yaml")
        self.rules, self.fallback, self.custom_kind = rules, fallback, custom_kind


POLICIES = [
    FuzzPolicy([], "native", False),
    FuzzPolicy([], "default", True),
    FuzzPolicy([{"sidecar": "regular", "match": {"kinds": ["Deployment", CUSTOM_KIND[0]]}, "_reference": {"kinds": ["Deployment", CUSTOM_KIND[0]]}},
                {"sidecar": "default", "match": {"names": ["web*"]}, "_reference": {"names": ["web*"]}}], "native", True),
    FuzzPolicy([], "native", False, mesh_default="regular"),
    FuzzPolicy([{"sidecar": "regular", "match": {"kinds": ["Job"]}, "_reference": {}}], "default", False, mesh_default="native"),
    FuzzPolicy([{"sidecar": "native", "match": {"labels": "app in (web,api),!track"},
                 "_reference": {"labels": [("app", "In", ["web", "api"]), ("track", "DoesNotExist", [])]}},
                {"sidecar": "regular", "match": {"podLabels": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}},
                 "_reference": {"podLabels": [("tier", "NotIn", ["web"])]}}], "keep", False),
]


def _split(data: bytes) -> list[bytes]:
    return [document.raw for document in read_documents(io.BytesIO(data))]


def _reference_data(raw: bytes, policy: FuzzPolicy):
    """(data before, data after) by the reference, or None when it cannot say (not YAML to it)."""
    try:
        documents = list(yaml.load_all(raw, Loader=yaml.CSafeLoader))
        if len(documents) > 1:
            return None
        before = documents[0] if documents else None
        if _contains_itself(before, set(), set()):
            return None  # an alias inside its own anchor: data that cannot be compared, only parsed
        after, _ = expected(before, policy.rules, policy.fallback, policy.custom_kind, "")
        return before, after
    except (yaml.YAMLError, TypeError, ValueError, RecursionError, OverflowError):
        return None  # TypeError: a name or label that is no string, which the reference does not read


def _contains_itself(value: object, path: set[int], finished: set[int]) -> bool:
    """Whether the data reaches itself (`a: &x {b: *x}`); each shared node is walked once."""
    if not isinstance(value, (dict, list)) or id(value) in finished:
        return False
    if id(value) in path:
        return True
    path.add(id(value))
    found = any(_contains_itself(item, path, finished) for item in (value.values() if isinstance(value, dict) else value))
    path.discard(id(value))
    finished.add(id(value))
    return found


def _must_parse(raw: bytes) -> None:
    """libyaml reads it, once JSON's surrogate-pair escapes (which libyaml refuses) are written as
    the one escape YAML has for such a character."""
    text = _SURROGATE_PAIR.sub(_one_escape, raw.decode("utf-8"))
    list(yaml.compose_all(text, Loader=yaml.CSafeLoader))


_SURROGATE_PAIR = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


def _one_escape(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def check(policy: FuzzPolicy, data: bytes) -> None:
    try:
        output = render(policy.compiled, data, outcomes=[])
    except SidecarPolicyError as error:
        if not error.message or "\n" in error.message:
            raise Finding(f"error message is not one line: {error.message!r}") from None
        return
    before, after = _split(data), _split(output)
    if b"".join(before) != data or len(after) != len(before):
        raise Finding(f"{len(before)} documents in, {len(after)} out")
    for index, (raw_in, raw_out) in enumerate(zip(before, after), 1):
        reference = _reference_data(raw_in, policy) if policy.has_reference else None
        if reference is None:
            if raw_out != raw_in:  # the engine edited what the reference cannot read: it must still parse
                _must_parse(raw_out)
            continue
        data_before, data_after = reference
        if data_after == data_before and raw_out != raw_in:
            raise Finding(f"document {index} changed though the reference leaves it alone")
        got = list(yaml.load_all(raw_out, Loader=yaml.CSafeLoader))
        if normalise(got[0] if got else None) != normalise(data_after):
            raise Finding(f"document {index}: output data {got!r} != reference {data_after!r}")
    if render(policy.compiled, output, outcomes=[]) != output:
        raise Finding("a second run changed the output")
