"""The command-line options every front end shares, the engine Options they become, and the inputs they name.

Here, not in cli.py, so that a front end can build its parser without importing the command
dispatcher that sits above it. The parser itself is argparser.ArgumentParser: argparse is imported
only when a parser is built, and the post-render path usually needs none (quick_parse).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace

from postrender.core.diagnostics import LOG_FILE_ENV
from postrender.core.errors import UsageError
from postrender.core.lazyre import compiled_on_use
from postrender.core.typed import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from io import BufferedReader
    from typing import Any

    from postrender.core.argparser import ArgumentParser as ArgumentParser  # served by __getattr__
    from postrender.core.engine import Options
    from postrender.core.policy import Policy

POLICY_ENV = "SIDECAR_POLICY"
# Argo CD sets ARGOCD_APP_NAMESPACE for its plugins. HELM_NAMESPACE is not read: Helm never sets it
# for a post-renderer, and when a user exports it, `helm -n other` overrides it for Helm but not
# in the environment the post-renderer inherits (tests/test_helm_real.py).
NAMESPACE_ENVS = ("ARGOCD_APP_NAMESPACE",)
_KUBE_VERSION = compiled_on_use(r"^v?(\d+)\.(\d+)")


def __getattr__(name: str) -> Any:
    """`options.ArgumentParser`, imported from argparser.py when a front end first builds a parser."""
    if name == "ArgumentParser":
        from postrender.core.argparser import ArgumentParser

        return ArgumentParser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


_OPTION_WORD = compiled_on_use(r"^--?[A-Za-z][\w-]*(=|$)")


def refuse_joined_arguments(argv: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """Helm passes each --post-renderer-args value as one argument, without a shell, so
    `--post-renderer-args="--policy p.yaml"` arrives as the one argument '--policy p.yaml', which
    argparse would take for a FILE (and then report no policy). Say what happened instead. A value
    with a space (`--policy=my policy.yaml`) is left alone: only option words after the first count."""
    for argument in argv:
        if joined(argument):
            words = argument.split()
            separate = " ".join(f"--post-renderer-args={word}" for word in _separate_arguments(words, parser))
            raise UsageError(f"{argument!r} arrived as one argument (Helm passes each --post-renderer-args value "
                             f"as one, without a shell): give each its own flag, written with '=': {separate}")


def joined(argument: str) -> bool:
    """Whether the one argument holds several (refuse_joined_arguments says why that is an error)."""
    words = argument.split()
    return len(words) > 1 and bool(_OPTION_WORD.match(words[0])) and (
        "=" not in words[0] or any(_OPTION_WORD.match(word) for word in words[1:]))


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


def quick_parse(argv: Sequence[str], add_arguments: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace | None:
    """What argparse would parse from `argv` with the options `add_arguments` defines, or None: argparse must.

    Helm and Argo CD start the post-renderer with a few exact options (`--policy=PATH`), and argparse
    would cost a tenth of the run. This reads only the plain forms: each token an option by its exact
    name, `--name=VALUE` or `--name VALUE` with a VALUE that does not start with "-", or a flag. Anything
    else (FILE arguments, --help, an abbreviation, an unknown option, a value that is not among the
    choices, several arguments joined in one, a setting it does not know) is None, and argparse
    decides and reports it.
    tests/test_quick_parse.py checks it against argparse on generated command lines.
    """
    options = _Options()
    add_arguments(options)  # type: ignore[arg-type]  # what add_argument takes, not an ArgumentParser
    if not options.understood:
        return None
    if any(joined(argument) for argument in argv):  # refuse_joined_arguments has its say
        return None
    values = dict(options.defaults)
    tokens = iter(argv)
    for token in tokens:
        name, equals, value = token.partition("=")
        option = options.by_flag.get(name)
        if option is None:
            return None
        dest, takes_value, choices = option
        if not takes_value:
            if equals:
                return None
            values[dest] = True
            continue
        if not equals:
            following = next(tokens, None)
            if following is None:  # the option's value is missing: argparse says so
                return None
            value = following
        if value.startswith("-") or choices is not None and value not in choices:
            return None
        values[dest] = value
    return SimpleNamespace(**values)  # type: ignore[return-value]  # what argparse's Namespace gives


_UNSET = object()


class _Options:
    """Stands in for an argparse parser to learn the options a command defines (its add_argument calls)."""

    _IGNORED = frozenset({"metavar", "help", "version"})

    def __init__(self) -> None:
        self.by_flag: dict[str, tuple[str, bool, Sequence[str] | None]] = {}  # flag -> (dest, takes a value, choices)
        self.defaults: dict[str, object] = {}
        self.understood = True

    def add_argument(self, *flags: str, action: str = "store", nargs: str | None = None, default: object = _UNSET,
                     choices: Sequence[str] | None = None, dest: str | None = None, **others: object) -> None:
        if not flags or not self._IGNORED.issuperset(others):
            self.understood = False
        elif not flags[0].startswith("-"):  # a positional argument: never given here, so its empty value
            if nargs != "*" or default is not _UNSET:
                self.understood = False
            self.defaults[dest or flags[0]] = []
        elif action == "version":
            pass  # sets nothing; its flags are not in by_flag, so argparse handles them
        elif action in ("store", "store_true") and nargs is None:
            long = next((flag for flag in flags if flag.startswith("--")), flags[0])
            name = dest or long.lstrip("-").replace("-", "_")
            self.defaults[name] = (False if action == "store_true" else None) if default is _UNSET else default
            self.by_flag.update((flag, (name, action == "store", choices)) for flag in flags)
        else:
            self.understood = False


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
