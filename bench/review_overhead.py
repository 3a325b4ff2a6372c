"""4. Review overhead: what the service adds on top of the GitHub requests a review needs.

The real service (webhook, ledger, in-process queue, LLM reviewer over the real `openai` SDK)
runs against the fake GitHub and an instant fake LLM, both in-process. The baseline is the same
HTTP calls the reviews made (taken from the fake's log, archive download included), issued
directly to the same fake with the same client and concurrency: what any implementation must
pay. Static analysis is off (it is ruff's time, not the service's).

- one review of a 1,000-line change: wall time and tracemalloc peak, service vs bare calls;
- 200 queued reviews (one repository each) with 8 concurrent workers vs the same calls, 8 at a time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2

from bench.common import Result, header, make_settings, quick
from bench.harness import (
    Service,
    fake_github,
    github_client,
    is_token,
    make_repos,
    open_pull,
    service,
)
from bench.synthetic import SyntheticFile, added_lines, synthetic_change
from tests.fakes.github import FakeGitHub
from tests.fakes.github_http import RecordedRequest
from tests.fakes.llm import FakeLLM, good

WORKERS = 8


class InstantLLM(FakeLLM):
    """The fake LLM without its per-request JSON-schema check of `response_format` (the tests
    keep it; here it would add ~8 ms of the fake's own CPU to every review)."""

    def _invalid(self, body: dict[str, Any]) -> str | None:
        return None


def _repo_of(request: RecordedRequest) -> str:
    parts = request.path.split("/")
    return "/".join(parts[2:4])  # /repos/{owner}/{repo}/... and /_codeload/{owner}/{repo}/...


async def replay(
    http: httpx2.AsyncClient, requests: Sequence[RecordedRequest], concurrency: int
) -> float:
    """Issue `requests` again, each review's calls in order, `concurrency` reviews at a time;
    seconds taken."""
    by_review: dict[str, list[RecordedRequest]] = defaultdict(list)
    for request in requests:
        by_review[_repo_of(request)].append(request)
    pending = list(by_review.values())

    async def worker() -> None:
        while pending:
            for r in pending.pop():
                headers = {
                    k: v
                    for k, v in r.headers.items()
                    if k in ("authorization", "accept", "content-type", "user-agent")
                }
                response = await http.request(
                    r.method, r.path, params=r.query, headers=headers, content=r.body
                )
                await response.aread()
                if response.status_code >= 400:
                    raise RuntimeError(f"replay: {r.method} {r.path}: {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def _files(change: list[SyntheticFile]) -> tuple[dict[str, str], dict[str, str]]:
    before = {f.path: f.before for f in change if f.before is not None}
    after = {f.path: f.after for f in change}
    return before, after


class Bench:
    def __init__(self, root: Path, change: list[SyntheticFile], count: int) -> None:
        self.root = root
        self.fake: FakeGitHub = fake_github()
        before, self.after = _files(change)
        self.names = [f"acme/task-{i:03d}" for i in range(count)]
        self.repos = make_repos(root, self.fake, self.names, installation_id=1, starter=before)
        if not hasattr(FakeLLM, "_invalid"):
            raise RuntimeError("FakeLLM changed: InstantLLM must skip its request check anew")
        self.llm = InstantLLM()
        self.llm.script(*([good()] * (count * 4 + 20)))

    def pull(self, index: int) -> dict[str, Any]:
        files = {**self.after, "solution/marker.py": f"MARKER = {index}\n"}  # a distinct head
        return open_pull(self.fake, self.repos[index], self.names[index], 1, files)


async def _deliver_all(svc: Service, payloads: Sequence[dict[str, Any]]) -> None:
    for payload in payloads:
        await svc.deliver("pull_request", payload)


async def single_review(root: Path, result: Result, runs: int) -> None:
    """Warm up on one repository, then time `runs` reviews one at a time, then replay them."""
    change = synthetic_change(1000)
    bench = Bench(root / "single", change, runs + 1)
    settings = make_settings(root / "single.db", worker_concurrency=1)
    payloads = [bench.pull(i) for i in range(runs + 1)]
    service_times: list[float] = []
    service_peaks: list[int] = []
    per_review: list[list[RecordedRequest]] = []
    async with github_client(bench.fake) as http:
        client = bench.llm.client(max_retries=0)
        async with service(settings, http, reviewers=lambda job: (), llm=client) as svc:
            join = getattr(svc.services.queue, "join")  # noqa: B009 - in-process queue's wait
            await svc.deliver("pull_request", payloads[0])
            await join()
            for index, payload in enumerate(payloads[1:]):
                bench.fake.requests.clear()
                traced = index % 2 == 1  # tracemalloc slows Python: time and trace apart
                if traced:
                    tracemalloc.start()
                started = time.perf_counter()
                await svc.deliver("pull_request", payload)
                await join()
                elapsed = time.perf_counter() - started
                if traced:
                    service_peaks.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()
                else:
                    service_times.append(elapsed)
                per_review.append([r for r in bench.fake.requests if not is_token(r)])
        await client.close()
        bare_times: list[float] = []
        bare_peaks: list[int] = []
        for index, calls in enumerate(per_review):
            traced = index % 2 == 1
            if traced:
                tracemalloc.start()
            elapsed = await replay(http, calls, 1)
            if traced:
                bare_peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            else:
                bare_times.append(elapsed)
    service_ms = statistics.median(service_times) * 1000
    bare_ms = statistics.median(bare_times) * 1000
    service_mb = statistics.median(service_peaks) / 2**20
    bare_mb = statistics.median(bare_peaks) / 2**20
    result.say(
        f"1,000-line change ({added_lines(change)} added lines, {len(change)} files), "
        f"{len(per_review[0])} GitHub calls, {len(bench.llm.requests) // (runs + 1)} LLM "
        f"request(s) per review; medians of {len(service_times)} timed and "
        f"{len(service_peaks)} traced reviews"
    )
    result.say(
        f"time per review: service {service_ms:.0f} ms, bare calls {bare_ms:.0f} ms, "
        f"added by the service {service_ms - bare_ms:.0f} ms"
    )
    result.say(
        f"tracemalloc peak per review: service {service_mb:.1f} MiB, bare calls "
        f"{bare_mb:.1f} MiB, added by the service {service_mb - bare_mb:.1f} MiB "
        "(both include the in-process fake's own allocations)"
    )
    result.say(f"RATIO one review, service / bare calls: {service_ms / bare_ms:.2f}")


async def throughput(root: Path, result: Result, count: int) -> None:
    """`count` reviews queued first, then run by 8 workers; then the same calls, 8 at a time."""
    change = synthetic_change(1000)
    bench = Bench(root / "many", change, count + 1)
    settings = make_settings(root / "many.db", worker_concurrency=WORKERS)
    payloads = [bench.pull(i) for i in range(count + 1)]
    async with github_client(bench.fake) as http:
        client = bench.llm.client(max_retries=0)
        async with service(
            settings, http, reviewers=lambda job: (), llm=client, start_workers=False
        ) as svc:
            queue = svc.services.queue
            join = getattr(queue, "join")  # noqa: B009 - in-process queue's wait
            await svc.deliver("pull_request", payloads[0])  # warm the token and config caches
            await queue.start()
            await join()
            await queue.stop(5)
            await _deliver_all(svc, payloads[1:])
            bench.fake.requests.clear()
            started = time.perf_counter()
            await queue.start()
            await join()
            service_s = time.perf_counter() - started
        await client.close()
        calls = [r for r in bench.fake.requests if not is_token(r)]
        bare_s = await replay(http, calls, WORKERS)
    done = [r for r in bench.fake.check_runs if r["status"] == "completed"]
    result.say(
        f"{count} queued reviews of the 1,000-line change, {WORKERS} workers: {service_s:.1f} s "
        f"({count / service_s:.1f} reviews/s); {len(done)} check runs completed"
    )
    result.say(
        f"the same {len(calls)} GitHub calls issued directly, {WORKERS} reviews at a time: "
        f"{bare_s:.1f} s ({count / bare_s:.1f} reviews/s)"
    )
    ratio = service_s / bare_s
    result.check(
        f"RATIO {count} reviews, service time / bare calls", f"{ratio:.2f}", "< 2", ratio < 2
    )


def run() -> Result:
    result = header("overhead", "time and memory the service adds to the GitHub calls")
    runs, count = (4, 40) if quick() else (10, 200)
    with tempfile.TemporaryDirectory(prefix="relo-bench-") as tmp:
        asyncio.run(single_review(Path(tmp), result, runs))
        asyncio.run(throughput(Path(tmp), result, count))
    return result


if __name__ == "__main__":
    run()
