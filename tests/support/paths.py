"""Where the checkout and the shared test data are."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("SIDECAR_POLICY_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPUS = SHARED_DATA / "corpus"
ISTIO_GOLDEN = SHARED_DATA / "istio-golden"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        raise RuntimeError(f"shared test data not found at {CORPUS}; set SIDECAR_POLICY_SHARED_DATA")
    return sorted(CORPUS.glob("*.yaml"))
