"""`explain`, `check`, and the findings the post-render run prints: formats, exit codes, --quiet."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from postrender import cli
from postrender.core.errors import EXIT_CHECK, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from postrender.reports.findings import ALL_CHECKS
from tests.support.paths import CORPUS, ROOT

EXAMPLE_POLICY = "examples/findings/policy.yaml"
EXAMPLE_MANIFESTS = "examples/findings/manifests.yaml"
EXAMPLES = {"istio": "examples/findings", "linkerd": "examples/findings-linkerd"}  # each triggers every finding of its mesh
CORPUS_POLICY = "tests/data/findings-corpus-policy.yaml"
CORPUS_FILES = {
    "ingress-nginx": "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml",  # # Source: comments, Jobs
    "istio": "istio-manifest-generate-all_on.golden.yaml",  # gateways, istiod without injection
    "kyverno": "kyverno-install-2024-07-04.yaml",  # a CronJob
}
FORMATS = {"table": "txt", "json": "json", "markdown": "md"}


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    """Paths in reports are as given: relative ones keep the snapshots machine-independent."""
    monkeypatch.chdir(ROOT)
    for name in ("SIDECAR_POLICY", "KUBE_VERSION", "NO_COLOR", "SIDECAR_POLICY_LOG_FILE", "HELM_NAMESPACE", "ARGOCD_APP_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)


def main(args: list[str], capsys, monkeypatch, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run the command in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def example(command: str, *extra: str, mesh: str = "istio") -> list[str]:
    folder = EXAMPLES[mesh]
    return [command, "--policy", f"{folder}/policy.yaml", "--kube-version", "1.28", *extra, f"{folder}/manifests.yaml"]


# --- explain ----------------------------------------------------------------------------------


@pytest.mark.parametrize("output", FORMATS)
@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_explain_corpus(corpus, output, capsys, monkeypatch, snapshot):
    data = (CORPUS / CORPUS_FILES[corpus]).read_bytes()
    code, out, err = main(["explain", "--policy", CORPUS_POLICY, "-o", output], capsys, monkeypatch, data)
    assert (code, err) == (EXIT_OK, "")
    snapshot.assert_match(out, f"{corpus}.{FORMATS[output]}")


@pytest.mark.parametrize("output", FORMATS)
def test_explain_example_with_every_finding(output, capsys, monkeypatch, snapshot):
    code, out, err = main(example("explain", "-o", output), capsys, monkeypatch)
    assert (code, err) == (EXIT_OK, "")
    snapshot.assert_match(out, f"example.{FORMATS[output]}")


@pytest.mark.parametrize("output", FORMATS)
def test_explain_linkerd_example_with_every_finding(output, capsys, monkeypatch, snapshot):
    code, out, err = main(example("explain", "-o", output, mesh="linkerd"), capsys, monkeypatch)
    assert (code, err) == (EXIT_OK, "")
    snapshot.assert_match(out, f"example-linkerd.{FORMATS[output]}")


# Some findings hold for some releases only (SP103 before Linkerd 2.20, SP207 from it): the example runs at each.
RELEASES = {"istio": [[]], "linkerd": [[], ["--linkerd-version", "2.20"]]}


@pytest.mark.parametrize("mesh", EXAMPLES)
def test_the_example_triggers_every_finding_of_its_mesh(mesh, capsys, monkeypatch):
    found = set()
    for release in RELEASES[mesh]:
        _, out, _ = main(example("explain", "-o", "json", *release, mesh=mesh), capsys, monkeypatch)
        found |= {finding["code"] for row in json.loads(out) for finding in row["findings"]}
    assert found == {check.code for check in ALL_CHECKS if mesh in check.meshes}


def test_explain_json_shape(capsys, monkeypatch):
    _, out, _ = main(example("explain", "-o", "json"), capsys, monkeypatch)
    rows = json.loads(out)
    assert all(set(row) == {"kind", "namespace", "name", "target", "rule", "sidecar", "action", "findings"} for row in rows)
    assert all(set(f) == {"severity", "code", "message"} for row in rows for f in row["findings"])
    backup = next(row for row in rows if row["name"] == "backup")
    assert (backup["rule"], backup["sidecar"], backup["action"]) == (None, "keep", "kept")  # the fallback decided


def test_explain_names_an_unnamed_rule_by_its_index(tmp_path, capsys, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n  rules:\n  - sidecar: native\n")
    _, out, _ = main(["explain", "--policy", str(policy), "-o", "json", EXAMPLE_MANIFESTS], capsys, monkeypatch)
    assert {row["rule"] for row in json.loads(out)} == {1}


def test_explain_never_writes_manifests(capsys, monkeypatch):
    code, out, _ = main(example("explain"), capsys, monkeypatch)
    assert code == EXIT_OK and "apiVersion" not in out and "nativeSidecar" not in out


def test_explain_reads_several_files_in_order(capsys, monkeypatch):
    corpus = str(CORPUS / CORPUS_FILES["kyverno"])
    _, out, _ = main(["explain", "--policy", EXAMPLE_POLICY, "-o", "json", EXAMPLE_MANIFESTS, corpus], capsys, monkeypatch)
    names = [row["name"] for row in json.loads(out) if row["kind"] != "SidecarPolicy"]
    assert names[0] == "web" and names[-1] == "kyverno-cleanup-update-requests" and len(names) == 8 + 5


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _table(stream, monkeypatch, no_color: str | None) -> str:
    """The example's table as written to `stream`."""
    from argparse import Namespace

    from postrender.core.policy import load_policy
    from postrender.reports import formats
    from postrender.reports.command import collect
    from postrender.reports.findings import Review

    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    policy = load_policy(EXAMPLE_POLICY)
    args = Namespace(files=[EXAMPLE_MANIFESTS], namespace=None, kube_version="1.28")
    return formats.table(collect(policy, args, Review(policy, (1, 28))), policy, stream)


