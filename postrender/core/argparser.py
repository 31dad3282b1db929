"""The argparse parser every command builds: mistakes become UsageErrors, and no shutil for the width.

Apart from options.py so that the post-render path, which parses its usual arguments without
argparse (options.quick_parse), does not import it: argparse, and the gettext lookups its parsers
make, cost a tenth of a post-render run's start-up.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from postrender.core.errors import UsageError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports mistakes as UsageError, so they reach --log-file like any error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse imports shutil (and bz2, lzma) for the terminal width on every parser built:
        # ~8% of start-up. Same width, from os.
        # typeshed's formatter_class promises only `prog`; every argparse formatter takes `width` too.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80
