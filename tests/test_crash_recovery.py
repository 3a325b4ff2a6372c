"""kill -9 mid-review, restart, and the review completes exactly once (issue 4, "A crash test").

The service runs as a real process (`python -m app serve`) against the fake GitHub served over
TCP. The fake holds the review's compare request, so the review is provably in flight (its check
run is `in_progress`) when the process is killed. A second process on the same SQLite ledger
must take the review over once its lease runs out, reuse the check run (found by the ledger and
its external id) and post one comment.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx2
import pytest

from app.render import COMMENT_MARKER
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.support import ROOT, SECRET, delivery_headers, pull_request_payload

pytestmark = pytest.mark.slow

REPO = "acme/task-crash"
LEASE_SECONDS = 1.5  # a dead worker's review is taken over after this long
TIMEOUT = 20.0  # bound on every wait


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One `python -m app serve` process; its output goes to a log file for failure messages."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out: IO[bytes] = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            env={**env, "PORT": str(self.port)},
            cwd=cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        with httpx2.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"the service exited:\n{self.output()}"
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(0.05)  # a short wait that ends early if the process dies
        pytest.fail(f"the service was not ready within {TIMEOUT} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no grace period, nothing flushed."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self._out.close()


@contextmanager
def service(env: dict[str, str], cwd: Path, log: Path) -> Iterator[Service]:
    running = Service(env, cwd, log)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def ledger_rows(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT id, state, attempts, check_run_id FROM reviews").fetchall()
    return [dict(r) for r in rows]


def test_kill_9_mid_review_then_restart_completes_the_review_once(
    tmp_path: Path, private_pem: str, public_pem: bytes
) -> None:
    fake = FakeGitHub(app_id="4242", public_key_pem=public_pem)
    git = GitRepo.init(tmp_path / "repo")
    git.commit({"README.md": "# Task\n", "app/starter.py": "def given():\n    return 1\n"}, "start")
    fake.add_repo(REPO, git, installation_id=1)
    git.commit({"app/solution.py": "import sys\n\n\ndef solve(x):\n    return x == None\n"},
               "candidate work", branch="feature")  # fmt: skip
    git.checkout("main")
    fake.add_pull(REPO, 1, head_ref="feature")
    head = git.rev("feature")
    payload = pull_request_payload(REPO, 1, head_sha=head, base_sha=git.rev("main"))
    body = json.dumps(payload).encode()
    db = tmp_path / "l.db"
    workdir = tmp_path / "cwd"  # no .env from the repo's working directory is read
    workdir.mkdir()
    log = tmp_path / "service.log"

    def runs() -> list[dict[str, Any]]:
        return fake.runs_for(REPO, head)

    with fake.serve() as github_url:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "PYTHONPATH": str(ROOT),
            "GITHUB_APP_ID": "4242",
            "GITHUB_PRIVATE_KEY": private_pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": github_url,
            "DATABASE_URL": f"sqlite:///{db}",
            "HOST": "127.0.0.1",
            "REVIEW_LEASE_SECONDS": str(LEASE_SECONDS),
            "SHUTDOWN_GRACE_SECONDS": "2",
            "WORKER_CONCURRENCY": "2",
            "LOG_LEVEL": "INFO",
        }
        hold = fake.hold("GET", r"/repos/acme/task-crash/compare/")
        try:
            first = Service(env, workdir, log)
            try:
                first.wait_ready()
                response = httpx2.post(
                    f"{first.url}/webhook",
                    content=body,
                    headers=delivery_headers("pull_request", body),
                    timeout=5.0,
                )
                assert response.status_code == 202, response.text
                [review_id] = response.json()["reviews"]

                in_flight = fake.wait_until(
                    lambda: hold.waiting > 0 and [r["status"] for r in runs()] == ["in_progress"],
                    TIMEOUT,
                )
                assert in_flight, (
                    f"the review never reached the compare: {runs()}\n{first.output()}"
                )
            finally:
                first.kill()
            [row] = ledger_rows(db)
            assert row["id"] == review_id and row["state"] == "running", row
            assert row["check_run_id"] == runs()[0]["id"], row

            with service(env, workdir, log) as second:
                hold.release()
                done = fake.wait_until(
                    lambda: (
                        [r["status"] for r in runs()] == ["completed"]
                        and len(fake.comments_on(REPO, 1)) == 1
                    ),
                    TIMEOUT,
                )
                assert done, f"the review did not complete: {runs()}\n{second.output()}"
            # The second process has stopped (SIGTERM lets the running review write its ledger
            # row): nothing more can arrive.
        finally:
            hold.release()

    [row] = ledger_rows(db)
    assert row["state"] == "done" and row["attempts"] >= 2, row
    [run] = runs()
    assert run["status"] == "completed" and run["conclusion"] is not None
    assert run["external_id"] == "relo:pr:1"
    assert fake.count("POST", r"/check-runs$") == 1
    assert any(a["path"] == "app/solution.py" for a in run["annotations"]), run["annotations"]
    [comment] = fake.comments_on(REPO, 1)
    assert comment["body"].startswith(COMMENT_MARKER)
    assert fake.count("POST", r"/issues/1/comments$") == 1
    fake.assert_no_violations()