@pytest.mark.parametrize("stream, no_color, coloured", [
    (_Terminal(), None, True),
    (_Terminal(), "1", False),  # NO_COLOR: any non-empty value turns colour off
    (_Terminal(), "", True),
    (io.StringIO(), None, False),  # not a terminal: a pipe or a file
])
def test_table_colour_only_on_a_terminal_without_no_color(stream, no_color, coloured, monkeypatch):
    table = _table(stream, monkeypatch, no_color)
    assert ("\033[31mSP101\033[0m" in table) is coloured
    assert ("\033[" in table) is coloured


def test_coloured_table_stays_aligned(monkeypatch):
    import re

    plain = _table(io.StringIO(), monkeypatch, None)
    coloured = re.sub(r"\033\[[0-9;]*m", "", _table(_Terminal(), monkeypatch, None))
    assert coloured == plain


# --- check ------------------------------------------------------------------------------------

FIELD_ERRORS = "container-restart-policy,init-container-restart-policy,SP503,SP504,SP505"  # codes or names


@pytest.mark.parametrize("extra, expected", [
    ([], EXIT_CHECK),  # default --fail-on error: SP101, SP102 and SP501-SP505 are errors
    (["--fail-on", "error"], EXIT_CHECK),
    (["--ignore", f"SP101,SP102,{FIELD_ERRORS}"], EXIT_OK),  # warnings remain, below the default threshold
    (["--ignore", f"SP101,SP102,{FIELD_ERRORS}", "--fail-on", "warning"], EXIT_CHECK),
    (["--ignore", "SP101", "--ignore", f"SP102,{FIELD_ERRORS},SP201,SP202,SP401,SP402", "--fail-on", "warning"], EXIT_OK),
    (["--ignore", f"SP101,SP102,{FIELD_ERRORS},SP201,SP202,SP401,SP402", "--fail-on", "info"], EXIT_CHECK),
])
def test_check_exit_code_follows_fail_on(extra, expected, capsys, monkeypatch):
    code, out, err = main(example("check", *extra), capsys, monkeypatch)
    assert code == expected, out
    assert err == ""


def test_check_passes_a_clean_stream_at_any_threshold(capsys, monkeypatch):
    data = (CORPUS / CORPUS_FILES["ingress-nginx"]).read_bytes()
    code, out, _ = main(["check", "--policy", "examples/policy.yaml", "--fail-on", "info"], capsys, monkeypatch, data)
    assert code == EXIT_OK
    assert out == "3 workloads: 0 errors, 0 warnings, 0 info; passed: nothing at or above info\n"


@pytest.mark.parametrize("args, expected, message", [
    (["check", "--ignore", "SP999", "--policy", EXAMPLE_POLICY], EXIT_USAGE, "unknown finding SP999"),
    (["check", EXAMPLE_MANIFESTS], EXIT_USAGE, "no policy"),
    (["check", "--policy", EXAMPLE_POLICY, "--fail-on", "never"], EXIT_USAGE, "invalid choice"),
    (["explain", "--policy", EXAMPLE_POLICY, "missing.yaml"], EXIT_USAGE, "cannot read missing.yaml"),
])
def test_usage_errors(args, expected, message, capsys, monkeypatch):
    code, _, err = main(args, capsys, monkeypatch)
    assert code == expected and message in err


