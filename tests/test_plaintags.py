"""plaintags.tag_of against PyYAML's own Resolver: where it answers, it answers as the Resolver does."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from postrender.core import plaintags, yamlnodes

# Characters the Resolver's patterns care about, and a few they do not.
ALPHABET = "0123456789_.:+-eExXbBoOyYnNtTfFaAlLsSuUrRiIZz<=!&*~ \t\nmGgé"
WORDS = ["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON",
         "off", "Off", "OFF", "null", "Null", "NULL", "~", "", "<<", "=", "!", "&", "*", ".inf", "-.inf", ".nan",
         "0", "00", "07", "08", "0o7", "0x1F", "0b101", "1_000", "1:30", "190:20:30", "1.5", "1.", "1.0.4", "1e5",
         "1.5e+3", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "100m", "2Gi", "--flag=x", "-1", "+.5", "-", "tRue", "yEs"]


def resolved(value: str) -> str:
    return Resolver().resolve(ScalarNode, value, (True, False))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(ALPHABET, max_size=12), st.sampled_from(WORDS),
                 st.builds(lambda word, tail: word + tail, st.sampled_from(WORDS), st.text(ALPHABET, max_size=3))))
@example("")
def test_where_tag_of_answers_the_resolver_agrees(value):
    tag = plaintags.tag_of(value)
    if tag is not None:
        assert tag == resolved(value), value


def test_it_answers_for_what_manifests_are_made_of():
    for value in ["name", "namespace", "true", "false", "80", "0", "100m", "2Gi", "1.5", "1.29.3", "--flag=x",
                  "IfNotPresent", "apps/v1", ""]:
        assert plaintags.tag_of(value) == resolved(value), value


def test_yamlnodes_uses_it_only_while_the_resolver_has_the_table_it_reasons_from():
    table = {first: [tag.rpartition(":")[2] for tag, _ in resolvers]
             for first, resolvers in Resolver.yaml_implicit_resolvers.items()}
    assert table == plaintags.RESOLVER_TABLE
    assert yamlnodes._PLAIN_TAGS_HOLD
