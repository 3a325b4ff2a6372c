"""Helpers shared by the tests: signing deliveries, GitHub's published payloads, small payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_GITHUB = ROOT.parent / "shared" / "github"
SECRET = "It's a Secret to Everybody"


def require_shared(path: Path) -> Path:
    """Contract data lives beside the repo; absent locally it skips, absent under CI it fails."""
    if path.exists():
        return path
    message = f"{path} not found: contract tests need GitHub's published data in ../shared/github"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def published(event: str, name: str) -> dict[str, Any]:
    path = require_shared(SHARED_GITHUB / "webhooks" / event / f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(
    event: str, body: bytes, *, delivery: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": sign(body, secret),
        "user-agent": "GitHub-Hookshot/test",
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def repo_payload(full_name: str, *, default_branch: str = "main") -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": 1,
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {"login": owner, "id": 2, "type": "Organization"},
        "default_branch": default_branch,
    }


def pull_request_payload(
    full_name: str,
    number: int,
    *,
    head_sha: str,
    base_sha: str,
    action: str = "opened",
    head_ref: str = "feature",
    base_ref: str = "main",
    draft: bool = False,
    installation: int = 1,
    title: str = "Submission",
    body: str | None = None,
) -> dict[str, Any]:
    repo = repo_payload(full_name)
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "draft": draft,
            "title": title,
            "body": body,
            "user": {"login": "candidate", "id": 9},
            "head": {"ref": head_ref, "sha": head_sha, "repo": repo},
            "base": {"ref": base_ref, "sha": base_sha, "repo": repo},
        },
        "repository": repo,
        "installation": {"id": installation},
        "sender": {"login": "candidate", "id": 9},
    }


def push_payload(
    full_name: str,
    *,
    after: str,
    before: str = "0" * 40,
    ref: str = "refs/heads/main",
    deleted: bool = False,
    installation: int = 1,
) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == "0" * 40,
        "deleted": deleted,
        "forced": False,
        "commits": [],
        "repository": repo_payload(full_name),
        "installation": {"id": installation},
        "sender": {"login": "candidate", "id": 9},
    }
