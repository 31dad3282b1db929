"""`sidecar-policy argocd …`: the Argo CD config-management plugin (a sidecar of argocd-repo-server).

Argo CD has no Helm post-renderer (argo-cd#3698), so the plugin renders the app itself (helm,
kustomize or plain files, see argocd.sources) and pipes the result through the core in one go.

  init      plugin.yaml `init`: build a chart's dependencies when they are not vendored
  generate  plugin.yaml `generate`: render the app in the current directory, apply the policy,
            print the stream; any failure exits non-zero with nothing on stdout.
            `generate -- COMMAND ...` renders with another plugin's command instead, `generate -`
            takes the rendered stream on stdin (chaining after or inside another plugin)
  install   write the kustomize Component that adds the sidecar (see argocd.install)

The policy is the first of (documented in docs/argocd.md):
  1. the plugin parameter `policy` (inline SidecarPolicy YAML),
  2. ARGOCD_ENV_SIDECAR_POLICY (a file in the repository: relative to the app directory, or to
     the repository root when it starts with `/`; it may not leave the repository),
  3. `.sidecar-policy.yaml` in the app directory,
  4. the cluster-wide default mounted from the plugin's ConfigMap
     ($SIDECAR_POLICY_DEFAULT, /etc/sidecar-policy/default-policy.yaml when unset).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO

from postrender.core.diagnostics import Diagnostics
from postrender.core.errors import InputError, Location, UsageError

if TYPE_CHECKING:  # each command imports what it needs when it runs: `install` never loads the engine
    from pathlib import Path

    from postrender.argocd.env import AppEnv
    from postrender.core.engine import Outcome
    from postrender.core.policy import Policy, Workload

POLICY_FILE = ".sidecar-policy.yaml"
POLICY_PARAMETER = "policy"
POLICY_ENV = "SIDECAR_POLICY"  # set as spec.source.plugin.env, so it arrives as ARGOCD_ENV_SIDECAR_POLICY
DEFAULT_POLICY_VAR = "SIDECAR_POLICY_DEFAULT"  # the sidecar's own env: users cannot set it
DEFAULT_POLICY_PATH = "/etc/sidecar-policy/default-policy.yaml"
# The sidecar's env, set by the administrator like argocd-cm kustomize.buildOptions (apps cannot).
KUSTOMIZE_OPTIONS_VAR = "SIDECAR_POLICY_KUSTOMIZE_BUILD_OPTIONS"
# core.engine.MissingNamespace for an Application without spec.destination.namespace: why, and what to do.
NO_DESTINATION_NAMESPACE = (
    "the Application has no spec.destination.namespace",
    "Argo CD applies no such object either (the sync fails: 'Namespace for … is missing'); "
    "set spec.destination.namespace, or metadata.namespace in the manifest",
)


def main(argv: Sequence[str], diagnostics: Diagnostics) -> int:
    """The `argocd` entry of cli.COMMANDS."""
    from postrender.core.options import ArgumentParser

    parser = ArgumentParser(prog="sidecar-policy argocd", description="Argo CD config-management plugin front end.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    commands.add_parser("init", help="build a chart's dependencies (plugin.yaml init)")
    generate_command = commands.add_parser("generate", help="render the app in the current directory and apply the policy")
    generate_command.add_argument(
        "render_command",
        nargs="*",
        metavar="-- COMMAND",
        help="render with this command instead (another plugin's generate, run without a shell), then apply the "
        "policy; `-` reads the rendered stream from stdin (a plugin in a chain, e.g. argocd-lovely-plugin's LOVELY_PLUGINS)",
    )
    install = commands.add_parser("install", help="write the kustomize Component that installs the sidecar")
    flavour = install.add_mutually_exclusive_group(required=True)
    flavour.add_argument(
        "--argocd-version", metavar="VERSION", help="the Argo CD you run (e.g. v3.4.2): picks the image with its Helm major"
    )
    flavour.add_argument("--image", help="your own sidecar image instead, e.g. registry.example/sidecar-policy:0.1.0")
    install.add_argument("--default-policy", metavar="FILE", help="a cluster-wide default SidecarPolicy")
    install.add_argument("--output-dir", "-o", default="argocd-plugin", help="where to write (default: %(default)s)")
    args = parser.parse_args(list(argv))
    from pathlib import Path

    if args.command == "init":
        from postrender.argocd.env import AppEnv
        from postrender.argocd.helm import helm_source
        from postrender.argocd.sources import build_chart_dependencies

        pass_credentials = helm_source(AppEnv.from_environ(os.environ)).pass_credentials
        build_chart_dependencies(Path.cwd(), diagnostics.stream, pass_credentials)
        return 0
    if args.command == "generate":
        return generate(Path.cwd(), os.environ, sys.stdout.buffer, diagnostics, args.render_command, sys.stdin.buffer)
    from postrender.argocd.install import image_for, write_install

    image = args.image or image_for(args.argocd_version)
    for path in write_install(Path(args.output_dir), image, args.default_policy):
        print(f"wrote {path}", file=diagnostics.stream)
    return 0


def generate(
    app_dir: Path,
    environ: Mapping[str, str],
    stdout: BinaryIO,
    diagnostics: Diagnostics,
    render_command: Sequence[str] = (),
    stdin: BinaryIO | None = None,
) -> int:
    """Render (with `render_command` when given), apply the policy, and write the whole stream only
    once everything has succeeded."""
    from postrender.argocd.env import AppEnv, repository_root
    from postrender.argocd.sources import render
    from postrender.core.engine import MissingNamespace, Options, run
    from postrender.core.istio import NATIVE_SIDECARS_ALPHA
    from postrender.core.options import parse_kube_version
    from postrender.reports.command import RenderWarnings

    env = AppEnv.from_environ(environ)
    repo_root = repository_root(app_dir, env.source_path)
    policy = find_policy(app_dir, repo_root, env, environ)  # a bad policy fails before helm runs
    kube_version = parse_kube_version(env.kube_version)
    if list(render_command) == ["-"] and stdin is not None:  # a plugin in another plugin's chain
        rendered = stdin.read()
    elif render_command:  # chained after another plugin: its exit status counts, its stdout is the stream
        from postrender.argocd.sources import run_tool

        rendered = run_tool(list(render_command), app_dir, diagnostics.stream)
    else:
        rendered = render(
            app_dir,
            repo_root,
            env,
            skip_files=(POLICY_FILE,),
            stderr=diagnostics.stream,
            kustomize_options=environ.get(KUSTOMIZE_OPTIONS_VAR, ""),
        )

    # An Application without spec.destination.namespace: ARGOCD_APP_NAMESPACE is empty (v3) or absent
    # (v2.14). Argo CD then applies no object that leaves metadata.namespace out (docs/argocd.md
    # "Namespaces"), so no namespace rule can decide such an object: an error, never a silent miss.
    options = Options(namespace=env.namespace, namespace_known=bool(env.namespace), kube_version=kube_version,
                      input_name=f"{app_dir.name or '.'} (rendered)",
                      missing_namespace=MissingNamespace(*NO_DESTINATION_NAMESPACE))
    # The post-renderer's warnings (native on 1.28, behind an alpha gate, is SP102); below 1.28 native
    # sidecars do not exist at all, so such a decision fails the app.
    warnings = RenderWarnings(policy, kube_version, diagnostics) if diagnostics.shows_warnings else None
    warn = warnings.on_outcome(options.input_name) if warnings else None

    def on_outcome(outcome: Outcome) -> None:
        if outcome.mode == "native" and kube_version is not None and kube_version < NATIVE_SIDECARS_ALPHA:
            raise _native_unsupported(outcome.workload, env.kube_version, options.input_name)
        if warn is not None:
            warn(outcome)

    # Buffered: Argo CD reads the whole stdout anyway, and a failure must leave it empty, not half-written.
    sink = io.BytesIO()
    run(policy, io.BytesIO(rendered), sink, options, on_outcome=on_outcome)
    output = sink.getvalue()
    if not _has_content(output):
        # An empty stream makes Argo CD prune every resource of the app: never report that as success.
        raise InputError("the app rendered no manifests; refusing to print an empty stream (Argo CD would prune the app)")
    if warnings is not None:
        warnings.finish()
    stdout.write(output)
    stdout.flush()
    return 0


def find_policy(app_dir: Path, repo_root: Path, env: AppEnv, environ: Mapping[str, str]) -> Policy:
    """The policy, from the first source that is set (order in the module docstring)."""
    from pathlib import Path

    from postrender.argocd.env import resolve_in_repository
    from postrender.core.policy import load_policy, parse_policy

    inline = env.parameter(POLICY_PARAMETER)
    if inline is not None and (inline.string or "").strip():
        return parse_policy(inline.string or "", f"plugin parameter {POLICY_PARAMETER!r}")
    if env.env(POLICY_ENV):
        return load_policy(str(resolve_in_repository(app_dir, repo_root, env.env(POLICY_ENV), f"ARGOCD_ENV_{POLICY_ENV}")))
    if (app_dir / POLICY_FILE).exists() or (app_dir / POLICY_FILE).is_symlink():
        return load_policy(str(resolve_in_repository(app_dir, repo_root, POLICY_FILE, POLICY_FILE)))
    default = environ.get(DEFAULT_POLICY_VAR) or DEFAULT_POLICY_PATH
    if Path(default).is_file():
        return load_policy(default)
    raise UsageError(
        f"no sidecar policy for this app: set the plugin parameter {POLICY_PARAMETER!r}, or ARGOCD_ENV_{POLICY_ENV}, "
        f"or add {POLICY_FILE} to the app directory, or install a cluster-wide default ({default})"
    )


def _native_unsupported(workload: Workload, shown: str, input_name: str) -> InputError:
    return InputError(
        f"{workload.kind} {workload.name} is decided native, but the cluster runs Kubernetes {shown} (KUBE_VERSION): "
        "native sidecars need Kubernetes 1.29 or later; decide `regular` for this cluster",
        Location(input_name, workload.document, workload.source, workload.line),
    )


def _has_content(stream: bytes) -> bool:
    """Whether any line is more than blank, a comment or a document marker."""
    return any(
        line.strip() and not line.lstrip().startswith(b"#") and line.rstrip() not in (b"---", b"...")
        for line in stream.splitlines()
    )
