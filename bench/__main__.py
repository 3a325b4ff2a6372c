"""`python -m bench [NAME ...] [--strict]`: run the benchmarks (all by default) and summarise.

Each benchmark prints its figures and a RATIO against a baseline measured in the same run;
the summary lists every target as MET or MISS. `--strict` exits 1 when a target is missed.
Set BENCH_QUICK=1 for short runs (to try the scripts; the figures are then not comparable).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench import (
    github_calls,
    injection_rate,
    loop_lag,
    prompt_efficiency,
    prompt_prefix,
    review_overhead,
    scale_out,
    secrets_rate,
    similarity,
    webhook_ack,
    webhook_attack,
)
from bench.common import Result

BENCHMARKS: dict[str, Callable[[], Result]] = {
    "webhook": webhook_ack.run,
    "github": github_calls.run,
    "prompt": prompt_efficiency.run,
    "prefix": prompt_prefix.run,
    "overhead": review_overhead.run,
    "scaleout": scale_out.run,
    "looplag": loop_lag.run,
    "attack": webhook_attack.run,
    "secrets": secrets_rate.run,
    "injection": injection_rate.run,
    "similarity": similarity.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"one or more of: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}: choose from {', '.join(BENCHMARKS)}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"relo-review benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load}"
        + ("; BENCH_QUICK: short runs" if os.environ.get("BENCH_QUICK") else "")
    )
    results: list[tuple[Result, float]] = []
    for name in names:
        started = time.monotonic()
        results.append((BENCHMARKS[name](), time.monotonic() - started))
    print("\n== summary")
    missed = 0
    for result, seconds in results:
        print(f"  {result.name} ({seconds:.0f} s)")
        for check in result.checks:
            missed += not check.ok
            print(
                f"    {'MET ' if check.ok else 'MISS'}  {check.name}: {check.value} "
                f"(target {check.target})"
            )
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
