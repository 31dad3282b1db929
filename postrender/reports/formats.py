"""How explain and check print their rows: an aligned table, JSON, Markdown, text and GitHub annotations.

Every format is a function (rows, ...) -> str, listed in a registry per command.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from postrender.reports.findings import SEVERITIES, Finding, at_least
from postrender.reports.rows import POLICY_KIND, Row

if TYPE_CHECKING:
    from postrender.core.policy import Policy

_COLOURS = {"error": "31", "warning": "33", "info": "36", "header": "1"}  # ANSI SGR codes
_FALLBACK = "(fallback)"
# At admission (explain --admission) a pod may be left alone before any rule is asked.
_UNDECIDED = {"annotated": "(pod's own annotation)", "exempt": "(namespace left alone)"}


def colour_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def paint(text: str, style: str, colour: bool) -> str:
    return f"\033[{_COLOURS[style]}m{text}\033[0m" if colour and text else text


def _rule_text(row: Row) -> str:
    if row.rule is None:
        return _UNDECIDED.get(row.action or "", _FALLBACK)
    return row.rule if isinstance(row.rule, str) else f"rule {row.rule}"


def _sidecar_text(row: Row) -> str:
    """The decision, and what the pod ends up with when that is not the same word."""
    if row.effective and row.effective != row.sidecar:
        return f"{row.sidecar} → {row.effective}"
    return row.sidecar


def _summary(rows: list[Row]) -> str:
    workloads = sum(1 for row in rows if row.kind != POLICY_KIND)
    counts = Counter(f.severity for row in rows for f in row.findings)
    parts = [f"{counts[severity]} {severity}{'s' if counts[severity] != 1 and severity != 'info' else ''}"
             for severity in reversed(SEVERITIES)]
    return f"{workloads} workload{'s' if workloads != 1 else ''}: {', '.join(parts)}"


def _ordered(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by code, so the same input always prints the same way."""
    return sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), f.code))


def _distinct_codes(findings: list[Finding]) -> list[Finding]:
    """One finding per code, for the table's FINDINGS column (the details list them all)."""
    seen: dict[str, Finding] = {}
    for finding in _ordered(findings):
        seen.setdefault(finding.code, finding)
    return list(seen.values())


# --- explain ----------------------------------------------------------------------------------

_HEADERS = ("KIND", "NAMESPACE", "NAME", "RULE", "SIDECAR", "ACTION", "FINDINGS")


def aligned(headers: Sequence[str], cells: Sequence[Sequence[str]], last: Sequence[str], colour: bool) -> list[str]:
    """A header line and one line per row: columns padded to their widest cell, then `last` unpadded
    (it may hold colour codes, which would throw widths off)."""
    widths = [max([len(header)] + [len(cell[i]) for cell in cells]) for i, header in enumerate(headers[:-1])]
    lines = [paint("  ".join(h.ljust(w) for h, w in zip(headers, widths)) + "  " + headers[-1], "header", colour)]
    lines += ["  ".join(text.ljust(width) for text, width in zip(cell, widths)) + "  " + end
              for cell, end in zip(cells, last)]
    return lines


def table(rows: list[Row], policy: Policy, stream: TextIO) -> str:
    colour = colour_enabled(stream)
    cells = [(row.kind, row.namespace or "-", row.name_and_target, _rule_text(row), _sidecar_text(row), row.action or "-")
             for row in rows]
    codes = [" ".join(paint(f.code, f.severity, colour) for f in _distinct_codes(row.findings)) or "-" for row in rows]
    lines = aligned(_HEADERS, cells, codes, colour)
    details = [
        f"  {paint(f.severity.ljust(7), f.severity, colour)}  {f.code}  {row.subject}: {f.message}"
        for row in rows for f in _ordered(row.findings)
    ]
    if details:
        lines += ["", "findings:"] + details
    lines += ["", _summary(rows)]
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row], policy: Policy, stream: TextIO) -> str:
    objects = [
        {
            "kind": row.kind,
            "namespace": row.namespace,
            "name": row.name,
            "target": row.target,
            "rule": row.rule,
            "sidecar": row.sidecar,
            "action": row.action,
            "findings": [f._asdict() for f in _ordered(row.findings)],
        }
        for row in rows
    ]
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"


def code_span(text: str) -> str:
    """A Markdown code span: names stay literal (no emphasis from `_`), pipes cannot break the table."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`" if text else "—"


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table; cells are Markdown already (see code_span and markdown_cell)."""
    return ["| " + " | ".join(line) + " |" for line in [headers, ["---"] * len(headers), *cells]]


_MARKDOWN_HEADERS = ("Kind", "Namespace", "Name", "Rule", "Sidecar", "Action", "Findings")


def markdown(rows: list[Row], policy: Policy, stream: TextIO) -> str:
    lines = [f"### sidecar-policy: {code_span(policy.origin)}", "", _summary(rows), ""]
    lines += markdown_table(_MARKDOWN_HEADERS, [
        (row.kind, code_span(row.namespace), code_span(row.name_and_target),
         "*fallback*" if _rule_text(row) == _FALLBACK else code_span(_rule_text(row)), _sidecar_text(row), row.action or "—",
         " ".join(f"{f.code} ({f.severity})" for f in _distinct_codes(row.findings)) or "—")
        for row in rows])
    details = [f"- **{f.severity}** `{f.code}` {code_span(row.subject)}: {markdown_cell(f.message)}"
               for row in rows for f in _ordered(row.findings)]
    if details:
        lines += ["", "#### Findings", ""] + details
    return "\n".join(lines) + "\n"


EXPLAIN_FORMATS: dict[str, Callable[[list[Row], Policy, TextIO], str]] = {
    "table": table,
    "json": to_json,
    "markdown": markdown,
}


# --- check ------------------------------------------------------------------------------------


def text(rows: list[Row], fail_on: str) -> str:
    lines = [f"{row.location}: {f.severity}: {f.code} {row.subject}: {f.message}"
             for row in rows for f in _ordered(row.findings)]
    failing = sum(1 for row in rows for f in row.findings if at_least(f.severity, fail_on))
    verdict = f"failed: {failing} at or above {fail_on}" if failing else f"passed: nothing at or above {fail_on}"
    return "\n".join(lines + [f"{_summary(rows)}; {verdict}"]) + "\n"


_GITHUB_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(value: str) -> str:
    # The escaping of the Actions runner's workflow commands (actions/toolkit, packages/core/src/command.ts).
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _github_position(row: Row) -> dict[str, str]:
    """A file and line GitHub can attach to: the input file, else the chart template (no line: it is the
    stream's line, not the template's)."""
    where = row.location
    if where.file and where.file != "<stdin>":
        return {"file": where.file, "line": str(where.line)} if where.line else {"file": where.file}
    return {"file": where.source} if where.source else {}


def github(rows: list[Row], fail_on: str) -> str:
    lines = []
    for row in rows:
        properties = {**_github_position(row)}
        for f in _ordered(row.findings):
            properties["title"] = f"{f.code} {row.subject}"
            joined = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
            lines.append(f"::{_GITHUB_LEVELS[f.severity]} {joined}::{_escape_data(f.message)}")
    return "".join(line + "\n" for line in lines)


CHECK_FORMATS: dict[str, Callable[[list[Row], str], str]] = {
    "text": text,
    "github": github,
}
