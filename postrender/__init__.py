"""sidecar-policy: choose native or regular istio-proxy sidecars per workload, after rendering."""

__version__ = "0.1.0"
