"""`./dev cluster up|down`: the tests' control plane and Istio webhook, for people.

    ./dev cluster up [--istio 1.24|1.31] [--mesh-default native|regular|auto] [--kubelet v1.33.4]...
    ./dev cluster down

`up` builds what it needs (cached), starts the cluster in the background and prints, as its only
line on stdout, `export KUBECONFIG=PATH`; progress goes to stderr, so `eval "$(./dev cluster up)"`
works. `down` stops every process `up` started and removes the state folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pytest

from tests.support import background, cluster, istio_injector
from tests.support.paths import ROOT

STATE = ROOT / ".cluster"


def up(state: Path, istio: str, mesh_default: str, kubelets: list[str]) -> int:
    running = background.recorded(state) if state.is_dir() else {}
    if running:
        print(f"a cluster is already running from {state} ({', '.join(running)}); `./dev cluster down` stops it",
              file=sys.stderr)
        return 1
    if state.exists():
        cluster.Cluster(state).stop()  # what a stopped or failed `up` left
    began = time.monotonic()
    print(f"building and starting Kubernetes 1.37 with Istio {istio}'s injector (mesh default {mesh_default})...",
          file=sys.stderr)
    try:
        started = cluster.start(state, istio, mesh_default, kubelets)
    except (background.StartError, ValueError) as error:
        print(f"cluster up failed: {error}", file=sys.stderr)
        return 1
    except (pytest.fail.Exception, pytest.skip.Exception) as error:  # a build failed, or Go is missing
        print(f"cluster up failed: {error.msg}", file=sys.stderr)
        return 1
    print(f"ready in {time.monotonic() - began:.0f} s: a pod without the nativeSidecar annotation in a namespace "
          f"labelled istio-injection=enabled gets a {started.default_form} istio-proxy; "
          f"logs in {state}/*.log; `./dev cluster down` stops it", file=sys.stderr)
    print(f"export KUBECONFIG={started.kubeconfig}")
    return 0


def down(state: Path) -> int:
    if not state.exists():
        print("no cluster is running", file=sys.stderr)
        return 0
    stopped = sorted(background.recorded(state))
    cluster.Cluster(state).stop()
    print(f"stopped {', '.join(stopped) or 'nothing (it had exited)'}; removed {state}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, default=STATE, help=f"the state folder (default {STATE})")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the control plane and Istio's injector webhook in the background")
    start.add_argument("--istio", choices=istio_injector.VERSIONS, default=cluster.DEFAULT_ISTIO)
    start.add_argument("--mesh-default", choices=tuple(cluster.MESH_DEFAULTS), default="native",
                       help="istiod's ENABLE_NATIVE_SIDECARS: true, false or auto (auto from Istio 1.27)")
    start.add_argument("--kubelet", action="append", dest="kubelets", metavar="VERSION",
                       help="one Node per use, with this status.nodeInfo.kubeletVersion (default v1.33.4); "
                            "`auto` injects native only when every kubelet is 1.33 or newer")
    commands.add_parser("down", help="stop everything `up` started and remove its state")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.state.resolve(), args.istio, args.mesh_default, args.kubelets or list(cluster.DEFAULT_KUBELETS))
    return down(args.state.resolve())


if __name__ == "__main__":
    sys.exit(main())
