"""2. GitHub calls per review: a 10-file PR with findings through the real service (webhook,
in-process queue, static reviewer) against the fake GitHub, counted from the fake's own log.

Then 100 reviews over two installations, and 10 more an hour later (the token cache's and the
fake's clocks moved forward): the token requests must be exactly one per installation per hour.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.github.auth import TokenCache
from bench.common import Result, header, keypair, make_settings
from bench.harness import (
    fake_github,
    github_client,
    is_codeload,
    is_token,
    make_repo,
    make_repos,
    open_pull,
    service,
    tally,
)
from tests.fakes.github import FakeGitHub

ORGS = {1: "acme", 2: "globex"}

# Ten files, each with findings ruff reports (unused imports, `== None`, bare except).
TEN_FILES = {
    f"solution/module_{i}.py": (
        f"import os\nimport sys\n\n\ndef step_{i}(value):\n"
        f"    if value == None:\n        return {i}\n"
        "    try:\n        return int(value)\n    except:\n        return 0\n"
    )
    for i in range(10)
}


async def calls_per_review(root: Path, result: Result) -> None:
    """A warm-up review per installation, then the measured 10-file PR in a third repository."""
    fake = fake_github()
    warm = make_repo(root, fake, "acme/task-warm", installation_id=1)
    measured = make_repo(root, fake, "acme/task-alice", installation_id=1)
    settings = make_settings(root / "calls.db")
    async with github_client(fake) as http, service(settings, http) as svc:
        join = getattr(svc.services.queue, "join")  # noqa: B009 - the in-process queue's wait
        warm_pr = open_pull(fake, warm, "acme/task-warm", 1, {"solution/a.py": "x = 1\n"})
        await svc.deliver("pull_request", warm_pr)
        await join()
        payload = open_pull(fake, measured, "acme/task-alice", 1, TEN_FILES)
        fake.requests.clear()
        await svc.deliver("pull_request", payload)
        await join()
    requests = list(fake.requests)
    api = [r for r in requests if not is_codeload(r)]
    archive = [r for r in requests if is_codeload(r)]
    tokens = [r for r in requests if is_token(r)]
    [run] = fake.runs_for("acme/task-alice", payload["pull_request"]["head"]["sha"])
    comments = fake.comments_on("acme/task-alice", 1)
    result.say(
        f"10-file PR: {len(run['annotations'])} annotations, conclusion {run['conclusion']}, "
        f"{len(comments)} PR comment; {len(tokens)} token request (cache warm)"
    )
    result.say(f"requests to GitHub: {len(api)} API + {len(archive)} archive download (codeload)")
    for kind, n in sorted(tally(requests).items()):
        result.say(f"  {n} x {kind}")
    floor = 4 + -(-len(run["annotations"]) // 50)
    result.say(
        f"baseline, the floor for this review: {floor} API requests (the change, the archive "
        "link, the check-run start, one completion per 50 annotations, the comment upsert)"
    )
    result.check("API requests per review (warm token)", str(len(api)), "<= 6", len(api) <= 6)
    result.say(f"RATIO API requests / floor: {len(api) / floor:.2f}")
    _clean(fake, result)


async def tokens_per_hour(root: Path, result: Result) -> None:
    """100 reviews, 50 per installation, one repository each; then 10 more an hour later."""
    fake = fake_github()
    repos = {
        inst: make_repos(
            root, fake, [f"{org}/task-{i:03d}" for i in range(55)], installation_id=inst
        )
        for inst, org in ORGS.items()
    }
    settings = make_settings(root / "tokens.db", worker_concurrency=8)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    def pulls(first: int, last: int, text: str) -> list[dict[str, Any]]:
        return [
            open_pull(
                fake,
                repos[inst][i],
                f"{org}/task-{i:03d}",
                i + 1,
                {"solution/a.py": f"{text} = {i}\n"},
                installation_id=inst,
            )
            for inst, org in ORGS.items()
            for i in range(first, last)
        ]

    first_hour = pulls(0, 50, "x")
    async with (
        github_client(fake) as http,
        service(settings, http, reviewers=lambda job: (), start_workers=False) as svc,
    ):
        assert svc.services.runner is not None
        svc.services.runner.tokens = TokenCache(
            app_id=settings.github_app_id, private_key=settings.private_key_pem or "", clock=clock
        )
        queue = svc.services.queue
        join = getattr(queue, "join")  # noqa: B009
        for payload in first_hour:
            await svc.deliver("pull_request", payload)
        started = time.monotonic()
        await queue.start()
        await join()
        hour = dict(fake.token_requests)
        result.say(
            f"100 reviews (8 workers) in {time.monotonic() - started:.1f} s; token requests by "
            f"installation: {hour}"
        )
        # An hour later: the cache's clock and the fake's clocks move on by an hour.
        offset[0] = 3600.0
        fake.now = lambda: datetime.now(UTC) + timedelta(seconds=offset[0])
        fake.jwt_now = clock
        for payload in pulls(50, 55, "y"):
            await svc.deliver("pull_request", payload)
        await join()
        later = dict(fake.token_requests)
    result.say(f"10 more reviews an hour later: token requests by installation: {later}")
    result.check(
        "token requests per installation per hour",
        f"{hour} then {later}",
        "exactly 1 per installation per hour",
        hour == {1: 1, 2: 1} and later == {1: 2, 2: 2},
    )
    _clean(fake, result)


def _clean(fake: FakeGitHub, result: Result) -> None:
    failed = [r for r in fake.check_runs if r.get("conclusion") not in ("neutral", "success")]
    if failed or fake.violations or fake.auth_failures:
        result.check(
            "reviews completed cleanly",
            f"{len(failed)} failed check runs, {len(fake.violations)} contract violations, "
            f"{len(fake.auth_failures)} auth failures",
            "0",
            False,
        )


def run() -> Result:
    result = header("github", "GitHub requests per review; token requests per installation")
    assert keypair()
    with tempfile.TemporaryDirectory(prefix="relo-bench-") as tmp:
        asyncio.run(calls_per_review(Path(tmp), result))
        asyncio.run(tokens_per_hour(Path(tmp), result))
    return result


if __name__ == "__main__":
    run()
