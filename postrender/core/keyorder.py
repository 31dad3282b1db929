"""Where a new key goes in a mapping of plain data, so that a changed object reads as its writer wrote it."""

from __future__ import annotations

from postrender.core.typed import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def set_key(mapping: dict, key: str, value: Any, *, before: str | None = None) -> None:
    """Set `key`, placing a new key where a reader expects it, without reordering the others.

    In a mapping whose keys are sorted (kube-inject, kubectl and Go marshalling write them so)
    the new key goes to its sorted place; otherwise before `before`, or last.
    """
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping)
    if all(isinstance(k, str) for k in keys) and keys == sorted(keys):  # YAML keys may be `true` or `1`
        position = next((i for i, k in enumerate(keys) if k > key), len(keys))
    elif before in mapping:
        position = keys.index(before)
    else:
        position = len(keys)
    items = list(mapping.items())
    items.insert(position, (key, value))
    mapping.clear()
    mapping.update(items)
