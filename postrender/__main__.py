"""The process: `python -m postrender` and the installed `sidecar-policy` and `sidecar-policy-krm` commands.

One command per process, and Helm runs this one per render, so the process skips two costs that
buy nothing here (a third of the start-up, instructions counted with valgrind; docs/performance.md):
- the cyclic garbage collector: what start-up allocates lives until the end, and the post-render
  path makes no reference cycles (tests/test_startup.py), so the collector's passes find nothing;
- the interpreter's teardown (freeing every module and object one by one): the process ends with
  os._exit once its output is flushed and the atexit functions have run.
Nothing else may run at import: cli.main stays callable in-process (the tests call it).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys


def main() -> None:
    """`sidecar-policy`: the command line in sys.argv."""
    gc.disable()
    from postrender.cli import main as run

    _exit(run())


def krm_main() -> None:
    """`sidecar-policy-krm`: the KRM function under a name of its own, for orchestrators that run a path
    without arguments (kustomize before v5.7 reads only `exec.path`)."""
    gc.disable()
    from postrender.cli import main as run

    _exit(run(["krm", *sys.argv[1:]]))


def _exit(code: int) -> None:
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the interpreter's own exit reports it
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    main()
