"""`spec.mesh: linkerd`: which annotation keys a policy writes for which Linkerd release, and the
mistakes it refuses (exit 2, one line, nothing on stdout)."""

from __future__ import annotations

import pytest

from postrender.core import linkerd, meshes
from postrender.core.errors import EXIT_USAGE, UsageError
from postrender.core.policy import parse_policy
from tests.support import linkerd_injector_emulation as emulation
from tests.support.helpers import post_render, run_command

HEADER = "apiVersion: sidecar-policy/v1alpha1\nkind: SidecarPolicy\nspec:\n"
JOB = b"""apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    metadata:
      annotations:
        config.alpha.linkerd.io/proxy-enable-native-sidecar: "false"
    spec:
      containers: [{name: app, image: example/app:1}]
"""


@pytest.mark.parametrize("release", emulation.RELEASES)
def test_the_keys_read_agree_with_the_emulation_of_each_release(release):
    """Two restatements of inject.go, written apart: core/linkerd.py's table and the test emulation's."""
    assert linkerd.keys_read(linkerd.parse_version(release)) == emulation.RELEASES[release].keys
    native = linkerd.default_form(linkerd.parse_version(release)) == "native"
    assert native == emulation.RELEASES[release].native_default


@pytest.mark.parametrize(("text", "shown"), [("2.19", "2.19"), ("2.19.3", "2.19"), ("v2.20", "2.20"),
                                             ("stable-2.15.1", "2.15"), ("version-2.18", "2.18"),
                                             ("edge-25.10.2", "edge-25.10.2"), ("2.21", "2.21")])
def test_release_spellings(text, shown):
    assert str(linkerd.parse_version(text)) == shown


@pytest.mark.parametrize("text", ["2.14", "stable-2.14.10", "edge-23.11.3", "2", "latest", "edge-25.10"])
def test_releases_that_read_no_key_or_are_no_release_are_refused(text):
    with pytest.raises(linkerd.VersionError):
        linkerd.parse_version(text)


@pytest.mark.parametrize(("version", "written", "removed"), [
    (None, linkerd.KEYS, ()),
    ("2.18", (linkerd.ALPHA_KEY,), (linkerd.KEY, linkerd.BETA_KEY)),
    ("2.19", (linkerd.BETA_KEY,), (linkerd.KEY, linkerd.ALPHA_KEY)),
    ("2.20", (linkerd.KEY,), (linkerd.BETA_KEY, linkerd.ALPHA_KEY)),
])
def test_the_switch_writes_the_key_the_release_reads_first(version, written, removed):
    switch = parse_policy(HEADER + "  mesh: linkerd\n" + (f'  linkerdVersion: "{version}"\n' if version else ""), "p").switch
    assert switch.setting("native") == tuple((key, "true") for key in written)
    assert switch.setting("regular") == tuple((key, "false") for key in written)
    assert set(switch.removing("native")) == set(removed)
    assert set(switch.removing("default")) == set(linkerd.KEYS)
    assert switch.removing("keep") == ()


def test_an_istio_policy_is_unchanged():
    policy = parse_policy(HEADER + "  fallback: native\n", "p")
    assert (policy.mesh, policy.switch) == ("istio", meshes.ISTIO_SWITCH)


def test_the_command_line_release_stands_in_for_the_policys():
    text = HEADER + '  mesh: linkerd\n  linkerdVersion: "2.20"\n  fallback: native\n'
    output, _ = post_render(JOB, parse_policy(text, "p", linkerd_version="2.19"))
    assert b'config.beta.linkerd.io/proxy-enable-native-sidecar: "true"' in output
    assert b"config.alpha" not in output and b"config.linkerd.io" not in output


def test_a_release_default_follows_the_release_unless_the_policy_says():
    assert parse_policy(HEADER + '  mesh: linkerd\n  linkerdVersion: "2.19"\n', "p").mesh_default == "regular"
    assert parse_policy(HEADER + '  mesh: linkerd\n  linkerdVersion: "2.20"\n', "p").mesh_default == "native"
    assert parse_policy(HEADER + "  mesh: linkerd\n", "p").mesh_default == "native"  # not known: the newest
    assert parse_policy(HEADER + '  mesh: linkerd\n  linkerdVersion: "2.20"\n  meshDefault: regular\n', "p").mesh_default == "regular"


@pytest.mark.parametrize(("spec", "where", "says"), [
    ("  mesh: consul\n", "p:4:9", "spec.mesh must be one of istio, linkerd"),
    ("  mesh: linkerd\n  linkerdVersion: 2.20\n", "p:5:19", "quote it"),
    ("  mesh: linkerd\n  linkerdVersion: \"2.14\"\n", "p:5:19", "reads no native-sidecar annotation"),
    ("  linkerdVersion: \"2.19\"\n", "p:4:19", "spec.linkerdVersion is for spec.mesh: linkerd"),
    ("  mesh: linkerd\n  convertInjected: true\n", "p:5:20", "linkerd inject --manual"),
    ("  mesh: linkerd\n  holdApplicationUntilProxyStarts: true\n", "p:5:36", "proxy-await"),
])
def test_mistakes_are_refused_where_they_are(spec, where, says):
    with pytest.raises(UsageError) as error:
        parse_policy(HEADER + spec, "p")
    assert str(error.value).startswith(where) and says in str(error.value)


def test_a_linkerd_release_for_an_istio_policy_is_refused(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEADER + "  fallback: native\n")
    done = run_command(["--policy", str(policy), "--linkerd-version", "2.19"], JOB)
    assert (done.returncode, done.stdout) == (EXIT_USAGE, b"")
    assert b"--linkerd-version is for a policy with spec.mesh: linkerd" in done.stderr


def test_a_linkerd_policy_through_the_command_line(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEADER + "  mesh: linkerd\n  fallback: native\n")
    done = run_command(["--policy", str(policy), "--linkerd-version", "edge-25.10.2"], JOB)
    assert done.returncode == 0, done.stderr
    assert done.stdout == JOB.replace(b'config.alpha.linkerd.io/proxy-enable-native-sidecar: "false"',
                                      b'config.beta.linkerd.io/proxy-enable-native-sidecar: "true"')
    assert done.stderr == b""


def test_the_checks_read_the_key_the_release_reads_first():
    """Kept as it is, a Job with only the alpha key "true" is native on 2.20 too (it still reads alpha)."""
    from postrender.reports.findings import Review

    policy = parse_policy(HEADER + '  mesh: linkerd\n  linkerdVersion: "2.20"\n', "p")
    _, outcomes = post_render(JOB.replace(b'"false"', b'"true"'), policy)
    assessment = Review(policy, (1, 28)).workload(outcomes[0])
    assert assessment.sidecar == "native"
    assert [finding.code for finding in assessment.findings] == ["SP102"]
