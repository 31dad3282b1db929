"""The MutatingAdmissionPolicy and its MutatingAdmissionPolicyBinding, in the API version a Kubernetes
release serves them in (admissionregistration.k8s.io/v1 MutatingAdmissionPolicySpec: matchConstraints,
matchConditions, variables, mutations, failurePolicy, reinvocationPolicy; the same fields in v1beta1)."""

from __future__ import annotations

from typing import Any, NamedTuple

from postrender.admission import cel
from postrender.core import istio
from postrender.core.admission import Admission
from postrender.core.errors import UsageError

FAILURE_POLICIES = ("Ignore", "Fail")
MANAGED_BY = {"app.kubernetes.io/managed-by": "sidecar-policy"}


class Api(NamedTuple):
    version: str  # the apiVersion of both objects
    needs: str  # what the API server must be started with to serve it ("" when it serves it by default)


def api_for(kube_version: tuple[int, int] | None) -> Api:
    """The newest API version a Kubernetes release serves the policy in (no version: the stable one)."""
    for since, version, needs in istio.MUTATING_ADMISSION_POLICY_APIS:
        if kube_version is None or kube_version >= since:
            return Api(version, needs)
    oldest = istio.MUTATING_ADMISSION_POLICY_APIS[-1][0]
    assert kube_version is not None
    raise UsageError(f"Kubernetes {kube_version[0]}.{kube_version[1]} has no MutatingAdmissionPolicy that sidecar-policy "
                     f"supports (beta from {oldest[0]}.{oldest[1]}, stable from 1.36): use the post-renderer there")


def policy_objects(admission: Admission, api: Api, name: str, failure_policy: str) -> list[dict[str, Any]]:
    """The policy and its binding, as plain data in the order they are applied."""
    metadata = {"name": name, "labels": dict(MANAGED_BY)}
    constraints: dict[str, Any] = {
        "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
    }
    skipped = admission.skipped()
    if skipped:
        constraints["namespaceSelector"] = {"matchExpressions": [
            {"key": istio.NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": list(skipped)}]}
    spec: dict[str, Any] = {
        "failurePolicy": failure_policy,
        "reinvocationPolicy": "Never",  # the decision depends only on what the pod had when it arrived
        "matchConstraints": constraints,
    }
    conditions = [{"name": key, "expression": expression} for key, expression in cel.match_conditions(admission)]
    if conditions:
        spec["matchConditions"] = conditions
    spec["variables"] = [{"name": key, "expression": expression}
                         for key, expression in cel.reading_variables() + cel.decision_variables(admission)]
    spec["mutations"] = [{"patchType": "JSONPatch", "jsonPatch": {"expression": cel.mutation(admission)}}]
    binding = {"policyName": name}
    return [
        {"apiVersion": api.version, "kind": "MutatingAdmissionPolicy", "metadata": metadata, "spec": spec},
        {"apiVersion": api.version, "kind": "MutatingAdmissionPolicyBinding", "metadata": dict(metadata), "spec": binding},
    ]
