"""Where two streams, read as Kubernetes reads them, first differ: a message a reviewer can act on."""

from __future__ import annotations

import json
from typing import Any


def first_difference(actual: list[Any], expected: list[Any]) -> str | None:
    """None when the documents are equal data, else the first document and path where they differ."""
    if len(actual) != len(expected):
        return f"{len(actual)} documents, expected {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected)):
        path = _first_path(got, want, "")
        if path is not None:
            name = f"{want.get('kind')}/{(want.get('metadata') or {}).get('name')}" if isinstance(want, dict) else ""
            return (f"document {index} ({name}) differs at {path[0] or '/'}: got {_short(path[1])}, "
                    f"expected {_short(path[2])}\nexpected document: {json.dumps(want)[:6000]}")
    return None


def _first_path(got: Any, want: Any, path: str) -> tuple[str, Any, Any] | None:
    if type(got) is not type(want):
        return path, got, want
    if isinstance(want, dict):
        if list(got) != list(want) and set(got) != set(want):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            return path, f"keys +{extra} -{missing}", sorted(want)
        for key in want:
            found = _first_path(got[key], want[key], f"{path}/{key}")
            if found is not None:
                return found
        return None
    if isinstance(want, list):
        names = [item.get("name") if isinstance(item, dict) else None for item in want]
        if len(got) != len(want) or names != [item.get("name") if isinstance(item, dict) else None for item in got]:
            return path, _names_or_items(got), _names_or_items(want)
        for index, (item_got, item_want) in enumerate(zip(got, want)):
            found = _first_path(item_got, item_want, f"{path}/{index}")
            if found is not None:
                return found
        return None
    return None if got == want else (path, got, want)


def _names_or_items(items: list) -> list:
    return [item["name"] if isinstance(item, dict) and "name" in item else item for item in items]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 600 else text[:600] + "..."
