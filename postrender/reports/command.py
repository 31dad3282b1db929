"""`explain` and `check`: what the policy decided for each workload, and what to worry about.

Both run the engine exactly as a post-render would, into a sink that discards the manifests,
and collect one Row per workload (plus one per rule with findings). The same findings reach
the normal post-render run as warnings through `RenderWarnings`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from postrender.core import options
from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import EXIT_CHECK, EXIT_OK, Location, SidecarPolicyError, UsageError
from postrender.core.policy import Rule
from postrender.reports.findings import ALL_CHECKS, SEVERITIES, WARNING, Assessment, Finding, Review, at_least, describe_rule
from postrender.reports.rows import POLICY_KIND, Row

if TYPE_CHECKING:
    from postrender.core.engine import Outcome
    from postrender.core.policy import Policy, Workload


def workload_row(outcome: Outcome, assessment: Assessment, input_name: str) -> Row:
    workload, rule = outcome.workload, outcome.rule
    return Row(
        workload.kind, workload.namespace, workload.name,
        None if rule is None else (rule.name or rule.index),
        outcome.mode, assessment.sidecar, outcome.action, assessment.findings,
        Location(input_name, workload.document, workload.source, workload.line),
        f"{workload.kind} {workload.namespace + '/' if workload.namespace else ''}{workload.name}"
        + (f" {workload.target}" if workload.target else ""),
        workload.target,
    )


def rule_rows(policy: Policy, review: Review) -> list[Row]:
    """One row per rule with findings, in the policy's order."""
    found: dict[int, tuple[Rule, list[Finding]]] = {}  # by index: a Rule holds a dict, so it is not hashable
    for rule, finding in review.rules():
        found.setdefault(rule.index, (rule, []))[1].append(finding)
    return [
        Row(POLICY_KIND, "", policy.origin, rule.name or rule.index, rule.sidecar, "", None, findings,
            Location(file=policy.origin, line=rule.line), describe_rule(rule))
        for rule, findings in found.values()
    ]


class NullSink:
    """explain and check never write manifests."""

    def write(self, data: bytes) -> int:
        return len(data)


def collect(policy: Policy, args: argparse.Namespace, review: Review) -> list[Row]:
    """Run the policy over the inputs (stdin or FILE arguments); one Row per workload, then per rule.
    With --admission, each row is what the admission policy decides for the workload's pods."""
    from postrender.core.engine import run

    at_admission = _admission_view(policy, args)
    rows: list[Row] = []
    for name, source in options.inputs(args.files):
        with source:
            def add(outcome: Outcome, name: str = name) -> None:
                seen, shown = at_admission(outcome) if at_admission else (outcome, outcome)
                rows.append(workload_row(shown, review.workload(seen), name))

            run(policy, source, NullSink(), options.options_from(args, name), on_outcome=add)
    return rows + rule_rows(policy, review)


def _admission_view(policy: Policy, args: argparse.Namespace) -> Callable[[Outcome], tuple[Outcome, Outcome]] | None:
    """For --admission: an outcome as the admission policy has it, twice: with the workload its pods
    show (for the findings), and with the manifest's workload (for the row). Pods come from the
    template as it arrived; a CronJob's Job is the one it would create now."""
    if not getattr(args, "admission", False):  # callers that build their own arguments
        return None
    import time

    from postrender.core.admission import Admission, pod_of, read_pod, settings_from
    from postrender.core.engine import Outcome

    model = Admission(policy, settings_from(args))
    minutes = int(time.time()) // 60

    def view(outcome: Outcome) -> tuple[Outcome, Outcome]:
        template = outcome.input_template()
        pod = pod_of(outcome.workload, template, minutes)
        decision = model.decide(pod, outcome.workload.namespace)
        reading = read_pod(pod)
        pods_workload = outcome.workload._replace(kind=reading.kind, name=reading.name, labels={})
        result = model.admitted(template, decision)

        def as_outcome(workload: Workload) -> Outcome:
            return Outcome(workload, decision.rule, decision.mode, decision.action, outcome.template_node, result,
                           outcome.switch, outcome.pod_metadata)

        return as_outcome(pods_workload), as_outcome(outcome.workload)

    return view


