"""Istio's own injector is the oracle: converting its injection of one form gives its injection of the other.

For each tested Istio release and each mesh-wide setting, generated workloads (every pod-bearing
kind, a `List`, gateways, `sidecar.istio.io/inject: "false"` pods, odd names and values) are injected
by the real injector in both forms; see support/istio_oracle.py. CI draws a fixed seed; by hand
each run draws a new one, named in a failure. fuzz/istio_oracle.py runs larger batches.
"""

from __future__ import annotations

import os
import random

import pytest

from support.istio_injector import VERSIONS, Injector, MeshSettings, injector
from support.istio_oracle import SETTINGS, check_batch

WORKLOADS = 300  # per batch: 7 settings x 2 releases x 300 = 4,200 workloads in each direction


@pytest.fixture(scope="session", params=VERSIONS)
def istio(request) -> Injector:
    return injector(request.param)


@pytest.mark.slow
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.name)
@pytest.mark.parametrize("target", ["native", "regular"])
def test_conversion_gives_istios_own_injection(istio: Injector, settings: MeshSettings, target: str) -> None:
    seed = 16 if os.environ.get("CI") else random.SystemRandom().randrange(2**32)
    failure = check_batch(istio, settings, target, WORKLOADS, seed)
    assert failure is None, failure
