"""A report's rows: one per workload, one per rule of the policy that has findings.

The formats and the commands that collect rows both read this module, so neither imports the other.
"""

from __future__ import annotations

from postrender.core.errors import Location
from postrender.core.typed import NamedTuple
from postrender.reports.findings import Finding

POLICY_KIND = "SidecarPolicy"  # the kind of the rows that report on the policy's rules


class Row(NamedTuple):
    """One line of a report: a workload, or a rule of the policy that has findings."""

    kind: str
    namespace: str
    name: str
    rule: str | int | None  # the deciding rule's name, else its index; None: the fallback decided
    sidecar: str  # the decision: native | regular | default | keep
    effective: str  # what the pod will run: native | regular | none ("" for rule rows)
    action: str | None  # set | replaced | removed | unchanged | converted | kept (None for rule rows)
    findings: list[Finding]
    location: Location
    subject: str  # how messages name it: `Job ns/name`, `RayCluster ns/ray workerGroupSpecs[1]`, `rule 2 'jobs'`
    target: str = ""  # which pod template or pod metadata of the object, for kinds with several (Workload.target)

    @property
    def name_and_target(self) -> str:
        return f"{self.name} {self.target}" if self.target else self.name
