"""Argo CD front end: the config-management plugin (render the app, apply the policy) and its installer."""
