"""`pods` front end: the istio-proxy form running pods have, the one new pods would get, and what to restart."""
