"""The operators' commands: replay (signed delivery to a live server) and report (ledger export)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.__main__ import main
from app.config import Settings
from app.jobs.models import PushJob, ReviewJob
from app.jobs.store import JobStore, Outcome
from app.ledger import Ledger
from tests.fakes.github_http import serve_in_thread
from tests.support import SECRET


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    return work


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- replay -----------------------------------------------------------------------------------


class Receiver:
    """A stand-in for the service's /webhook that checks signatures as GitHub's docs say."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/webhook", self.webhook, methods=["POST"])])

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-hub-signature-256", ""), expected):
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        return JSONResponse({"status": "queued", "reviews": 1}, status_code=202)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "push.json"
    path.write_bytes(b'{"ref": "refs/heads/main",\n "after": "abc"}\n')  # sent byte for byte
    return path


def test_replay_signs_and_delivers(
    payload: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver()
    with serve_in_thread(receiver.app) as url:
        argv = ["replay", str(payload), "--event", "push", "--url", f"{url}/webhook"]
        status, out, err = run_cli(capsys, *argv, "--delivery", "d-1")
        assert status == 0, err
        port = url.rsplit(":", 1)[1]
        monkeypatch.setenv("PORT", port)  # the default URL is the configured HOST:PORT
        assert run_cli(capsys, "replay", str(payload), "--event", "push")[0] == 0
    assert out.splitlines()[0] == "202 Accepted (delivery d-1)"
    assert json.loads(out.split("\n", 1)[1]) == {"status": "queued", "reviews": 1}
    headers, body = receiver.received[0]
    assert body == payload.read_bytes()
    assert headers["x-github-event"] == "push" and headers["x-github-delivery"] == "d-1"
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert headers["content-type"] == "application/json"
    assert len(receiver.received) == 2 and receiver.received[1][0]["x-github-delivery"] != "d-1"


def test_replay_reports_a_refusal(
    payload: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "not the receiver's")
    with serve_in_thread(Receiver().app) as url:
        status, out, _ = run_cli(
            capsys, "replay", str(payload), "--event", "push", "--url", url + "/webhook"
        )
    assert status == 1 and out.startswith("401 Unauthorized") and "signature" in out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("setup", "argv", "status", "message"),
    [
        ("nosecret", ["--event", "push"], 2, "GITHUB_WEBHOOK_SECRET is not set"),
        ("badjson", ["--event", "push"], 2, "is not JSON"),
        ("", ["--event", "Push!"], 2, "is not a GitHub event name"),
        ("", ["--event", "push", "--url", "ftp://x/webhook"], 2, "is not an http(s) URL"),
        ("", ["--event", "push", "--url", "http://127.0.0.1:{port}/webhook"], 1, "reached"),
    ],
)
def test_replay_errors(
    payload: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    argv: list[str],
    status: int,
    message: str,
) -> None:
    if setup == "nosecret":
        monkeypatch.delenv("GITHUB_WEBHOOK_SECRET")
    if setup == "badjson":
        payload.write_text("{not json")
    argv = [a.replace("{port}", str(free_port())) for a in argv]
    code, out, err = run_cli(capsys, "replay", str(payload), *argv)
    assert code == status and not out and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- report -----------------------------------------------------------------------------------


def job(repo: str, head: str, sender: str, received: str) -> ReviewJob:
    return PushJob(
        installation_id=1,
        repo=repo,
        head_sha=head,
        delivery_id=f"d-{repo}-{head}-{received}",
        event="push",
        received_at=received,
        ref="main",
        sender=sender,
    )


