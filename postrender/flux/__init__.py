"""Flux front end: the policy as helm-controller post-renderer patches, and a HelmRelease merged with them."""
