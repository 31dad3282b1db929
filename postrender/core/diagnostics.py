"""Warnings and errors for people: stderr, one line each, and optionally a log file.

Helm 4 drops a plugin's stderr when it fails, so `--log-file` / SIDECAR_POLICY_LOG_FILE keep a
copy where it can be found.
"""

from __future__ import annotations

import os
import sys
import time

from postrender.core.typed import TYPE_CHECKING

LOG_FILE_ENV = "SIDECAR_POLICY_LOG_FILE"
PROGRAM = "sidecar-policy"

if TYPE_CHECKING:
    from typing import TextIO


class Diagnostics:
    def __init__(self, quiet: bool = False, log_file: str | None = None, stream: TextIO | None = None):
        self.quiet = quiet
        self.log_file = log_file or os.environ.get(LOG_FILE_ENV) or None
        self.stream = stream or sys.stderr

    def configure(self, args: object) -> None:
        """Take --quiet and --log-file from parsed arguments."""
        self.quiet = bool(getattr(args, "quiet", False))
        self.log_file = getattr(args, "log_file", None) or self.log_file

    @property
    def shows_warnings(self) -> bool:
        """Whether a warning would reach anyone: lets callers skip work whose only output is warnings."""
        return not self.quiet or bool(self.log_file)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self._emit(f"{PROGRAM}: warning: {message}")
        elif self.log_file:
            self._log(f"{PROGRAM}: warning: {message}")

    def error(self, message: str) -> None:
        self._emit(f"{PROGRAM}: error: {message}")

    def _emit(self, line: str) -> None:
        if self.stream is not None:  # stderr closed (`2>&-`): print(file=None) would write to stdout
            try:
                print(line, file=self.stream, flush=True)
            except OSError:
                pass  # a message that cannot be shown must not turn into another error
        if self.log_file:
            self._log(line)

    def _log(self, line: str) -> None:
        if not self.log_file:
            return
        try:
            with open(self.log_file, "a", encoding="utf-8") as handle:
                handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
        except OSError as error:
            print(f"{PROGRAM}: warning: cannot write the log file {self.log_file}: {error.strerror}", file=self.stream)
            self.log_file = None
