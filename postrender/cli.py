"""The `sidecar-policy` command: argument parsing, the command registry, one error handler."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, BinaryIO

from postrender import __version__
from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import EXIT_BUG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_USAGE, SidecarPolicyError, UsageError
from postrender.core.options import (
    ArgumentParser,
    add_policy_options,
    inputs,
    options_from,
    parse_kube_version,
    refuse_joined_arguments,
    require_policy,
)

FAIL_ON_ENV = "SIDECAR_POLICY_FAIL_ON"
FAIL_ON_SEVERITIES = ("warning", "error")  # findings.SEVERITIES above info, named here to keep start-up light

if TYPE_CHECKING:
    from postrender.core.options import Input

USAGE_EXAMPLE = """\
examples:
  helm template app ./chart --post-renderer sidecar-policy --post-renderer-args=--policy=policy.yaml
  sidecar-policy --policy policy.yaml < rendered.yaml > post-rendered.yaml
  sidecar-policy schema > sidecar-policy.schema.json

exit codes: 0 ok, 1 bad input manifest, 2 bad usage or policy, 3 check failed (or a pods restart),
            4 a tool we ran failed, 70 internal error, 130 interrupted
"""


def render(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """Post-render manifests (stdin, or files) to stdout: what Helm's --post-renderer runs."""
    parser = ArgumentParser(
        prog="sidecar-policy",
        description="Apply a SidecarPolicy to rendered Kubernetes manifests: sets or removes the mesh's "
                    "native-sidecar annotation (sidecar.istio.io/nativeSidecar, or Linkerd's "
                    "proxy-enable-native-sidecar) on each pod template, in one streaming pass.",
        epilog=USAGE_EXAMPLE + "\ncommands: " + ", ".join(sorted(COMMANDS)) + " (sidecar-policy COMMAND --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_policy_options(parser)
    parser.add_argument("--fail-on", choices=FAIL_ON_SEVERITIES, default=os.environ.get(FAIL_ON_ENV) or None,
                        help="fail (exit 3) when a finding reaches this severity: Helm shows a "
                             f"post-renderer's warnings only when it fails (default: ${FAIL_ON_ENV})")
    parser.add_argument("files", nargs="*", metavar="FILE", help="read these instead of stdin")
    refuse_joined_arguments(argv, parser)
    args = parser.parse_args(argv)
    diagnostics.configure(args)
    if args.fail_on not in (None, *FAIL_ON_SEVERITIES):  # argparse checks choices only on the command line
        raise UsageError(f"{FAIL_ON_ENV} must be one of {', '.join(FAIL_ON_SEVERITIES)}, not {args.fail_on!r}")
    policy = require_policy(args)
    from postrender.core.engine import run
    from postrender.reports.command import RenderWarnings

    sink = _SeparatingSink(sys.stdout.buffer)
    # Findings go to stderr as they are found; with nowhere to show them and nothing to fail on, skip the work.
    warnings = None
    if diagnostics.shows_warnings or args.fail_on:
        warnings = RenderWarnings(policy, parse_kube_version(args.kube_version), diagnostics, args.fail_on)
    for name, source in inputs(args.files):
        with source:
            sink.separate(source)
            on_outcome = None if warnings is None else warnings.on_outcome(name)
            run(policy, source, sink, options_from(args, name), on_outcome=on_outcome)
    sink.stream.flush()
    if warnings is not None:
        if not sink.last and not args.files:
            warnings.empty_input()
        warnings.finish()
    return 0


class _SeparatingSink:
    """Writes several files as one stream: a file's last document must not run into the next file's first."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.last = b""  # the last byte written; b"" before anything

    def write(self, data: bytes) -> None:
        if data:
            self.stream.write(data)
            self.last = data[-1:]

    def separate(self, source: Input) -> None:
        if not self.last or not hasattr(source, "peek"):
            return
        if self.last != b"\n":
            self.write(b"\n")
        if source.peek(4)[:4] not in (b"---\n", b"---\r", b"--- "):
            self.write(b"---\n")


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

        entry: Callable[[Sequence[str], Diagnostics], int] = getattr(import_module(f"postrender.{module}"), function)
        return entry(argv, diagnostics)

    command.__doc__ = f"postrender.{module}.{function}"
    return command


# One registry of subcommands: name -> function(argv, diagnostics) -> exit code.
COMMANDS: dict[str, Callable[[Sequence[str], Diagnostics], int]] = {
    "schema": schema,
    "explain": _lazy("reports.command", "explain"),
    "check": _lazy("reports.command", "check"),
    "pods": _lazy("pods.command", "pods"),
    "argocd": _lazy("argocd.command", "main"),
    "flux": _lazy("flux.command", "flux"),
    "kustomize": _lazy("flux.command", "kustomize"),
    "krm": _lazy("krm.function", "krm"),
    "admission": _lazy("admission.command", "main"),
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


def krm_main() -> int:
    """`sidecar-policy-krm`: the KRM function under a name of its own, for orchestrators that run a
    path without arguments (kustomize before v5.7 reads only `exec.path`)."""
    return main(["krm", *sys.argv[1:]])


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
