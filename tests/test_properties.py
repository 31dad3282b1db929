"""Property tests over generated streams and policies (hypothesis).

For any stream and policy: the documents come out in order, none lost or added; documents the
policy leaves alone are byte-identical; the output, parsed, equals the plain reference in
reference.py; a second run changes nothing; a failure is always a clean SidecarPolicyError.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender import cli
from postrender.core.errors import InputError, SidecarPolicyError
from postrender.core.policy import Workload, parse_policy
from postrender.core.stream import read_documents
from tests.support.helpers import render
from tests.support.reference import expected, normalise, workloads
from tests.support.strategies import mutated, policies, streams

# SIDECAR_POLICY_EXAMPLES=20000 for a long run by hand; CI's 300 take about 20 seconds.
EXAMPLES = int(os.environ.get("SIDECAR_POLICY_EXAMPLES", "300"))
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load_all(data: bytes) -> list:
    return list(yaml.load_all(data, Loader=yaml.CSafeLoader))


def split(data: bytes) -> list[bytes]:
    return [document.raw for document in read_documents(io.BytesIO(data))]


def read_by_kubernetes(kube_yaml, document) -> object:
    """The document as Kubernetes' reader reads it (None when empty). Without its `---` and `...`
    lines: kubectl's stream reader takes no content on the first, nor the second after JSON."""
    body = re.sub(r"\A---[ \t]*", "", document.text).removesuffix("...\n")
    read = kube_yaml.read_stream(body.encode())
    return read[0] if read else None


def label_values_kubernetes_refuses(read: object, custom_kind: bool) -> bool:
    """Whether a workload has a label whose value Kubernetes reads as a boolean or a number."""
    return any(not isinstance(value, str) for obj, template in workloads(read, custom_kind) for owner in (obj, template)
               for value in (((owner.get("metadata") or {}).get("labels")) or {}).values())


@PROPERTY_SETTINGS
@given(st.data())
def test_the_output_is_the_reference_and_untouched_documents_keep_their_bytes(kube_yaml, data):
    policy_text, rules, fallback, custom_kind = data.draw(policies(), "policy")
    stream = data.draw(streams(custom_kind=custom_kind), "stream")
    namespace = data.draw(st.sampled_from(["", "team-a"]), "namespace")
    policy = parse_policy(policy_text, "policy.yaml")
    # The generator's own promise: any YAML parser reads these documents from the stream.
    assert load_all(stream.data) == [document.data for document in stream.documents]
    assert split(stream.data) == stream.raw_documents

    kubernetes = [read_by_kubernetes(kube_yaml, document) for document in stream.documents]
    wanted = [expected(document.data, rules, fallback, custom_kind, namespace, read)
              for document, read in zip(stream.documents, kubernetes)]
    for _, decisions in wanted:  # the policy's own decision agrees with the reference's reading of it
        for facts, mode in decisions:
            workload = Workload(document=0, source="", line=0, **facts)
            assert policy.decide(workload)[1] == mode
    outcomes: list = []
    try:
        output = render(policy, stream.data, namespace, outcomes)
    except InputError as error:
        # A label value Kubernetes would refuse is refused; otherwise only an edit through a shared
        # anchor may be refused, where an edit is needed, and it must say so.
        index = error.location.document - 1
        if "must be a string" in error.message:
            assert label_values_kubernetes_refuses(kubernetes[index], custom_kind), error
            return
        assert stream.documents[index].risky and "anchor" in error.message, error
        assert normalise(wanted[index][0]) != normalise(stream.documents[index].data), f"no edit was needed: {error}"
        return
    assert not any(label_values_kubernetes_refuses(read, custom_kind) for read in kubernetes), "a label Kubernetes refuses went through"

    written = load_all(output)
    assert normalise(written) == normalise([data_after for data_after, _ in wanted])
    # What reports are told (Outcome.template) is what was written, workload by workload.
    templates = [template for document in written for _, template in workloads(document, custom_kind)]
    assert [normalise(outcome.template) for outcome in outcomes] == [normalise(template) for template in templates]
    before, after = stream.raw_documents, split(output)
    assert len(after) == len(before)
    for document, raw_before, raw_after, (data_after, _) in zip(stream.documents, before, after, wanted):
        if data_after == document.data:
            assert raw_after == raw_before
        else:
            assert normalise(load_all(raw_after)) == normalise([data_after])
            assert b"\r\n" not in raw_before or raw_after.count(b"\n") == raw_after.count(b"\r\n")
    assert render(policy, output, namespace) == output


@PROPERTY_SETTINGS
@given(st.data())
def test_broken_input_is_a_clean_error_or_a_correct_stream(data):
    """Streams with bytes deleted, repeated or replaced by YAML's special characters."""
    policy_text, _, _, custom_kind = data.draw(policies(), "policy")
    stream = data.draw(mutated(streams(custom_kind=custom_kind, max_documents=3)), "stream")
    policy = parse_policy(policy_text, "policy.yaml")
    try:
        output = render(policy, stream, outcomes=[])
    except SidecarPolicyError as error:
        assert str(error) and "\n" not in error.message
        return
    assert b"".join(split(output)) == output and len(split(output)) == len(split(stream))
    for raw_before, raw_after in zip(split(stream), split(output)):
        if raw_after != raw_before:  # what the engine wrote, it parsed first: it must parse again
            list(yaml.compose_all(raw_after.decode("utf-8").lstrip("\ufeff"), Loader=yaml.CSafeLoader))
    assert render(policy, output) == output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_command_never_prints_a_traceback(data):
    policy_text, _, _, custom_kind = data.draw(policies(), "policy")
    stream = data.draw(mutated(streams(custom_kind=custom_kind, max_documents=3)), "stream")
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        handle.write(policy_text)
        handle.flush()
        code, stdout, stderr = _main(["--policy", handle.name, "--quiet"], stream)
    assert code in (0, 1), stderr
    assert "Traceback" not in stderr
    if code:
        assert stderr.startswith("sidecar-policy: error: ") and stderr.count("\n") == 1
    else:
        assert stderr == ""


def _main(argv: list[str], stdin: bytes) -> tuple[int, bytes, str]:
    """cli.main in this process, with stdin, stdout and stderr of its own."""
    stdout, stderr = io.BytesIO(), io.StringIO()
    fake_in, fake_out = io.TextIOWrapper(io.BytesIO(stdin)), io.TextIOWrapper(stdout, write_through=True)
    with contextlib.redirect_stderr(stderr):
        saved = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = fake_in, fake_out
        try:
            code = cli.main(argv)
        finally:
            sys.stdin, sys.stdout = saved
    return code, stdout.getvalue(), stderr.getvalue()
