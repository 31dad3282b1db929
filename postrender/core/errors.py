"""One error type for everything a user can get wrong, and the documented exit codes."""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK = 0
EXIT_INPUT = 1  # a manifest in the stream is broken, or a decision cannot be applied to it
EXIT_USAGE = 2  # bad command line or bad policy file: nothing was read from stdin
EXIT_CHECK = 3  # `check` found findings at or above --fail-on
EXIT_TOOL = 4  # a program we run (helm, kustomize) failed
EXIT_BUG = 70  # an internal error: please report it (EX_SOFTWARE)
EXIT_INTERRUPTED = 130


class Location(NamedTuple):
    """Where in the input something is: every field is optional."""

    file: str = ""
    document: int | None = None  # 1-based index of the document in the stream
    source: str = ""  # the template's path: Helm 3's `# Source:`, Helm 4's filename annotation
    line: int | None = None  # 1-based line in the file (the stream)
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        where = self.file or "<stdin>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where]
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.source:
            parts.append(f"({self.source})")
        return " ".join(parts)


class SidecarPolicyError(Exception):
    """A user error: printed as one line on stderr, mapped to an exit code, never a traceback."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, location: Location | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class InputError(SidecarPolicyError):
    exit_code = EXIT_INPUT


class UsageError(SidecarPolicyError):
    """Bad command line or policy: raised before any input is read."""

    exit_code = EXIT_USAGE


class ToolError(SidecarPolicyError):
    exit_code = EXIT_TOOL
