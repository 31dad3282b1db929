"""The command-line options every front end shares, the engine Options they become, and the inputs they name.

Here, not in cli.py, so that a front end can build its parser without importing the command
dispatcher that sits above it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from postrender.core.diagnostics import LOG_FILE_ENV
from postrender.core.errors import UsageError

if TYPE_CHECKING:
    from io import BufferedReader

    from postrender.core.engine import Options
    from postrender.core.policy import Policy

POLICY_ENV = "SIDECAR_POLICY"
# Argo CD sets ARGOCD_APP_NAMESPACE for its plugins. HELM_NAMESPACE is not read: Helm never sets it
# for a post-renderer, and when a user exports it, `helm -n other` overrides it for Helm but not
# in the environment the post-renderer inherits (tests/test_helm_real.py).
NAMESPACE_ENVS = ("ARGOCD_APP_NAMESPACE",)
_KUBE_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


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


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """Options every command that applies a policy shares."""
    parser.add_argument("--policy", metavar="PATH", default=os.environ.get(POLICY_ENV),
                        help=f"the SidecarPolicy file (default: ${POLICY_ENV})")
    parser.add_argument("--namespace", metavar="NS", default=None,
                        help="namespace of documents that leave metadata.namespace out "
                             f"(default: ${' or $'.join(NAMESPACE_ENVS)}; without either, a rule that "
                             "matches on namespaces and meets such a document is an error)")
    parser.add_argument("--kube-version", metavar="X.Y", default=os.environ.get("KUBE_VERSION"),
                        help="the target cluster's Kubernetes version (default: $KUBE_VERSION)")
    add_linkerd_version(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.add_argument("--log-file", metavar="PATH", default=None,
                        help=f"also append warnings and errors to this file (default: ${LOG_FILE_ENV}); "
                             "Helm 4 hides a post-renderer's stderr when it fails")


def add_linkerd_version(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    parser.add_argument("--linkerd-version", metavar="X.Y", default=None,
                        help=purpose or "for a policy with spec.mesh: linkerd, the Linkerd release (2.19, edge-25.10.2) "
                                        "whose annotation key to write, in place of spec.linkerdVersion (neither: every key)")


_OPTION_WORD = re.compile(r"^--?[A-Za-z][\w-]*(=|$)")


def refuse_joined_arguments(argv: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """Helm passes each --post-renderer-args value as one argument, without a shell, so
    `--post-renderer-args="--policy p.yaml"` arrives as the one argument '--policy p.yaml', which
    argparse would take for a FILE (and then report no policy). Say what happened instead. A value
    with a space (`--policy=my policy.yaml`) is left alone: only option words after the first count."""
    for argument in argv:
        words = argument.split()
        if len(words) > 1 and _OPTION_WORD.match(words[0]) and (
            "=" not in words[0] or any(_OPTION_WORD.match(word) for word in words[1:])
        ):
            separate = " ".join(f"--post-renderer-args={word}" for word in _separate_arguments(words, parser))
            raise UsageError(f"{argument!r} arrived as one argument (Helm passes each --post-renderer-args value "
                             f"as one, without a shell): give each its own flag, written with '=': {separate}")


def _separate_arguments(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The words as arguments of their own, an option that takes a value joined to it by '='."""
    takes_value = {option for action in parser._actions if action.nargs != 0 for option in action.option_strings}
    separate: list[str] = []
    for word in words:
        if separate and separate[-1] in takes_value and not word.startswith("-"):
            separate[-1] += "=" + word
        else:
            separate.append(word)
    return separate


def options_from(args: argparse.Namespace, input_name: str = "<stdin>") -> Options:
    from postrender.core.engine import Options

    namespace = args.namespace
    if namespace is None:
        namespace = next((os.environ[name] for name in NAMESPACE_ENVS if os.environ.get(name)), None)
    return Options(namespace=namespace or "", namespace_known=namespace is not None,
                   kube_version=parse_kube_version(args.kube_version), input_name=input_name)


def parse_kube_version(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    match = _KUBE_VERSION.match(text.strip())
    if not match:
        raise UsageError(f"--kube-version/KUBE_VERSION must look like 1.29 or v1.29.3, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def require_policy(args: argparse.Namespace) -> Policy:
    from postrender.core.policy import load_policy

    if not args.policy:
        raise UsageError(f"no policy: pass --policy PATH or set {POLICY_ENV}")
    return load_policy(args.policy, args.linkerd_version)


def inputs(files: Sequence[str]) -> Sequence[tuple[str, Input]]:
    """(name, open binary stream) for each input, all opened before anything is written: a file
    that cannot be read is a usage error with nothing on stdout, not a stream cut short."""
    if not files:
        if sys.stdin is None:
            raise UsageError("stdin is closed: pass the manifests on stdin or as FILE arguments")
        return [("<stdin>", _NoClose(sys.stdin.buffer))]  # type: ignore[arg-type]  # typeshed: BinaryIO; a BufferedReader
    opened: list[tuple[str, BufferedReader]] = []
    try:
        for name in files:
            try:
                opened.append((name, open(name, "rb")))
            except OSError as error:
                raise UsageError(f"cannot read {name}: {error.strerror}") from None
    except BaseException:
        for _, handle in opened:
            handle.close()
        raise
    return opened


class _NoClose:
    def __init__(self, stream: BufferedReader) -> None:
        self.stream = stream

    def read(self, size: int = -1, /) -> bytes:
        return self.stream.read(size)

    def __enter__(self) -> _NoClose:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


if TYPE_CHECKING:
    Input = BufferedReader | _NoClose
