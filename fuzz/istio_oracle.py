"""Larger runs of the Istio-injector oracle: `python fuzz/istio_oracle.py --batches 20 --workloads 2000`.

Each batch draws a new seed and checks every mesh setting, both directions, for each Istio release
(tests/test_istio_oracle.py runs one small batch). A failure prints its release, setting, direction
and seed, which replays it: `--seed N --batches 1`. Needs Go (the injector is built from source).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--workloads", type=int, default=2000, help="per batch, setting and direction")
    parser.add_argument("--seed", type=int, default=None, help="the first batch's seed (then +1 per batch)")
    parser.add_argument("--version", action="append", help="an Istio release (default: all tested ones)")
    args = parser.parse_args(argv)

    from tests.support.istio_injector import VERSIONS, injector
    from tests.support.istio_oracle import SETTINGS, check_batch

    first = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    failures = 0
    for version in args.version or VERSIONS:
        istio = injector(version)
        for seed in range(first, first + args.batches):
            started = time.monotonic()
            for settings in SETTINGS:
                for target in ("native", "regular"):
                    failure = check_batch(istio, settings, target, args.workloads, seed)
                    if failure is not None:
                        failures += 1
                        print(failure, file=sys.stderr)
            print(f"Istio {version} seed {seed}: {len(SETTINGS) * 2 * args.workloads} workloads checked "
                  f"in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
