"""The event loop never stalls while a large change is reviewed.

One process serves every webhook and review from one event loop, so a review's CPU work (file
checks, the LLM's plan, merging and anchoring, rendering) runs in worker threads, and its cost
grows linearly with the change. These tests count, never time: how often a concurrent coroutine
was scheduled while the work ran, and how much work planning does for 10 times the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace

import pytest

from app.render import check_output, render_check_output, render_comment_body
from app.review import json_array, prompt_plan
from app.review.assignment import DEFAULT_ASSIGNMENT
from app.review.engine import ReviewPlan, review_submission
from app.review.llm import LLMReviewer
from app.review.models import (
    Change,
    ChangedFile,
    Criterion,
    Finding,
    Review,
    Severity,
    Submission,
)
from app.review.pipeline import anchor
from app.review.secrets import mask_secrets
from app.review.static import StaticReviewer, ruff_findings
from tests.fakes.llm import FakeLLM, good

RUBRIC = (Criterion("correctness", "Does what the brief asks", 10),)


def added(path: str, lines: int, width: int = 30) -> ChangedFile:
    body = [f"value_{n} = compute({n})".ljust(width, "#") for n in range(1, lines + 1)]
    patch = f"@@ -0,0 +1,{lines} @@\n" + "\n".join(f"+{b}" for b in body)
    return ChangedFile(path, "added", frozenset(range(1, lines + 1)), patch, lines)


def change_of(count: int, lines: int = 6) -> Change:
    return Change("base", "head", tuple(added(f"src/m{i:04}.py", lines) for i in range(count)))


@contextlib.asynccontextmanager
async def ticker() -> AsyncIterator[Callable[[], int]]:
    """A coroutine that counts how often the loop scheduled it; yields the count's reader."""
    count = 0

    async def tick() -> None:
        nonlocal count
        while True:
            await asyncio.sleep(0)
            count += 1

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        yield lambda: count
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.contextmanager
def counting_estimates(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """[calls, characters] the planner's token estimator was asked about."""
    seen = [0, 0]
    real = prompt_plan.estimate_tokens

    def estimate(text: str) -> int:
        seen[0] += 1
        seen[1] += len(text)
        return real(text)

    with monkeypatch.context() as patch:
        patch.setattr(prompt_plan, "estimate_tokens", estimate)
        yield seen


# --- linear algorithms ----------------------------------------------------------------------------


def test_planning_work_grows_linearly_with_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Packing used to re-count every block already planned for each new file: a 3,000-file
    change took 4.5 s (12 s on a busier machine) of event-loop time."""
    work = []
    for count in (300, 3000):
        with counting_estimates(monkeypatch) as seen:
            plan = prompt_plan.plan_requests(change_of(count).files, budget_tokens=4000)
        assert not plan.not_reviewed and len(plan.requests) > 1
        work.append(seen)
    assert work[1][0] <= 11 * work[0][0]
    assert work[1][1] <= 11 * work[0][1]


def test_splitting_one_huge_hunk_counts_each_line_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3 MB new file is one hunk: splitting it by lines used to re-join the part so far for
    every line it added, so each line was counted once per line after it in its part."""
    big = added("big.py", 20_000, width=60)
    assert big.patch is not None
    with counting_estimates(monkeypatch) as seen:
        plan = prompt_plan.plan_requests([big], budget_tokens=24_000)
    shown = [b for r in plan.requests for b in r.blocks]
    assert len(shown) > 10 and shown[-1].part == shown[-1].parts == len(shown)
    assert seen[1] <= 4 * len(big.patch)


def test_anchoring_looks_each_file_up_once() -> None:
    """Anchoring used to scan the change's files (and each file's lines) for every finding."""
    walks = 0

    class Files(tuple[ChangedFile, ...]):
        def __iter__(self) -> Iterator[ChangedFile]:
            nonlocal walks
            walks += 1
            return super().__iter__()

    change = change_of(500)
    change = replace(change, files=Files(change.files))
    findings = [
        Finding(f"src/m{i:04}.py", 2, 3, Severity.WARNING, "r", "m") for i in range(0, 1000, 2)
    ]
    on, off = anchor(findings, change)
    assert (len(on), len(off)) == (250, 250)  # files 500..998 are not in the change
    assert walks == 1


# --- CPU work off the loop --------------------------------------------------------------------


async def test_the_loop_keeps_running_while_a_3000_file_change_is_planned() -> None:
    """The plan masks every hunk; the mask notes how often the loop had run meanwhile. On the
    loop, planning ran start to end between two of the ticker's turns."""
    fake = FakeLLM()
    fake.script(*[good()] * 20)
    client = fake.client(max_retries=0)
    seen: list[int] = []
    async with ticker() as ticks:

        def mask(text: str) -> str:
            seen.append(ticks())
            return mask_secrets(text)[0]

        llm = LLMReviewer(client, "gpt-4o-mini", RUBRIC, "brief", mask=mask)
        plan = ReviewPlan(DEFAULT_ASSIGNMENT, (), llm, "gpt-4o-mini")
        try:
            review = await review_submission(Submission("acme/task", change_of(3000)), plan)
        finally:
            await client.close()
    assert len(seen) == 2 * 3000 and review.scores[0].score == 7.5  # each path and hunk
    assert len(set(seen)) >= 3


async def test_file_checks_of_a_3_mb_file_leave_the_loop() -> None:
    secret = 'API_TOKEN = "Zx81kQ9vLm2Pq7RtAbW3"'
    text = "\n".join(f"line {n}: some data, some more data, and then some" for n in range(60_000))
    text += f"\n{secret}\n"
    lines = text.count("\n")
    change = Change("base", "head", (ChangedFile("data/big.txt", "added", frozenset({lines}), ""),))
    submission = Submission("acme/task", change, {"data/big.txt": text.encode()})
    async with ticker() as ticks:
        before = ticks()
        result = await StaticReviewer(ruff_path="").review(submission)
        during = ticks() - before
    assert {(f.rule, f.start_line) for f in result.findings} == {
        ("relo/huge-file", 1),
        ("relo/secret", lines),
    }
    assert during >= 3  # inline, the checks ran from start to end in one turn of the loop


async def test_rendering_runs_in_a_worker_thread() -> None:
    findings = tuple(
        Finding(f"src/m{i}.py", 1, 1, Severity.NOTICE, "r", "message " * 20) for i in range(20_000)
    )
    review = Review("head", findings, title="Task")
    async with ticker() as ticks:
        before = ticks()
        output = await render_check_output(review, show_score=False)
        body = await render_comment_body(review, show_score=False)
        during = ticks() - before
    assert output == check_output(review, show_score=False)
    assert len(output.annotations) == 20_000 and "20000 findings" in body
    assert during >= 2


# --- ruff's report on a large change --------------------------------------------------------------


def ruff_report(count: int) -> bytes:
    """ruff's JSON for `count` lines of one file, each with a safe one-line fix."""
    return json.dumps(
        [
            {
                "code": "E711",
                "message": "Comparison to `None` should be `cond is None`",
                "filename": "/work/x/src/a.py",
                "location": {"row": row, "column": 1},
                "end_location": {"row": row, "column": 10},
                "fix": {
                    "applicability": "safe",
                    "edits": [
                        {
                            "content": "x is None",
                            "location": {"row": row, "column": 4},
                            "end_location": {"row": row, "column": 13},
                        }
                    ],
                },
            }
            for row in range(1, count + 1)
        ],
        indent=2,
    ).encode()


def test_ruff_suggestions_split_each_file_once() -> None:
    """Each safe fix used to decode and split its whole file again: 5,000 fixes in a 3 MB file
    meant splitting 15 GB of text."""
    reads = 0

    class Contents(dict[str, bytes]):
        def get(self, key: str, default: object = None) -> bytes | None:  # type: ignore[override]
            nonlocal reads
            reads += 1
            return super().get(key)

    content = b"if x == None:\n" * 5_000
    findings = ruff_findings(
        ruff_report(5_000),
        root="/work/x",
        written={"src/a.py": "src/a.py"},
        contents=Contents({"src/a.py": content}),
    )
    assert [f.suggestion for f in findings] == ["if x is None:"] * 5_000
    assert reads == 1


def test_a_large_json_array_is_read_element_by_element() -> None:
    report = ruff_report(300)
    assert json_array.loads(report) == json.loads(report)
    for text in ("[]", " [1, [2], {\"a\": null}] ", "{}", "3"):
        assert json_array.loads(text) == json.loads(text)
    for broken in ("[1,]", "[1 2]", "[1] x", "[", ""):
        with pytest.raises(json.JSONDecodeError):
            json_array.loads(broken)
