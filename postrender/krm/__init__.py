"""KRM function front end: a ResourceList in, the same list with the policy applied out (kustomize, kpt)."""
