"""The commit history's signals: observations with evidence, each switchable, escaped for the
reviewers' issue; and the one paged commits list they are read from (the fake GitHub)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from pydantic import ValidationError

from app.github.api import GitHubClient
from app.github.history import fetch_history, repo_created_at
from app.review.history import (
    CommitFact,
    HistoryFacts,
    history_notes,
    history_signals,
    render_history,
    signals_from_json,
    signals_json,
)
from app.review.history_config import HistorySettings
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ON = HistorySettings()


def commit(sha: str, minutes: int, **kw: object) -> CommitFact:
    at = T0 + timedelta(minutes=minutes)
    base: dict[str, object] = {
        "message": f"work {sha}", "author_name": "Ada", "author_email": "ada@example.test",
        "author_login": "ada", "authored_at": at, "committer_name": "Ada",
        "committer_email": "ada@example.test", "committer_login": "ada", "committed_at": at,
    }
    return CommitFact(sha=sha * 40, **{**base, **kw})  # type: ignore[arg-type]


def facts(*commits: CommitFact, **kw: object) -> HistoryFacts:
    """Commits given oldest first, stored newest first like GitHub's list."""
    values: dict[str, object] = {"submitter": "ada", "repo_created_at": T0 - timedelta(days=1)}
    return HistoryFacts(commits=tuple(reversed(commits)), **{**values, **kw})  # type: ignore[arg-type]


def kinds(f: HistoryFacts, settings: HistorySettings = ON) -> list[str]:
    return [s.kind for s in history_signals(f, settings)]


USUAL = facts(commit("a", 0), commit("b", 90), commit("c", 200))


def test_an_ordinary_history_has_no_signals() -> None:
    assert kinds(USUAL) == []
    assert "Nothing unusual" in render_history(history_signals(USUAL, ON))


def test_the_whole_solution_in_one_commit() -> None:
    (signal,) = history_signals(facts(commit("a", 0)), ON)
    assert signal.kind == "one_commit"
    assert signal.evidence[0].sha == "a" * 40
    # A list cut before the base may hide earlier commits: no claim then.
    assert kinds(facts(commit("a", 0), complete=False)) == []


def test_commits_dated_before_the_repository_existed() -> None:
    created = T0 + timedelta(minutes=60)
    f = facts(commit("a", 0), commit("b", 55), commit("c", 120), repo_created_at=created)
    (signal,) = history_signals(f, ON)  # b is within the 10 minutes of clock skew
    assert signal.kind == "before_repository"
    assert [e.sha for e in signal.evidence] == ["a" * 40]
    assert "1 h 0 min early" in signal.evidence[0].detail
    assert signal.summary.startswith("1 of 3 commits carry dates before")
    no_time = facts(commit("a", 0), commit("b", 60), repo_created_at=None)
    assert kinds(no_time) == []
    assert any("creation time is unknown" in n for n in history_notes(no_time, ON))


def test_a_force_push_and_a_late_delivery_are_stated_from_githubs_facts() -> None:
    deadline = T0 + timedelta(hours=3)
    f = replace(USUAL, forced=True, forced_from="f" * 40, deadline=deadline,
                delivered_at=deadline + timedelta(hours=26, minutes=5))
    force, late = history_signals(f, ON)
    assert (force.kind, force.evidence[0].sha) == ("force_push", "f" * 40)
    assert late.kind == "after_deadline"
    assert "1 d 2 h 5 min after the deadline" in late.summary
    on_time = replace(f, delivered_at=deadline)
    assert kinds(on_time) == ["force_push"]


def test_authors_and_emails_other_than_the_submitter() -> None:
    f = facts(
        commit("a", 0),
        commit("b", 60, author_login="bob", author_name="Bob", author_email="bob@x.test"),
        commit("c", 120, author_login=None, author_email="ghost@elsewhere.test",
               author_name="Ghost"),
        commit("d", 180, committer_login="web-flow", committer_name="GitHub"),  # a web edit
        commit("e", 240, author_login="dependabot[bot]"),
    )
    (signal,) = history_signals(f, ON)
    assert signal.kind == "other_authors"
    assert signal.summary.startswith("2 of 5 commits")
    assert [(e.who, e.detail) for e in signal.evidence] == [
        ("@bob", "another GitHub account: author of bbbbbbb"),
        ("Ghost <ghost@elsewhere.test>",
         "an e-mail linked to no GitHub account: author of ccccccc"),
    ]
    assert kinds(replace(f, submitter="ADA")) == ["other_authors"]  # logins ignore case
    assert kinds(replace(f, submitter=None)) == []


def test_large_additions_in_little_time_need_line_counts() -> None:
    f = facts(commit("a", 0, additions=10), commit("b", 4, additions=1500),
              commit("c", 300, additions=5000))  # c: large, but hours later
    (signal,) = history_signals(f, ON)
    assert signal.kind == "large_additions"
    assert [e.sha for e in signal.evidence] == ["b" * 40]
    assert "1500 lines added 4 min after the previous commit" in signal.evidence[0].detail
    assert history_notes(f, ON) == ()
    assert any("no line counts" in n for n in history_notes(USUAL, ON))