class RenderWarnings:
    """The post-render run's hook: each finding at warning or above becomes one stderr line.

    With `fail_on`, findings at that severity or above are errors and `finish` fails the run:
    Helm shows a post-renderer's stderr only when it fails.
    """

    def __init__(self, policy: Policy, kube_version: tuple[int, int] | None, diagnostics: Diagnostics,
                 fail_on: str | None = None):
        self.policy = policy
        self.review = Review(policy, kube_version)
        self.diagnostics = diagnostics
        self.fail_on = fail_on
        self.failing = 0

    def on_outcome(self, input_name: str) -> Callable[[Outcome], None]:
        def warn(outcome: Outcome) -> None:
            assessment = self.review.workload(outcome)
            if assessment.findings:
                self._warn(workload_row(outcome, assessment, input_name))

        return warn

    def empty_input(self) -> None:
        """Nothing on stdin: Helm 3's `template --output-dir` writes the files itself and hands the
        post-renderer an empty stream (pkg/action/action.go renderResources, v3.22.0)."""
        self._report(WARNING, "no manifests on stdin; `helm template --output-dir` (Helm 3) writes its files "
                              "without post-rendering them: redirect stdout to a file instead")

    def finish(self) -> None:
        for row in rule_rows(self.policy, self.review):
            self._warn(row)
        if self.failing:
            raise SidecarPolicyError(f"{self.failing} finding(s) at or above --fail-on={self.fail_on}, "
                                     "so the render fails (see the lines above)", exit_code=EXIT_CHECK)

    def _warn(self, row: Row) -> None:
        for finding in row.findings:
            self._report(finding.severity, warning_line(row.location, row.subject, finding))

    def _report(self, severity: str, line: str) -> None:
        if self.fail_on and at_least(severity, self.fail_on):
            self.failing += 1
            self.diagnostics.error(line)
        elif at_least(severity, WARNING):
            self.diagnostics.warn(line)


def warning_line(location: Location, subject: str, finding: Finding) -> str:
    """One stderr line; the severity is spelled out only when it is worse than the `warning:` prefix."""
    severity = f" ({finding.severity})" if finding.severity != WARNING else ""
    return f"{location}: {finding.code}{severity} {subject}: {finding.message}"


# --- commands -------------------------------------------------------------------------------


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = options.ArgumentParser(prog=f"sidecar-policy {prog}", description=description)
    options.add_policy_options(parser)
    parser.add_argument("--ignore", metavar="CODE", action="append", default=[],
                        help="leave out findings with this code or name (repeatable, or comma-separated)")
    parser.add_argument("--admission", action="store_true",
                        help="decide as `sidecar-policy admission` would for the workloads' pods, not as the post-renderer")
    from postrender.core.admission import add_settings_options

    add_settings_options(parser)
    parser.add_argument("files", nargs="*", metavar="FILE", help="read these instead of stdin")
    return parser


def _review(policy: Policy, args: argparse.Namespace) -> Review:
    ignore = frozenset(code.strip() for value in args.ignore for code in value.split(",") if code.strip())
    known = {check.code for check in ALL_CHECKS} | {check.slug for check in ALL_CHECKS}
    unknown = sorted(ignore - known)
    if unknown:
        raise UsageError(f"--ignore: unknown finding {', '.join(unknown)}; known: "
                             + ", ".join(check.code for check in ALL_CHECKS))
    return Review(policy, options.parse_kube_version(args.kube_version), ignore)


def explain(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Show, per workload, the rule that decided, the sidecar mode, the action and the findings."""
    from postrender.reports import formats

    parser = _parser("explain", explain.__doc__ or "")
    parser.add_argument("-o", "--output", choices=sorted(formats.EXPLAIN_FORMATS), default="table",
                        help="table (default, for people), json, or markdown (for a pull-request comment)")
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    policy = options.require_policy(args)
    rows = collect(policy, args, _review(policy, args))
    sys.stdout.write(formats.EXPLAIN_FORMATS[args.output](rows, policy, sys.stdout))
    return EXIT_OK


def check(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Print the findings; exit 3 when one reaches --fail-on (a CI gate and pre-commit hook)."""
    from postrender.reports import formats

    parser = _parser("check", check.__doc__ or "")
    parser.add_argument("--fail-on", choices=SEVERITIES, default="error",
                        help="the lowest severity that fails the check (default: error)")
    parser.add_argument("--format", choices=sorted(formats.CHECK_FORMATS), default="text",
                        help="text (default), or github for GitHub Actions annotations")
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    policy = options.require_policy(args)
    rows = collect(policy, args, _review(policy, args))
    sys.stdout.write(formats.CHECK_FORMATS[args.format](rows, args.fail_on))
    failing = any(at_least(f.severity, args.fail_on) for row in rows for f in row.findings)
    return EXIT_CHECK if failing else EXIT_OK
