"""Fuzz the engine for a time budget: `python fuzz/run.py --seconds 600`.

With atheris (coverage-guided, libFuzzer) when it is installed, else hypothesis at scale.
Seeds: the bundled example and the shared corpus, cut into documents, and the unusual YAML of
tests/unusual_yaml.py. A finding is saved to
fuzz/findings/ and the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))
sys.path.insert(0, str(ROOT))  # tests.support
FINDINGS = ROOT / "fuzz" / "findings"
MAX_LEN = 8192
_CONVERTING_POLICY = 3  # the index in oracle.POLICIES of a policy with convertInjected


def seed_corpus(directory: Path) -> Path:
    """Documents from the example and the shared corpus, at most MAX_LEN bytes each."""
    import io

    from postrender.core.stream import read_documents

    directory.mkdir(parents=True, exist_ok=True)
    shared = Path(os.environ.get("SIDECAR_POLICY_SHARED_DATA", ROOT.parent / "shared" / "data")) / "corpus"
    sources = [ROOT / "examples" / "rendered-chart.yaml", *sorted(shared.glob("*.yaml"))]
    # Istio's injected goldens exercise the conversion: their first byte picks a converting policy.
    goldens = sorted((shared.parent / "istio-golden").glob("*/*.injected.yaml"))
    for source in [*sources, *goldens]:
        if not source.is_file():
            continue
        policy = bytes([_CONVERTING_POLICY if source in goldens else 0])
        for document in read_documents(io.BytesIO(source.read_bytes())):
            if len(document.raw) <= MAX_LEN:
                (directory / f"{source.parent.name}-{source.stem}-{document.index}").write_bytes(policy + document.raw)
    from tests.support.unusual_yaml import seed_documents  # valid but unusual YAML (issue 15), under every policy

    for index, text in enumerate(seed_documents()):
        (directory / f"unusual-{index}").write_bytes(bytes([index % 4]) + text.encode("utf-8"))
    return directory


def run_atheris(seconds: int, work: Path, seed: int) -> int:
    import atheris

    with atheris.instrument_imports(include=["postrender"]):
        import oracle

    def one_input(data: bytes) -> None:
        policy = oracle.POLICIES[data[0] % len(oracle.POLICIES)] if data else oracle.POLICIES[0]
        oracle.check(policy, data[1:])

    FINDINGS.mkdir(exist_ok=True)
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = seed_corpus(work / "seeds")
    args = [sys.argv[0], f"-max_total_time={seconds}", f"-max_len={MAX_LEN}", "-timeout=20", "-rss_limit_mb=3072",
            f"-artifact_prefix={FINDINGS}/", "-print_final_stats=1", f"-seed={seed}", str(corpus), str(seeds)]
    atheris.Setup(args, one_input)
    atheris.Fuzz()  # exits the process: 0 when the time is up, non-zero on a finding
    return 0


def run_hypothesis(seconds: int) -> int:
    import oracle
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    from tests.support.strategies import mutated, streams

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(oracle.POLICIES), st.one_of(streams(custom_kind=True), mutated(streams(custom_kind=True))))
    def property_(policy, stream):
        oracle.check(policy, stream if isinstance(stream, bytes) else stream.data)

    started, rounds = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        seed(rounds)(property_)()
        rounds += 1
    print(f"hypothesis: {rounds * 200} examples in {time.monotonic() - started:.0f} s, no finding")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="time budget (default 60)")
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("--work", type=Path, default=ROOT / "fuzz" / "work", help="corpus kept between runs")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's random seed (0: a new one each run; CI fixes it)")
    args = parser.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    return run_atheris(args.seconds, args.work, args.seed) if engine == "atheris" else run_hypothesis(args.seconds)


if __name__ == "__main__":
    sys.exit(main())
