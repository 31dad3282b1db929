"""YAML that people review: keys in the order given, no line wrapping, multi-line text as literal blocks.

For the objects sidecar-policy generates (Flux patches, the admission policy), which land in a
repository and are read in pull requests.
"""

from __future__ import annotations

import yaml


class _Dumper(yaml.CSafeDumper):
    """Multi-line strings as literal blocks (`patch: |`), as people write patches and CEL by hand."""

    def represent_str(self, value: str) -> yaml.ScalarNode:
        return self.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _Dumper.represent_str)


def dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16)