def test_each_signal_can_be_switched_off() -> None:
    deadline = T0
    f = facts(
        commit("a", 0, author_login="bob", additions=5000),
        repo_created_at=T0 + timedelta(days=1), forced=True, deadline=deadline,
        delivered_at=deadline + timedelta(hours=1),
    )
    f = replace(f, commits=(commit("b", 2, additions=5000), *f.commits))
    every = kinds(f)
    assert every == ["before_repository", "force_push", "after_deadline", "other_authors",
                     "large_additions"]
    for kind in every:
        assert kind not in kinds(f, HistorySettings.model_validate({kind: False}))
    single = facts(commit("a", 0))
    assert kinds(single, HistorySettings(one_commit=False)) == []
    off = HistorySettings.model_validate(dict.fromkeys(
        ["one_commit", "before_repository", "force_push", "after_deadline", "other_authors",
         "large_additions"], False))
    assert kinds(f, off) == [] and history_notes(USUAL, off) == ()


def test_the_config_block_is_strict() -> None:
    with pytest.raises(ValidationError):
        HistorySettings.model_validate({"one_comit": False})
    with pytest.raises(ValidationError):
        HistorySettings.model_validate({"force_push": "no"})


def test_candidate_text_is_escaped_in_the_reviewers_issue() -> None:
    hostile = commit(
        "a", 0, message="| ok | @reviewers <img src=x>\n# Score: 10/10",
        author_login=None, author_name="*Mallory* [x](http://evil)", author_email="m@x.test",
    )
    signals = history_signals(facts(hostile), ON)
    text = render_history(signals)
    assert [s.kind for s in signals] == ["one_commit", "other_authors"]
    assert "observations" in text.lower()
    assert re.search(r"(?<!\\)<img", text) is None and "\\<img" in text
    assert "@reviewers" not in text  # no mention pings anyone
    assert "[x](http" not in text and "\\*Mallory\\*" in text
    assert "Score" not in text  # the subject line only
    assert "\n|" not in text and "\\| ok \\|" in text


def test_evidence_is_bounded_however_much_the_candidate_writes() -> None:
    noisy = [commit(f"{i:x}", i, author_login=None, author_name="N" * 5000,
                    author_email=f"{i}@x.test", message="M" * 5000) for i in range(40)]
    f = facts(*noisy, repo_created_at=T0 + timedelta(days=1))
    text = render_history(history_signals(f, ON))
    assert len(text) < 2 * 11 * 2 * 300
    assert "and 30 more" in text


def test_signals_round_trip_through_the_ledger_json() -> None:
    f = facts(commit("a", 0, author_login="bob"), forced=True)
    signals, notes = history_signals(f, ON), history_notes(f, ON)
    assert signals_from_json(signals_json(signals, notes)) == (signals, notes)
    assert signals_from_json(None) == ((), ())


# --- the commits list on the fake GitHub ----------------------------------------------------


@pytest.fixture
def gh(fake_github: FakeGitHub, github_http: httpx2.AsyncClient) -> GitHubClient:
    return GitHubClient(github_http, base_url=fake_github.base_url,
                        oauth_token=fake_github.issue_token(1))


async def test_fetch_pages_back_to_the_base_and_no_further(
    gh: GitHubClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    base = git.rev("HEAD")
    shas = [git.commit({f"f{i}.py": f"x = {i}\n"}, f"step {i}") for i in range(105)]
    for i in range(3):  # history after the head is not the submission's
        git.commit({"later.py": f"y = {i}\n"}, "later")

    history = await fetch_history(gh, REPO, base, shas[-1])

    assert history.complete
    assert [c.sha for c in history.commits] == shas[::-1]
    newest = history.commits[0]
    assert (newest.message, newest.author_email) == ("step 104", "ada@example.test")
    assert newest.authored_at is not None and newest.authored_at.tzinfo is not None
    assert newest.additions is None  # the list carries no stats
    listed = [r for r in fake_github.requests if r.path == f"/repos/{REPO}/commits"]
    assert len(listed) == 2  # 105 commits: two pages of 100, then it stopped at the base

    cut = await fetch_history(gh, REPO, base, shas[-1], max_commits=10)
    assert not cut.complete and len(cut.commits) == 10
    assert (await fetch_history(gh, REPO, base, base)).commits == ()


async def test_repo_created_at_is_githubs(gh: GitHubClient, fake_github: FakeGitHub,
                                          tmp_path: Path) -> None:
    make_repo(tmp_path, fake_github)
    assert await repo_created_at(gh, REPO) == datetime(2023, 11, 14, 22, 0, tzinfo=UTC)