async def fill_ledger(url: str) -> None:
    ledger = Ledger.from_url(url)
    await ledger.migrate()

    async def review(item: ReviewJob, *, state: str = "done", **result: Any) -> None:
        review_id = await ledger.enqueue_job(item)
        attempt = await JobStore(ledger, lease_seconds=60).claim(review_id)
        assert attempt is not None
        await JobStore(ledger, lease_seconds=60).finish(
            attempt, Outcome(state=state, conclusion="success", **result)
        )

    common: dict[str, Any] = {"assignment": "task-1", "points": 10}
    try:
        await review(
            job("acme/task-ada", "a" * 40, "ada", "2026-11-01T10:00:00+00:00"),
            **common, score=5, scores={"correctness": 3, "style": 2}, cost_usd=0.01,
        )  # fmt: skip
        await review(  # a re-run of the same head: only the latest counts
            job("acme/task-ada", "a" * 40, "ada", "2026-11-01T10:00:00+00:00"),
            **common, score=7, scores={"correctness": 4, "style": 3}, flags=1, late=True,
            cost_usd=0.0123,
        )  # fmt: skip
        await review(
            job("acme/task-bob", "b" * 40, "=bob", "2026-11-02T09:30:00+00:00"),
            **common, score=4, scores={"correctness": 4, "style": None},
        )  # fmt: skip
        await review(
            job("acme/task-eve", "e" * 40, "eve", "2026-11-03T09:00:00+00:00"),
            state="failed", assignment="task-1",
        )  # fmt: skip
        await review(
            job("acme/other", "c" * 40, "cy", "2026-11-03T09:00:00+00:00"),
            assignment="task-2", score=1, points=1, scores={"x": 1},
        )  # fmt: skip
    finally:
        await ledger.close()


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    asyncio.run(fill_ledger(url))
    return url


def test_report_csv(ledger_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "report", "--assignment", "task-1", "--format", "csv")
    assert status == 0 and not err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "repository", "author", "head_sha", "received_at", "late", "correctness", "style",
        "total", "points", "flags", "cost_usd",
    ]  # fmt: skip
    assert [(r["repository"], r["author"], r["total"]) for r in rows] == [
        ("acme/task-ada", "ada", "7"),
        ("acme/task-bob", "'=bob", "4"),  # kept as text, never a spreadsheet formula
    ]
    ada, bob = rows
    assert ada["head_sha"] == "a" * 40 and ada["received_at"] == "2026-11-01T10:00:00+00:00"
    assert (ada["late"], ada["correctness"], ada["style"], ada["flags"]) == ("true", "4", "3", "1")
    assert ada["cost_usd"] == "0.012300" and ada["points"] == "10"
    assert (bob["late"], bob["style"]) == ("false", "")  # not assessed stays empty


def test_report_json_to_a_file(
    ledger_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "scores.json"
    argv = ["report", "--assignment", "task-1", "--format", "json", "--output", str(target)]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0 and not out and "2 submission(s) written" in err
    data = json.loads(target.read_text())
    assert data["assignment"] == "task-1" and data["criteria"] == ["correctness", "style"]
    ada = data["submissions"][0]
    assert ada == {
        "repository": "acme/task-ada",
        "author": "ada",
        "head_sha": "a" * 40,
        "received_at": "2026-11-01T10:00:00+00:00",
        "late": True,
        "scores": {"correctness": 4.0, "style": 3.0},
        "total": 7.0,
        "points": 10,
        "flags": 1,
        "cost_usd": 0.0123,
        "tests": None,  # the assignment has no hidden tests
        "similar": [],
        "history": None,
    }
    assert data["submissions"][1]["scores"] == {"correctness": 4.0, "style": None}


def test_report_errors(
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run_cli(capsys, "report", "--assignment", "nope")
    assert status == 2 and not out
    assert "no reviews of assignment 'nope' (it has: task-1, task-2)" in err

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    status, _, err = run_cli(capsys, "report", "--assignment", "task-1")
    assert status == 2 and "There is no ledger at" in err and "Traceback" not in err

    status, _, err = run_cli(capsys, "report", "--assignment", "task-1", "--format", "xml")
    assert status == 2 and "invalid choice" in err


def test_report_of_an_empty_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def create() -> None:
        ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
        await ledger.migrate()
        await ledger.close()

    asyncio.run(create())
    status, _, err = run_cli(capsys, "report", "--assignment", "task-1")
    assert status == 2 and "it has no reviews yet" in err
