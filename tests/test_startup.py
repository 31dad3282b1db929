"""Start-up rules of the post-render path, which Helm runs once per render (docs/performance.md).

Each rule keeps a measured cost out of every run; a change that breaks one fails here with the rule's
name, before ./dev bench shows it as a slower start:
- no typing, argparse, json (nor its C part), contextlib, dataclasses, jinja2, jsonpatch or importlib,
  no conversion of injected pods where there is none to convert, and of PyYAML only what
  composing needs (core/_pyyaml.py): NamedTuple, Protocol and TYPE_CHECKING come from core/typed.py,
  other typing names are imported under `if TYPE_CHECKING:`, argparse only when options.quick_parse
  cannot read the command line;
- no compile() or eval() of source: typing.NamedTuple's string annotations and collections.namedtuple
  compile some, and the first compile() sets up the AST types (9 M instructions);
- no reference cycles: the installed command runs without the cyclic garbage collector
  (postrender/__main__.py), so a run must leave nothing only the collector could free.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import CORPUS, ISTIO_GOLDEN, ROOT

CHART = CORPUS / "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml"
NOT_IMPORTED = ("typing", "argparse", "json", "_json", "contextlib", "dataclasses", "jinja2", "jsonpatch", "datetime",
                "base64", "importlib", "postrender.core.convert", "postrender.core.reemit")
# PyYAML's modules that a run must leave unrun (core/_pyyaml.py): present, waiting for a first use.
PYYAML_UNRUN = ("yaml", "yaml.scanner", "yaml.parser", "yaml.composer", "yaml.constructor", "yaml.emitter",
                "yaml.serializer", "yaml.representer")

# The console script's process, up to its exit: what it imported and what it compiled.
RUN = """
import sys
before = set(sys.modules)  # before this script imports anything (json, to report, comes last)
import builtins, os
compiled = []
for name in ("compile", "eval"):
    def counted(*args, _real=getattr(builtins, name), _name=name, **kwargs):
        if not str(args[1:2] and args[1]).endswith(".py"):  # not the import of a module without its .pyc
            compiled.append(_name + ": " + repr(args[0])[:80])
        return _real(*args, **kwargs)
    setattr(builtins, name, counted)
sys.argv = ["sidecar-policy", *sys.argv[1:]]
real_exit = os._exit
def report(code):  # postrender/__main__.py ends the process here
    imported = sorted(set(sys.modules) - before)
    unrun = [name for name in imported if name.split(".")[0] == "yaml" and "__getattr__" in vars(sys.modules[name])]
    import json
    sys.stderr.write("\\n" + json.dumps({"code": code, "imported": imported, "unrun": unrun, "compiled": compiled}))
    sys.stderr.flush()
    real_exit(code)
os._exit = report
from postrender.__main__ import main
main()
"""


def post_render_process(args: list[str], stdin: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", RUN, *args], stdin=stdin.open("rb"), capture_output=True,
                          cwd=ROOT.parent, check=False)
    report = json.loads(done.stderr.decode().rsplit("\n", 1)[-1])
    assert report["code"] == 0, done.stderr.decode()[-2000:]
    return report


@pytest.fixture(scope="module")
def chart_run() -> dict:
    return post_render_process(["--policy", str(ROOT / "bench" / "policy.yaml")], CHART)


@pytest.mark.parametrize("module", NOT_IMPORTED)
def test_the_post_render_path_does_not_import(chart_run: dict, module: str) -> None:
    assert module not in chart_run["imported"], f"the post-render path imports {module}: see {__name__}'s docstring"


def test_of_pyyaml_it_runs_only_what_composing_needs(chart_run: dict) -> None:
    assert "yaml._yaml" in chart_run["imported"]
    assert sorted(chart_run["unrun"]) == sorted(PYYAML_UNRUN)


def test_the_post_render_path_compiles_no_source(chart_run: dict) -> None:
    assert chart_run["compiled"] == []


CYCLES = """
import gc, io, sys
gc.disable()
from postrender.cli import main

def run(path, args):
    sys.stdin = io.TextIOWrapper(io.BytesIO(open(path, "rb").read()))
    sys.stdout = io.TextIOWrapper(io.BytesIO())
    try:
        code = main(args)
    finally:
        sys.stdout = sys.__stdout__
    assert code == 0, code

for path, args in INPUTS:
    run(path, args)  # imports, caches, first-use compiles
gc.collect()
for path, args in INPUTS:
    run(path, args)
print(gc.collect())
"""


def test_a_run_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """What only the collector could free would pile up over a long stream without it."""
    convert = tmp_path / "convert.yaml"
    convert.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  fallback: native\n"
                       "  convertInjected: true\n")
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, labels: &l {app: a}}\n"
                       "spec:\n  template:\n    metadata: {labels: *l}\n    spec: {containers: [{name: a, image: a}]}\n")
    inputs = [(str(CHART), ["--policy", str(ROOT / "bench" / "policy.yaml")]),
              (str(ISTIO_GOLDEN / "flip-hello-probes" / "regular.injected.yaml"), ["--policy", str(convert)]),
              (str(aliases), ["--policy", str(convert)])]
    code = f"INPUTS = {inputs!r}\n" + CYCLES
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"], "a post-render run left reference cycles for the collector"
