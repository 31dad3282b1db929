"""The `helm` parameter's pieces against Argo CD's own code: `$VAR` substitution compared with
v1alpha1.Env.Envsubst run in the harness (tests/harness/argocd-*), and the checks on the block.
The whole command line is compared with Argo CD's Helm source in test_argocd_plugin.py."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.argocd.env import BUILD_ENV_NAMES, AppEnv, Parameter
from postrender.argocd.helm import clean_set_value, envsubst, helm_source
from postrender.core.errors import UsageError
from tests.support.argocd import NEWEST, VERSIONS, build

ENV = {name: f"<{name.lower()}>" for name in BUILD_ENV_NAMES}
# Pieces that exercise every branch of Go's os.Expand: names, braces, specials, `$$`, stray `$`.
PIECES = ["$", "{", "}", "$$", "${", "}", "$1", "$*", "${#}", "${}", "_", "a", "-", " ", ",", "\\", "é"]
PIECES += [f"${name}" for name in BUILD_ENV_NAMES[:3]] + [f"${{{name}}}" for name in BUILD_ENV_NAMES[3:6]]
PIECES += ["$HOME", "${PATH}", "$ARGOCD_APP_NAMEX", "${ARGOCD_APP_NAME"]


ENTRIES = [{"name": name, "value": value} for name, value in ENV.items()]  # v1alpha1.Env as JSON


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda release: release.version)
def argocd_envsubst(request):
    binary = build(request.param).binary

    def run(texts: list[str]) -> list[str]:
        done = subprocess.run([str(binary), "envsubst"], input=json.dumps({"env": ENTRIES, "texts": texts}),
                              capture_output=True, text=True, check=True)  # fmt: skip
        return json.loads(done.stdout)

    return run


def test_envsubst_examples_match_argo_cd(argocd_envsubst):
    texts = ["$ARGOCD_APP_NAME-$$x", "${ARGOCD_APP_SOURCE_PATH}/v.yaml", "$HOME", "a$", "${", "${}x", "$1$", "no vars"]
    assert [envsubst(text, ENV) for text in texts] == argocd_envsubst(texts)


# The 300 examples against the newest release only: v1alpha1.Env.Envsubst is the same function in
# v2.14.21 (pkg/apis/application/v1alpha1/types.go), and the examples above run against both.
@pytest.mark.parametrize("argocd_envsubst", [NEWEST], indirect=True)
@settings(max_examples=300)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), min_size=1, max_size=20))
def test_envsubst_matches_argo_cd(argocd_envsubst, texts):
    assert [envsubst(text, ENV) for text in texts] == argocd_envsubst(texts)


@pytest.mark.parametrize(
    "value, expected",
    [("a,b", "a\\,b"), ("a\\,b", "a\\,b"), ("{a,b}", "{a,b}"), ("{a,b", "{a\\,b"), ("x", "x"), (",,", "\\,\\,")],
)
def test_set_values_are_escaped_as_argo_cd_escapes_them(value, expected):
    """util/helm/cmd.go cleanSetParameters; the end-to-end chart test proves what helm makes of it."""
    assert clean_set_value(value) == expected


def env_with(helm: str) -> AppEnv:
    return AppEnv(parameters=(Parameter(name="helm", string=helm),))


def test_values_object_wins_over_values():
    source = helm_source(env_with("values: 'a: 1'\nvaluesObject: {b: 2}\n"))
    assert source.values_yaml == "b: 2\n"


@pytest.mark.parametrize(
    "helm",
    ["[a]", "releaseName: [x]", "skipCrds: 'yes'", "valueFiles: values.yaml", "parameters: [{value: x}]",
     "fileParameters: [{name: a, path: 1}]", "valuesObject: [1]", "extra: 1", "parameters: [{name: a, forceString: 'no'}]"],
)  # fmt: skip
def test_a_malformed_helm_block_is_a_usage_error(helm):
    with pytest.raises(UsageError, match="plugin parameter 'helm'"):
        helm_source(env_with(helm))


def test_an_empty_helm_block_is_the_default():
    assert helm_source(env_with("")) == helm_source(env_with("{}\n")) == helm_source(AppEnv())
