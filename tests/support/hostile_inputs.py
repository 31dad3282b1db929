"""Hostile inputs and a helper shared by the hostile-input tests."""

from __future__ import annotations

import pytest

from postrender.core.errors import InputError
from tests.support.helpers import NATIVE_FOR_ALL, policy, render

ANNOTATION_LINE = b'sidecar.istio.io/nativeSidecar: "true"'
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: nginx\n"


def pod_with(extra: str) -> bytes:
    return (POD + extra).encode()


def input_error(data: bytes, policy_text: str = NATIVE_FOR_ALL, **kwargs) -> InputError:
    with pytest.raises(InputError) as caught:
        render(policy(policy_text), data, **kwargs)
    assert caught.value.location is not None and caught.value.location.document is not None
    return caught.value


def alias_bomb(levels: int = 9, fan: int = 9) -> str:
    """The classic billion laughs: 9 ** 9 strings from a few hundred bytes."""
    lines = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


PYTHON_TAGS = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    "!!python/name:os.system",
    "!!python/module:os",
    '!!python/object/apply:builtins.exec ["open(\'{marker}\', \'w\')"]',
]
