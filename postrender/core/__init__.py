"""The core: read the stream, find workloads, decide by the policy, edit the text. Imports nothing above it."""

from postrender.core import _pyyaml  # noqa: F401  first, so that PyYAML is imported the cheap way (see there)
