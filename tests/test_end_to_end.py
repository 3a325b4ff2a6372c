"""Signed deliveries in, reviews out: the real app against the fake GitHub and real git repos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.render import COMMENT_MARKER
from tests.conftest import Harness, harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.scenarios import REPO, STARTER, make_repo, only_run, open_pr
from tests.support import published, pull_request_payload, push_payload


async def test_pull_request_gets_check_run_annotations_and_one_comment(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    payload = open_pr(
        fake_github,
        git,
        {
            "app/solution.py": "import sys\nimport json\n\n\ndef solve(x):\n    return x == None\n",
            "app/starter.py": "import os\nimport re\n\n\ndef given():\n    return 1\n",
        },
    )
    response = await harness.deliver("pull_request", payload)
    assert response.status_code == 202
    await harness.settle()

    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["name"] == "Relo Review" and run["status"] == "completed"
    assert run["conclusion"] == "neutral"
    where = {(a["path"], a["start_line"], a["title"].split()[1]) for a in run["annotations"]}
    assert ("app/solution.py", 1, "F401") in where
    assert ("app/solution.py", 6, "E711") in where
    assert ("app/starter.py", 2, "F401") in where
    # `import os` in the starter is unused too, but the candidate did not write it.
    assert not any(
        a["path"] == "app/starter.py" and a["start_line"] == 1 for a in run["annotations"]
    )
    assert "further finding" in run["output"]["summary"]
    [comment] = fake_github.comments_on(REPO, 1)
    assert comment["body"].startswith(COMMENT_MARKER)


async def test_120_findings_take_three_annotation_requests(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    lines = "".join(f"import mod{i}\n" for i in range(120))
    payload = open_pr(fake_github, git, {"app/many.py": lines})
    await harness.deliver("pull_request", payload)
    await harness.settle()
    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert len(run["annotations"]) == 120
    patches = [u for u in run["updates"] if u.get("output", {}).get("annotations")]
    assert [len(u["output"]["annotations"]) for u in patches] == [50, 50, 20]
    assert run["status"] == "completed"


async def test_second_push_updates_the_same_comment(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    first = open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    await harness.deliver("pull_request", first)
    await harness.settle()
    git.commit({"app/a.py": "import sys\nimport json\n"}, "more", branch="feature")
    git.checkout("main")
    second = pull_request_payload(
        REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"), action="synchronize"
    )
    await harness.deliver("pull_request", second)
    await harness.settle()
    comments = fake_github.comments_on(REPO, 1)
    assert len(comments) == 1
    assert "2 findings" in comments[0]["body"]
    assert len(fake_github.runs_for(REPO)) == 2  # one check run per head


async def test_a_review_that_raises_still_completes_its_check_run(
    settings: Any, github_http: Any, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    class Broken:
        name = "broken"

        async def review(self, submission: Any) -> Any:
            raise RuntimeError("boom")

    git = make_repo(tmp_path, fake_github)
    payload = open_pr(fake_github, git, {"app/a.py": "x = 1\n"})
    async with harness_for(settings, github_http, reviewers=lambda job: (Broken(),)) as h:
        await h.deliver("pull_request", payload)
        await h.settle()
    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["status"] == "completed" and run["conclusion"] == "neutral"
    assert "internal error (RuntimeError)" in run["output"]["summary"]
    assert run["actions"][0]["identifier"] == "rerun"


async def test_github_failure_mid_review_ends_the_check_run_with_a_sentence(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    payload = open_pr(fake_github, git, {"app/a.py": "x = 1\n"})
    fake_github.fail("GET", r"/compare/", 404, body={"message": "Not Found"}, times=1)
    await harness.deliver("pull_request", payload)
    await harness.settle()
    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["conclusion"] == "neutral"
    assert "GitHub answered 404" in run["output"]["summary"]


async def test_push_reviews_everything_since_the_starter_commit(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    git.commit({"app/one.py": "import sys\n"}, "first part")
    head = git.commit({"app/two.py": "import json\n"}, "second part")
    await harness.deliver("push", push_payload(REPO, after=head, before=git.rev("HEAD~1")))
    await harness.settle()
    run = only_run(fake_github, head)
    paths = {a["path"] for a in run["annotations"]}
    assert paths == {"app/one.py", "app/two.py"}  # both pushes, not the starter's `import os`
    assert fake_github.comments_on(REPO, 1) == []


async def test_branch_deletion_and_tags_do_nothing(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    make_repo(tmp_path, fake_github)
    deleted = push_payload(REPO, after="0" * 40, before="c" * 40, deleted=True)
    assert (await harness.deliver("push", deleted)).json()["status"] == "ignored"
    await harness.settle()
    assert fake_github.check_runs == [] and fake_github.requests == []


async def test_rerequested_check_run_reviews_the_head_again(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    head = git.commit({"app/one.py": "import sys\n"}, "work")
    await harness.deliver("push", push_payload(REPO, after=head))
    await harness.settle()
    payload = {
        "action": "rerequested",
        "check_run": {
            "id": 1,
            "head_sha": head,
            "name": "Relo Review",
            "check_suite": {"head_branch": "main"},
            "pull_requests": [],
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
        "installation": {"id": 1},
    }
    assert (await harness.deliver("check_run", payload)).status_code == 202
    await harness.settle()
    runs = fake_github.runs_for(REPO, head)
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)


async def test_one_token_request_per_installation_across_reviews(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    for i in range(5):
        head = git.commit({f"app/m{i}.py": "import sys\n"}, f"part {i}")
        await harness.deliver("push", push_payload(REPO, after=head))
        await harness.settle()
    assert fake_github.token_requests[1] == 1
    assert len(fake_github.runs_for(REPO)) == 5


async def test_draft_waits_until_ready(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    payload = open_pr(fake_github, git, {"app/a.py": "import sys\n"}, draft=True)
    payload["pull_request"]["draft"] = True
    await harness.deliver("pull_request", payload)
    await harness.settle()
    assert fake_github.check_runs == []
    payload["action"] = "ready_for_review"
    payload["pull_request"]["draft"] = False
    await harness.deliver("pull_request", payload)
    await harness.settle()
    assert len(fake_github.check_runs) == 1


# --- GitHub's published payloads, pointed at a real repository --------------------------------


@pytest.mark.contract
async def test_published_pull_request_opened_is_reviewed(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    payload = published("pull_request", "opened")
    name = payload["repository"]["full_name"]
    git = GitRepo.init(tmp_path / "hello")
    git.commit(STARTER, "starter")
    git.commit({"app/x.py": "import sys\n"}, "work", branch=payload["pull_request"]["head"]["ref"])
    git.checkout("main")
    fake_github.add_repo(name, git, installation_id=payload["installation"]["id"])
    fake_github.add_pull(name, payload["number"], head_ref=payload["pull_request"]["head"]["ref"])
    payload["pull_request"]["head"]["sha"] = git.rev(payload["pull_request"]["head"]["ref"])
    payload["pull_request"]["base"]["sha"] = git.rev("main")
    assert (await harness.deliver("pull_request", payload)).status_code == 202
    await harness.settle()
    [run] = fake_github.runs_for(name)
    assert run["conclusion"] == "neutral"
    assert [a["path"] for a in run["annotations"]] == ["app/x.py"]
    assert len(fake_github.comments_on(name, payload["number"])) == 1


@pytest.mark.contract
@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("push", "tag-deleted.with-installation"),
        ("pull_request", "closed"),
        ("installation", "created"),
        ("installation_repositories", "added"),
        ("check_run", "requested_action"),
        ("issue_comment", "created.with-installation"),
    ],
)
async def test_published_payloads_without_work_touch_nothing(
    harness: Harness, fake_github: FakeGitHub, event: str, name: str
) -> None:
    response = await harness.deliver(event, published(event, name))
    assert response.status_code in (200, 202)
    await harness.settle()
    assert fake_github.requests == []
