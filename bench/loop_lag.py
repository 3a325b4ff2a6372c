"""6. Event-loop lag: how late a 10 ms ticker wakes while big reviews run in the same process.

One event loop serves every webhook, health check and review of a process, so a review's CPU
work must not hold it. A ticker sleeps 10 ms at a time and records how late each wake-up is;
the baseline is the same ticker on the idle loop, measured in the same run. The reviews go
through `review_submission` as the worker calls it: the static reviewer (ruff and the file
checks) and the LLM reviewer with production secret masking, against an instant fake LLM that
answers without reading the prompt (so its own CPU is not charged to the service).

- a 3,000-file pull request (GitHub's limit for a PR's file list), about 10 lines per file;
- one 3 MB new file (a 3 MB patch);
- a burst of 20 reviews of 500-line changes at once (static reviewer only).

Target: the worst wake-up under 100 ms in every case. Building the `Change` from GitHub's file
list (`build_change`, in the runner's prepare phase) is timed apart, as a figure only.

A full garbage collection stops every thread of the process; its cost grows with every object
the process holds, not with the review. The longest one in each case is printed, and the cases
run a second time after `gc.freeze()` (what a worker can do once started, so that collections
skip the objects of its startup), for comparison.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.github.change import build_change
from app.review.assignment import DEFAULT_ASSIGNMENT
from app.review.engine import ReviewPlan, review_submission
from app.review.llm import LLMReviewer
from app.review.models import Criterion, Review, Submission
from app.review.secrets import mask_secrets
from app.review.static import StaticReviewer
from bench.common import Result, header, percentile, quick
from bench.review_overhead import InstantLLM
from bench.synthetic import SyntheticFile, corpus, synthetic_change
from tests.fakes.llm import ScriptedReply

TICK = 0.010
TARGET_MS = 100.0
RUBRIC = (
    Criterion("correctness", "Does what the brief asks.", 6),
    Criterion("readability", "Small functions, clear names.", 4),
)
BRIEF = "Build a small inventory service with tests."


@dataclass(frozen=True, slots=True)
class Lag:
    """Wake-up delays of the ticker (seconds) while some work ran, the work's wall time, and the
    longest full garbage collection meanwhile."""

    samples: tuple[float, ...]
    seconds: float
    full_gc: float = 0.0

    @property
    def worst_ms(self) -> float:
        return max(self.samples, default=0.0) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.samples, 99) * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000 if self.samples else 0.0

    def line(self) -> str:
        return (
            f"worst {self.worst_ms:6.1f} ms, p99 {self.p99_ms:5.1f} ms, median "
            f"{self.median_ms:4.1f} ms over {len(self.samples)} ticks ({self.seconds:.1f} s); "
            f"longest full GC {self.full_gc * 1000:.0f} ms"
        )


async def _ticker(samples: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(TICK)
        samples.append(max(loop.time() - started - TICK, 0.0))


async def lag_while(work: Callable[[], Awaitable[object]]) -> Lag:
    """Run `work` while the ticker records how late it wakes."""
    samples: list[float] = []
    pauses = [0.0]
    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                began[0] = time.perf_counter()
            else:
                pauses[0] = max(pauses[0], time.perf_counter() - began[0])

    ticker = asyncio.create_task(_ticker(samples))
    await asyncio.sleep(5 * TICK)  # the ticker is running before the work starts
    samples.clear()
    gc.callbacks.append(on_gc)
    started = time.perf_counter()
    try:
        await work()
    finally:
        seconds = time.perf_counter() - started
        gc.callbacks.remove(on_gc)
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    return Lag(tuple(samples), seconds, pauses[0])


# --- the changes ----------------------------------------------------------------------------------


def many_small_files(count: int, seed: int = 3) -> list[SyntheticFile]:
    """`count` new files of 5 to 15 real code lines each."""
    rng = random.Random(seed)
    lines = corpus()
    files = []
    for i in range(count):
        n = rng.randint(5, 15)
        start = rng.randrange(0, len(lines) - n)
        body = "\n".join(lines[start : start + n]) + "\n"
        folder = "tests" if i % 5 == 4 else f"solution/pkg{i % 40}"
        name = f"test_part{i}.py" if folder == "tests" else f"part{i}.py"
        files.append(SyntheticFile(f"{folder}/{name}", None, body))
    return files


def one_big_file(size: int) -> list[SyntheticFile]:
    """One new file of real code lines, `size` characters long."""
    lines = corpus()
    out: list[str] = []
    total = 0
    index = 0
    while total < size:
        line = lines[index % len(lines)]
        out.append(line)
        total += len(line) + 1
        index += 1
    return [SyntheticFile("solution/generated.py", None, "\n".join(out) + "\n")]


def submission_of(files: list[SyntheticFile], repo: str = "acme/task") -> tuple[Submission, float]:
    """The submission, and the seconds `build_change` took (not part of the review)."""
    entries = [f.github_entry() for f in files]
    started = time.perf_counter()
    change = build_change("a" * 40, "b" * 40, entries)
    built = time.perf_counter() - started
    contents = {f.path: f.after.encode() for f in files}
    return Submission(repo, change, contents), built


# --- reviewing --------------------------------------------------------------------------------


def _answer(request: dict[str, Any]) -> ScriptedReply:
    """An answer that does not read the prompt: the fake's CPU is not the service's."""
    return ScriptedReply(
        content=json.dumps(
            {
                "summary": "Fine.",
                "criteria": [
                    {"id": c.id, "score": c.points / 2, "rationale": "ok", "evidence": []}
                    for c in RUBRIC
                ],
                "findings": [],
            }
        )
    )


def _mask(text: str) -> str:
    return mask_secrets(text)[0]


async def review_with_llm(submission: Submission) -> Review:
    fake = InstantLLM()
    fake.script(*[_answer] * 100)
    client = fake.client(max_retries=0)
    try:
        llm = LLMReviewer(
            client,
            "gpt-4o-mini",
            RUBRIC,
            BRIEF,
            budget_tokens=24_000,
            max_total_tokens=200_000,
            mask=_mask,
        )
        plan = ReviewPlan(DEFAULT_ASSIGNMENT, (StaticReviewer(),), llm, "gpt-4o-mini")
        return await review_submission(submission, plan)
    finally:
        await client.close()


async def review_static(submission: Submission) -> Review:
    return await review_submission(submission, ReviewPlan(DEFAULT_ASSIGNMENT, (StaticReviewer(),)))


async def _measure(result: Result, label: str = "") -> dict[str, Lag]:
    files = 600 if quick() else 3000
    size = 600_000 if quick() else 3 * 1024 * 1024
    burst = 5 if quick() else 20
    lags: dict[str, Lag] = {}

    def show(name: str, lag: Lag, extra: str = "") -> None:
        lags[name] = lag
        result.say(f"{label}{name:>20}: {lag.line()}{extra}")

    show("idle loop", await lag_while(lambda: asyncio.sleep(1.0)))

    many, built = submission_of(many_small_files(files))
    result.say(f"{label}build_change of {files} files: {built * 1000:.0f} ms (prepare phase)")
    reviews: list[Review] = []

    async def big_pr() -> None:
        reviews.append(await review_with_llm(many))

    lag = await lag_while(big_pr)
    review = reviews[-1]
    show(
        f"{files}-file PR",
        lag,
        f"; {len(review.findings)} findings, {len(review.skipped)} files over the LLM cap",
    )

    big, built = submission_of(one_big_file(size))
    patch = len(big.change.files[0].patch or "")
    result.say(f"{label}build_change of a {patch / 2**20:.1f} MB patch: {built * 1000:.0f} ms")

    async def big_patch() -> None:
        reviews.append(await review_with_llm(big))

    lag = await lag_while(big_patch)
    show(f"{size / 2**20:.1f} MB patch", lag, f"; {len(reviews[-1].findings)} findings")

    subs = [submission_of(synthetic_change(500, seed=i), f"acme/c{i}")[0] for i in range(burst)]

    async def at_once() -> None:
        await asyncio.gather(*(review_static(s) for s in subs))

    show(f"{burst} reviews at once", await lag_while(at_once))
    return lags


def run() -> Result:
    result = header("looplag", "event-loop lag while big reviews run (10 ms ticker)")
    lags = asyncio.run(_measure(result))
    idle = lags.pop("idle loop")
    gc.collect()
    gc.freeze()
    try:
        frozen = asyncio.run(_measure(result, "gc.freeze(): "))
    finally:
        gc.unfreeze()
    frozen.pop("idle loop")
    for name, lag in lags.items():
        result.check(
            f"worst loop lag, {name}",
            f"{lag.worst_ms:.0f} ms (p99 {lag.p99_ms:.0f} ms, longest full GC "
            f"{lag.full_gc * 1000:.0f} ms; after gc.freeze() {frozen[name].worst_ms:.0f} ms; "
            f"idle {idle.worst_ms:.1f} ms)",
            f"< {TARGET_MS:.0f} ms",
            lag.worst_ms < TARGET_MS,
        )
    return result


if __name__ == "__main__":
    run()