def test_check_reports_a_broken_manifest_as_an_input_error(capsys, monkeypatch):
    code, _, err = main(["check", "--policy", EXAMPLE_POLICY], capsys, monkeypatch, b"kind: Deployment\nspec: [\n")
    assert code == EXIT_INPUT and "<stdin>:" in err


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_check_example(fmt, capsys, monkeypatch, snapshot):
    _, out, _ = main(example("check", "--format", fmt), capsys, monkeypatch)
    snapshot.assert_match(out, f"example-check.{fmt}.txt")


def test_check_github_annotations_from_stdin_point_at_the_chart_template(capsys, monkeypatch, snapshot):
    """Read from stdin there is no file; the `# Source:` path is one, but the stream's line is not its line."""
    data = (ROOT / EXAMPLE_MANIFESTS).read_bytes()
    _, out, _ = main(["check", "--policy", EXAMPLE_POLICY, "--format", "github"], capsys, monkeypatch, data)
    web = [line for line in out.splitlines() if "Deployment shop/web::" in line]
    assert web and all(line.split(" ", 1)[1].startswith("file=shop/templates/web.yaml,title=") for line in web)


def test_github_annotation_escaping():
    from postrender.reports.formats import _escape_data, _escape_property

    assert _escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert _escape_property("a:b,c%") == "a%3Ab%2Cc%25"


# --- the post-render run ----------------------------------------------------------------------


def render(args: list[str]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SIDECAR_POLICY", "KUBE_"))}
    command = Path(sys.executable).with_name("sidecar-policy")
    return subprocess.run([str(command), *args], capture_output=True, env=env, cwd=ROOT, timeout=120)


def test_render_prints_warning_and_error_findings_one_line_each():
    result = render(["--policy", EXAMPLE_POLICY, "--kube-version", "1.28", EXAMPLE_MANIFESTS])
    assert result.returncode == EXIT_OK
    lines = result.stderr.decode().splitlines()
    expected = {"SP101": 2, "SP102": 2, "SP201": 1, "SP202": 1, "SP401": 1, "SP402": 1,  # infos are explain's
                "SP501": 2, "SP502": 1, "SP503": 2, "SP504": 1, "SP505": 1}
    assert sorted(line.split(": ")[3].split(" ")[0] for line in lines) == sorted(c for c, n in expected.items() for _ in range(n))
    assert all(line.startswith("sidecar-policy: warning: ") for line in lines)
    assert any(line.startswith("sidecar-policy: warning: examples/findings/manifests.yaml:115 document 5 "
                               "(shop/templates/migrate-job.yaml): SP101 (error) Job shop/migrate: ") for line in lines)


def test_render_output_is_the_same_with_and_without_quiet():
    loud = render(["--policy", EXAMPLE_POLICY, "--kube-version", "1.28", EXAMPLE_MANIFESTS])
    quiet = render(["--policy", EXAMPLE_POLICY, "--kube-version", "1.28", "--quiet", EXAMPLE_MANIFESTS])
    assert quiet.returncode == EXIT_OK and quiet.stderr == b""
    assert quiet.stdout == loud.stdout and b'sidecar.istio.io/nativeSidecar: "true"' in loud.stdout


def test_quiet_render_still_logs_findings_to_the_log_file(tmp_path):
    log = tmp_path / "sidecar-policy.log"
    result = render(["--policy", EXAMPLE_POLICY, "--quiet", "--log-file", str(log), EXAMPLE_MANIFESTS])
    assert result.stderr == b"" and "SP101 (error) Job shop/migrate" in log.read_text()


# --- pre-commit and the README ------------------------------------------------------------------


def test_pre_commit_hook_runs_check_on_the_files_it_is_given():
    """pre-commit runs `entry + args + file names` (https://pre-commit.com/#new-hooks); emulated here."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
    assert hook["require_serial"] is True and "yaml" in hook["types"]
    program, command = hook["entry"].split()
    assert program == "sidecar-policy" and command in cli.COMMANDS
    user_args = ["--policy", EXAMPLE_POLICY, "--kube-version", "1.28"]  # a user's `args:` replace the hook's
    result = render([command, *user_args, EXAMPLE_MANIFESTS, "examples/rendered-chart.yaml"])
    assert result.returncode == EXIT_CHECK and b"SP101" in result.stdout
    clean = render([command, "--policy", "examples/policy.yaml", "examples/rendered-chart.yaml"])
    assert clean.returncode == EXIT_OK


def test_readme_section_documents_every_finding():
    readme = (ROOT / "docs" / "explain-check.md").read_text()
    for check in ALL_CHECKS:
        assert f"`{check.code}`" in readme and check.slug in readme, check.code
