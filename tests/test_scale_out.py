"""Scale-out: two `python -m app worker` processes on Redis share a burst of 50 reviews, and
each review runs exactly once (one check run per head, one claim per review)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa

from app.ledger import reviews
from tests.conftest import harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.support import ROOT, SECRET, pull_request_payload

pytestmark = pytest.mark.slow

REPO = "acme/task-burst"
REVIEWS = 50


async def test_two_workers_share_a_burst_and_run_each_review_once(
    make_settings: Any, fake_github: FakeGitHub, private_pem: str, tmp_path: Path
) -> None:
    from tests.services import fresh_postgres, fresh_redis

    database_url = await fresh_postgres()
    redis_url, queue_name = await fresh_redis()
    git = GitRepo.init(tmp_path / "repo")
    git.commit({"README.md": "# task\n"}, "starter")
    fake_github.add_repo(REPO, git, installation_id=1)
    payloads = []
    for n in range(1, REVIEWS + 1):
        git.commit({f"app/m{n}.py": "import sys\n"}, f"work {n}", branch=f"b{n}")
        git.checkout("main")
        fake_github.add_pull(REPO, n, head_ref=f"b{n}")
        payloads.append(
            pull_request_payload(REPO, n, head_sha=git.rev(f"b{n}"), base_sha=git.rev("main"))
        )

    with fake_github.serve() as github_url:
        settings = make_settings(
            github_api_url=github_url, database_url=database_url,
            queue_url=redis_url, queue_name=queue_name,
        )
        async with (
            httpx2.AsyncClient() as http,
            harness_for(settings, http, start_workers=False) as web,
        ):
            for payload in payloads:
                assert (await web.deliver("pull_request", payload)).status_code == 202
            env = {
                **os.environ,
                "GITHUB_APP_ID": "4242", "GITHUB_PRIVATE_KEY": private_pem,
                "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_API_URL": github_url,
                "DATABASE_URL": database_url, "QUEUE_URL": redis_url, "QUEUE_NAME": queue_name,
                "WORKER_CONCURRENCY": "2", "LOG_LEVEL": "INFO",
            }
            logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
            files = [log.open("wb") for log in logs]
            workers = [
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "app", "worker", env=env, cwd=ROOT,
                    stdout=out, stderr=subprocess.STDOUT,
                )
                for out in files
            ]
            try:
                for _ in range(1200):  # bounded: at most about a minute
                    states = await web.services.ledger.review_states()
                    if states.get("done") == REVIEWS or any(
                        w.returncode is not None for w in workers
                    ):
                        break
                    await asyncio.sleep(0.05)
            finally:
                for w in workers:
                    w.terminate()
                for w in workers:
                    await asyncio.wait_for(w.wait(), timeout=30)
                for out in files:
                    out.close()

            async with web.services.ledger.engine.connect() as conn:
                attempts = (await conn.execute(sa.select(reviews.c.attempts))).scalars().all()

    outputs = [log.read_text(errors="replace") for log in logs]
    assert states == {"done": REVIEWS}, "\n".join(o[-3000:] for o in outputs)
    assert sorted(attempts) == [1] * REVIEWS  # nobody ran a review twice
    finished = [set(re.findall(r"finished review (\d+)", o)) for o in outputs]
    assert finished[0] and finished[1], "both workers should have taken part"
    assert not finished[0] & finished[1]
    assert len(finished[0] | finished[1]) == REVIEWS
    for n in range(1, REVIEWS + 1):
        [run] = fake_github.runs_for(REPO, git.rev(f"b{n}"))
        assert run["status"] == "completed"
