"""options.quick_parse, the post-render path's argument parsing without argparse, against argparse itself.

Whatever command line it accepts, it must read exactly as argparse does with the same definitions
(cli._render_arguments); everything else it must leave to argparse (None). Hypothesis builds the
command lines from the tokens that make argparse differ: abbreviations, `=`, values that look like
options or negative numbers, `--`, `-`, repeated and unknown options, FILE arguments, the environment
defaults.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from postrender import cli
from postrender.core.errors import UsageError
from postrender.core.options import quick_parse

FLAGS = ["--policy", "--namespace", "--kube-version", "--linkerd-version", "--log-file", "--fail-on", "-q", "--quiet",
         "--version", "-h"]
LOOK_ALIKES = ["--pol", "--policy-file", "--quie", "-Q", "-qq", "--", "-", "", "---policy", "--fail", "--kube_version"]
VALUES = ["p.yaml", "", " ", "a=b", "-x", "-1", "--quiet", "warning", "error", "info", "1.29", "v1.30.2", "has space",
          "-", "team-*", "ünï", "2.19", "edge-25.10.2"]
# Several arguments in one (Helm passes each --post-renderer-args value as one): argparse's path refuses them.
JOINED = ["--policy p.yaml", "--policy=p.yaml -q", "--policy=my policy.yaml", "-q --policy=p", "--quiet x"]
ENVIRONMENT = ["SIDECAR_POLICY", "KUBE_VERSION", "SIDECAR_POLICY_FAIL_ON", "ARGOCD_APP_NAMESPACE"]

tokens = st.one_of(
    st.sampled_from(FLAGS + LOOK_ALIKES + VALUES + JOINED),
    st.builds(lambda flag, value: f"{flag}={value}", st.sampled_from(FLAGS + LOOK_ALIKES), st.sampled_from(VALUES)),
)
environments = st.dictionaries(st.sampled_from(ENVIRONMENT), st.sampled_from(["env.yaml", "1.31", "warning", "bogus", ""]))


def by_argparse(argv: list[str]) -> dict | None:
    try:
        return vars(cli._parse_render_arguments(argv))
    except (UsageError, SystemExit):
        return None


@settings(max_examples=1500, deadline=None)
@given(argv=st.lists(tokens, max_size=6), environment=environments)
@example(argv=["--policy=p.yaml"], environment={})
@example(argv=["--policy", "p.yaml", "-q", "--kube-version=1.29"], environment={"SIDECAR_POLICY_FAIL_ON": "warning"})
@example(argv=["--policy", ""], environment={})
@example(argv=["--fail-on", "info"], environment={})
@example(argv=["--quiet=x"], environment={})
@example(argv=["--policy", "-1"], environment={})
def test_quick_parse_reads_what_argparse_reads_or_leaves_it_to_argparse(argv, environment, monkeypatch_session):
    with monkeypatch_session.context() as patch:
        for name in ENVIRONMENT:
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        quick = quick_parse(argv, cli._render_arguments)
        if quick is not None:
            assert vars(quick) == by_argparse(argv)


@pytest.mark.parametrize("argv", [
    ["--policy=policy.yaml"],  # Helm 3 and 4: --post-renderer-args=--policy=policy.yaml
    ["--policy", "policy.yaml"],
    ["--policy=p.yaml", "--namespace=shop", "--kube-version=1.31", "--fail-on=warning", "--log-file=/tmp/x.log", "-q"],
    [],  # SIDECAR_POLICY in the environment
])
def test_the_command_lines_helm_and_argo_cd_pass_need_no_argparse(argv, monkeypatch):
    monkeypatch.setenv("SIDECAR_POLICY", "policy.yaml")
    quick = quick_parse(argv, cli._render_arguments)
    assert quick is not None and vars(quick) == by_argparse(argv)


@pytest.fixture(scope="module")
def monkeypatch_session():
    """One MonkeyPatch for the property test (function-scoped fixtures do not reset between examples)."""
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_a_definition_it_does_not_know_leaves_everything_to_argparse():
    def with_a_typed_option(parser):
        cli._render_arguments(parser)
        parser.add_argument("--count", type=int, default=1)

    assert quick_parse(["--policy=p.yaml"], with_a_typed_option) is None
