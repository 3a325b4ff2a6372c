"""Line numbers are git's: a line ends at "\\n" and nowhere else.

`str.splitlines()` also breaks at \\f, \\v, \\x1c-\\x1e, \\x85 and U+2028/9, so a form feed on an
early line used to shift every later number the LLM saw by one, and its findings landed on the
wrong lines. Real git makes the diff and says where each line is (`git grep -n`); the review's
prompt, the LLM's anchored finding and the static findings must all agree with it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.github.change import build_change
from app.review.assignment import DEFAULT_ASSIGNMENT
from app.review.engine import ReviewPlan, review_submission
from app.review.llm import LLMReviewer
from app.review.models import Change, ChangedFile, Criterion, Review, Submission
from app.review.static import StaticReviewer
from tests.fakes.github_git import diff
from tests.fakes.gitrepo import GitRepo
from tests.fakes.llm import FakeLLM, Json, ScriptedReply, answer, message_text

# Every character Python's str.splitlines() breaks at besides "\n" and "\r", on early lines.
SOLUTION = (
    '"""Shortener.\f"""\n'  # a form feed, as old editors put between pages
    'VERTICAL = "\v"\n'
    'NEXT_LINE = "\x85"\n'
    'SEPARATORS = "\u2028\u2029"\n'
    'GROUPS = "\x1c\x1d\x1e"\n'
    "import os\n"  # unused: ruff reports F401
    'token = "Zx81kQ9vLm2Pq7RtAbW3"\n'  # a committed secret
    "\n"
    "\n"
    "def shorten(url):\n"
    '    return url[:8]  # CITE_ME\n'
)
NOTES = "page one\f\nsecond\u2028page\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> other\n"
_NUMBERED = re.compile(r"^\s*(\d+) [+ ](?: (.*))?$")


def git_line(repo: GitRepo, rev: str, needle: str, path: str) -> int:
    """Where git says `needle` is: `git grep -n` counts lines the way git does everywhere."""
    out = repo.git("grep", "-n", "--fixed-strings", needle, rev, "--", path)
    (hit,) = out.strip().split("\n")
    return int(hit.split(":")[2])


def cite_marker(request: Json) -> ScriptedReply:
    """A model that finds the marked line in the prompt and cites the number printed before it."""
    number = next(
        int(m[1])
        for line in message_text(request, "user").split("\n")
        if (m := _NUMBERED.match(line)) and "CITE_ME" in (m[2] or "")
    )
    body = answer(request, path="app/solution.py", line=number)
    return ScriptedReply(content=json.dumps(body))


def prompt_lines(request: Json, path: str) -> dict[int, str]:
    """number -> text of every numbered line the prompt shows for `path`."""
    shown: dict[int, str] = {}
    current = None
    for line in message_text(request, "user").split("\n"):
        if line.startswith("=== FILE "):
            current = line.split(" ")[2]
        elif current == path and (m := _NUMBERED.match(line)):
            shown[int(m[1])] = m[2] or ""
    return shown


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo.init(tmp_path / "repo")
    git.commit({"README.md": "# Task\n"}, "starter")
    git.commit({"app/solution.py": SOLUTION, "notes.md": NOTES}, "candidate work")
    return git


async def review(repo: GitRepo, fake: FakeLLM) -> tuple[Review, Submission]:
    base, head = repo.rev("HEAD~1"), repo.rev("HEAD")
    entries = [
        {"filename": f.filename, "status": f.status, "patch": f.patch,
         "additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions}
        for f in diff(repo, base, head)
    ]  # fmt: skip
    change = build_change(base, head, entries)
    contents = {f.path: repo.git_bytes("show", f"{head}:{f.path}") for f in change.files}
    submission = Submission("acme/task", change, contents)
    client = fake.client(max_retries=0)
    try:
        llm = LLMReviewer(client, "gpt-4o-mini", (Criterion("c", "Correct", 4),), "Shorten URLs.")
        plan = ReviewPlan(DEFAULT_ASSIGNMENT, (StaticReviewer(),), llm, "gpt-4o-mini")
        return await review_submission(submission, plan), submission
    finally:
        await client.close()


async def test_prompt_numbers_are_gits(repo: GitRepo) -> None:
    fake = FakeLLM()
    fake.script(cite_marker)
    await review(repo, fake)
    (request,) = fake.requests
    shown = prompt_lines(request, "app/solution.py")
    lines = SOLUTION.split("\n")[:-1]
    assert shown == {n: text.rstrip() for n, text in enumerate(lines, start=1)}
    assert shown[git_line(repo, "HEAD", "CITE_ME", "app/solution.py")].endswith("# CITE_ME")


async def test_findings_land_on_gits_lines(repo: GitRepo) -> None:
    fake = FakeLLM()
    fake.script(cite_marker)
    result, _ = await review(repo, fake)
    found = {(f.rule, f.path, f.start_line) for f in result.findings}
    solution = "app/solution.py"
    assert ("llm", solution, git_line(repo, "HEAD", "CITE_ME", solution)) in found
    assert ("F401", solution, git_line(repo, "HEAD", "import os", solution)) in found
    assert ("relo/secret", solution, git_line(repo, "HEAD", "token =", solution)) in found
    markers = {f.start_line for f in result.findings if f.rule == "relo/conflict-marker"}
    assert markers == {git_line(repo, "HEAD", m, "notes.md") for m in ("<<<", "===", ">>>")}


async def test_content_without_a_patch_is_numbered_like_git(repo: GitRepo) -> None:
    """GitHub leaves out the patch of a large file; the prompt then numbers the content."""
    fake = FakeLLM()
    fake.script(cite_marker)
    head = repo.rev("HEAD")
    content = repo.git_bytes("show", f"{head}:app/solution.py")
    cite = git_line(repo, "HEAD", "CITE_ME", "app/solution.py")
    changed = ChangedFile("app/solution.py", "added", frozenset({cite}), None, 1)
    submission = Submission(
        "acme/task", Change("base", head, (changed,)), {"app/solution.py": content}
    )
    client = fake.client(max_retries=0)
    try:
        llm = LLMReviewer(client, "gpt-4o-mini", (), "Shorten URLs.")
        assessment = await llm.assess(submission)
    finally:
        await client.close()
    assert [(f.path, f.start_line) for f in assessment.findings] == [("app/solution.py", cite)]
    shown = prompt_lines(fake.requests[0], "app/solution.py")
    assert shown[cite].endswith("# CITE_ME")
