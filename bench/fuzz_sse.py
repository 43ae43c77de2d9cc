"""The stream decoder's property tests (tests/support/sse_fuzz.py), run long.

The suite runs each property 200 times; this runs each `--examples` times (default 100,000) with
a fresh random seed and prints, per property, the examples run, the time taken and any failure
with its shrunk example. Bounded work: an example that takes over `--deadline` ms fails.

    python bench/fuzz_sse.py [--examples N] [--only chunking|garbage] [--deadline MS] [--seed S]

Generating examples is most of the time (~100 examples/s per property on a loaded 2-core
machine, the decoder itself well under 1 ms each): `--only` lets two processes share the work.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support import sse_fuzz  # noqa: E402

CUTS = st.lists(st.integers(min_value=0), max_size=16)
PROPERTIES = (
    ("chunking", "any chunking of a valid stream = its payloads read directly", sse_fuzz.valid_stream(),
     sse_fuzz.chunking_is_invisible),
    ("garbage", "garbage ends in events or a RelayError", sse_fuzz.garbage(),
     sse_fuzz.garbage_is_refused_cleanly),
)


def run(name: str, strategy, prop, examples: int, deadline: float, rng_seed: int | None) -> bool:
    count = 0

    @settings(max_examples=examples, deadline=deadline, database=None, derandomize=False,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck))
    @given(strategy, CUTS)
    def check(case, cuts):
        nonlocal count
        count += 1
        prop(case, cuts)

    if rng_seed is not None:
        check = seed(rng_seed)(check)
    start = time.perf_counter()
    try:
        check()
        failure = None
    except Exception as exc:  # the property's own failure, reported with hypothesis's example
        failure = "".join(traceback.format_exception(exc))
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: {count:,} examples in {took:.1f} s ({count / took:,.0f}/s), "
          f"{'FAILED' if failure else '0 failures'} (peak RSS {peak:.0f} MB)", flush=True)
    if failure:
        print(failure[-4000:])
    return failure is None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples per property")
    parser.add_argument("--deadline", type=float, default=2000, help="ms allowed per example")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", choices=[key for key, *_ in PROPERTIES], help="run one property")
    args = parser.parse_args()
    ok = [run(name, strategy, prop, args.examples, args.deadline, args.seed)
          for key, name, strategy, prop in PROPERTIES if args.only in (None, key)]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
