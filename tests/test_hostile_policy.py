"""The policy is untrusted input too (an Argo CD app's repository): plain data, bounded, never run."""

from __future__ import annotations

import pytest

from postrender.core.errors import UsageError
from postrender.core.policy import MAX_POLICY_BYTES, parse_policy
from tests.support.helpers import POLICY_HEADER, policy, render, run_cli
from tests.support.hostile_inputs import ANNOTATION_LINE, PYTHON_TAGS, alias_bomb


@pytest.mark.parametrize("tag", PYTHON_TAGS)
@pytest.mark.parametrize("field", ["name", "sidecar", "fallback", "labels", "matchLabels", "values", "kinds"])
def test_python_tags_in_a_policy_are_rejected_never_run(tmp_path, tag, field):
    marker = tmp_path / "executed"
    value = tag.format(marker=marker)
    rule = {
        "name": f"  - name: {value}\n    sidecar: native\n",
        "sidecar": f"  - sidecar: {value}\n",
        "fallback": "  - sidecar: native\n  fallback: " + value + "\n",
        "labels": f"  - sidecar: native\n    match: {{labels: {value}}}\n",
        "matchLabels": f"  - sidecar: native\n    match: {{labels: {{matchLabels: {value}}}}}\n",
        "values": "  - sidecar: native\n    match: {labels: {matchExpressions: [{key: a, operator: In, values: " + value + "}]}}\n",
        "kinds": f"  - sidecar: native\n    match: {{kinds: {value}}}\n",
    }[field]
    with pytest.raises(UsageError) as caught:
        parse_policy(POLICY_HEADER + "spec:\n  rules:\n" + rule, "policy.yaml")
    assert caught.value.location.line is not None
    assert not marker.exists()


@pytest.mark.parametrize("spec", [
    "spec:\n  rules: &r [*r]\n",
    "spec:\n  rules:\n  - sidecar: native\n    match: {labels: {matchLabels: {a: " + "[" * 5000 + "]" * 5000 + "}}}\n",
    "spec:\n  x-bomb:\n" + alias_bomb(),
], ids=["recursive-alias", "deep-nesting", "alias-bomb"])
def test_a_hostile_policy_is_a_usage_error(spec):
    """Refused as the policy's fault, at a line of it; which YAML layer words the refusal is free."""
    with pytest.raises(UsageError) as caught:
        parse_policy(POLICY_HEADER + spec, "policy.yaml")
    assert caught.value.location.line is not None


def test_a_policy_that_is_a_device_or_too_large_is_refused_after_a_bounded_read(tmp_path):
    result = run_cli(["--policy", "/dev/zero"], b"")
    assert result.returncode == 2 and "larger than" in result.stderr
    big = tmp_path / "big.yaml"
    big.write_text(POLICY_HEADER + "spec:\n  rules: []\n" + "#" * MAX_POLICY_BYTES + "\n")
    result = run_cli(["--policy", str(big)], b"")
    assert result.returncode == 2 and "larger than" in result.stderr and "Traceback" not in result.stderr


def test_template_syntax_in_a_policy_is_text_not_evaluated(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY_HEADER + "spec:\n  rules:\n  - name: '{{ 7 * 7 }}'\n    sidecar: native\n")
    result = run_cli(["--policy", str(tmp_path / "policy.yaml")], b"")
    assert result.returncode == 0 and "'{{ 7 * 7 }}'" in result.stderr and "'49'" not in result.stderr  # the path may hold 49


def test_a_catastrophic_glob_against_a_long_name_is_answered():
    """fnmatch globs become regular expressions; `*a*a*...b` must not backtrack exponentially."""
    pattern = "*a" * 126 + "b"
    rules = POLICY_HEADER + f"spec:\n  rules:\n  - match: {{names: ['{pattern}']}}\n    sidecar: regular\n  fallback: native\n"
    data = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {'a' * 100_000}\n".encode()
    assert ANNOTATION_LINE in render(policy(rules), data)


def test_a_huge_selector_is_parsed_and_matched():
    requirements = 60_000  # about 600 kB of selector
    selector = ",".join(f"k{i}!=v" for i in range(requirements))
    rules = POLICY_HEADER + f'spec:\n  rules:\n  - match: {{labels: "{selector},app=web"}}\n    sidecar: regular\n'
    compiled = policy(rules)
    assert len(compiled.rules[0].match.labels.requirements) == requirements + 1
    data = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {app: web}\n"
    assert b'"false"' in render(compiled, data)
