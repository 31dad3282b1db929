"""The `sidecar-policy` command: argument parsing, the command registry, one error handler."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Callable, Sequence

from postrender import __version__
from postrender.diagnostics import LOG_FILE_ENV, Diagnostics
from postrender.errors import EXIT_BUG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_USAGE, SidecarPolicyError, UsageError

POLICY_ENV = "SIDECAR_POLICY"
NAMESPACE_ENVS = ("HELM_NAMESPACE", "ARGOCD_APP_NAMESPACE")
_KUBE_VERSION = re.compile(r"^v?(\d+)\.(\d+)")

USAGE_EXAMPLE = """\
examples:
  helm template app ./chart --post-renderer sidecar-policy --post-renderer-args --policy=policy.yaml
  sidecar-policy --policy policy.yaml < rendered.yaml > post-rendered.yaml
  sidecar-policy schema > sidecar-policy.schema.json

exit codes: 0 ok, 1 bad input manifest, 2 bad usage or policy, 3 check failed,
            4 a tool we ran failed, 70 internal error, 130 interrupted
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports mistakes as UsageError, so they reach --log-file like any error."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse imports shutil (and bz2, lzma) for the terminal width on every parser built:
        # ~8% of start-up. Same width, from os.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
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
                             f"(default: ${' or $'.join(NAMESPACE_ENVS)}, else empty)")
    parser.add_argument("--kube-version", metavar="X.Y", default=os.environ.get("KUBE_VERSION"),
                        help="the target cluster's Kubernetes version (default: $KUBE_VERSION)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.add_argument("--log-file", metavar="PATH", default=None,
                        help=f"also append warnings and errors to this file (default: ${LOG_FILE_ENV}); "
                             "Helm 4 hides a post-renderer's stderr when it fails")


def options_from(args: argparse.Namespace, input_name: str = "<stdin>"):
    from postrender.engine import Options

    namespace = args.namespace
    if namespace is None:
        namespace = next((os.environ[name] for name in NAMESPACE_ENVS if os.environ.get(name)), "")
    return Options(namespace=namespace, kube_version=parse_kube_version(args.kube_version), input_name=input_name)


def parse_kube_version(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    match = _KUBE_VERSION.match(text.strip())
    if not match:
        raise UsageError(f"--kube-version/KUBE_VERSION must look like 1.29 or v1.29.3, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def require_policy(args: argparse.Namespace):
    from postrender.policy import load_policy

    if not args.policy:
        raise UsageError(f"no policy: pass --policy PATH or set {POLICY_ENV}")
    return load_policy(args.policy)


def render(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Post-render manifests (stdin, or files) to stdout: what Helm's --post-renderer runs."""
    parser = ArgumentParser(
        prog="sidecar-policy",
        description="Apply a SidecarPolicy to rendered Kubernetes manifests: sets or removes "
                    "sidecar.istio.io/nativeSidecar on each pod template, in one streaming pass.",
        epilog=USAGE_EXAMPLE + "\ncommands: " + ", ".join(sorted(COMMANDS)) + " (sidecar-policy COMMAND --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_policy_options(parser)
    parser.add_argument("files", nargs="*", metavar="FILE", help="read these instead of stdin")
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    policy = require_policy(args)
    from postrender.engine import run
    from postrender.report import RenderWarnings

    sink = _SeparatingSink(sys.stdout.buffer)
    # Findings (issue 7) go to stderr as they are found; with nowhere to show them, skip the work.
    warnings = RenderWarnings(policy, parse_kube_version(args.kube_version), diagnostics) if diagnostics.shows_warnings else None
    for name, source in inputs(args.files):
        with source:
            sink.separate(source)
            on_outcome = None if warnings is None else warnings.on_outcome(name)
            run(policy, source, sink, options_from(args, name), on_outcome=on_outcome)
    sink.stream.flush()
    if warnings is not None:
        warnings.finish()
    return 0


def inputs(files: Sequence[str]) -> list:
    """(name, open binary stream) for each input, all opened before anything is written: a file
    that cannot be read is a usage error with nothing on stdout, not a stream cut short."""
    if not files:
        if sys.stdin is None:
            raise UsageError("stdin is closed: pass the manifests on stdin or as FILE arguments")
        return [("<stdin>", _NoClose(sys.stdin.buffer))]
    opened = []
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


class _SeparatingSink:
    """Writes several files as one stream: a file's last document must not run into the next file's first."""

    def __init__(self, stream):
        self.stream = stream
        self.last = b""  # the last byte written; b"" before anything

    def write(self, data: bytes) -> None:
        if data:
            self.stream.write(data)
            self.last = data[-1:]

    def separate(self, source) -> None:
        if not self.last or not hasattr(source, "peek"):
            return
        if self.last != b"\n":
            self.write(b"\n")
        if source.peek(4)[:4] not in (b"---\n", b"---\r", b"--- "):
            self.write(b"---\n")


class _NoClose:
    def __init__(self, stream):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def schema(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Print the JSON Schema of the policy format, for editors and CI."""
    ArgumentParser(prog="sidecar-policy schema", description=schema.__doc__).parse_args(argv)
    from importlib.resources import files

    sys.stdout.write(files("postrender").joinpath("policy.schema.json").read_text(encoding="utf-8"))
    return 0


def _lazy(module: str, function: str) -> Callable[[Sequence[str], Diagnostics], int]:
    """A command whose module is imported only when it runs: start-up stays fast, no import cycle."""
    def command(argv: Sequence[str], diagnostics: Diagnostics) -> int:
        from importlib import import_module

        return getattr(import_module(f"postrender.{module}"), function)(argv, diagnostics)

    command.__doc__ = f"postrender.{module}.{function}"
    return command


# One registry of subcommands: name -> function(argv, diagnostics) -> exit code.
COMMANDS: dict[str, Callable[[Sequence[str], Diagnostics], int]] = {
    "schema": schema,
    "explain": _lazy("report", "explain"),
    "check": _lazy("report", "check"),
    "argocd": _lazy("argocd", "main"),
    "flux": _lazy("flux", "flux"),
    "kustomize": _lazy("flux", "kustomize"),
    "krm": _lazy("krm", "krm"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    diagnostics = Diagnostics(log_file=_log_file_argument(argv))
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        if sys.stdout is None:  # started with stdout closed (`>&-`): nowhere to write
            raise UsageError("stdout is closed: nowhere to write the output")
        if command is not None:
            return command(argv[1:], diagnostics)
        return render(argv, diagnostics)
    except SidecarPolicyError as error:
        diagnostics.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away: what it got is incomplete, and it should know
        _silence_stdout()
        diagnostics.error("stdout was closed before all of the output was written (broken pipe)")
        return EXIT_INPUT
    except SystemExit as exit_:  # argparse's --help and --version (its errors are UsageErrors)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except Exception as error:  # a bug: one line for the user, the details where asked
        diagnostics.error(f"internal error: {type(error).__name__}: {error} (please report this; "
                          "set SIDECAR_POLICY_DEBUG=1 for details)")
        if os.environ.get("SIDECAR_POLICY_DEBUG"):
            import traceback  # only here: importing it costs every run a few milliseconds

            traceback.print_exc()
        return EXIT_BUG


def _log_file_argument(argv: list[str]) -> str | None:
    """--log-file, read before parsing so that even a mistyped argument is logged."""
    for position, argument in enumerate(argv):
        if argument.startswith("--log-file="):
            return argument.partition("=")[2]
        if argument == "--log-file" and position + 1 < len(argv):
            return argv[position + 1]
    return None


def _silence_stdout() -> None:
    """After a closed pipe, stop Python from failing again while flushing stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
