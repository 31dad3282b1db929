"""The core: read the stream, find workloads, decide by the policy, edit the text. Imports nothing above it."""
