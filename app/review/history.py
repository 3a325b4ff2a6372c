"""What a submission's commit history says, for reviewers only. Pure.

Each signal is an observation with its evidence (commits, times, identities), never a verdict:
a single commit may be a careful squash, a foreign e-mail a work laptop. Dates and names in
commits are whatever the candidate's git said, so they are shown as candidate text (escaped),
while the facts GitHub itself records (repository creation, delivery time, force-push) are
stated plainly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from app.render_text import code, md
from app.review.history_config import HistorySettings

MAX_EVIDENCE = 10  # per signal; the rest is counted
MAX_TEXT = 200  # characters of one candidate string (a subject line, a name and e-mail)
_BOT_LOGINS = frozenset({"web-flow"})  # GitHub's own committer for web edits and merges


@dataclass(frozen=True, slots=True)
class CommitFact:
    """One commit as the commits list describes it. Names, e-mails, dates and the message come
    from the candidate's git; logins are GitHub's (None: the e-mail is linked to no account)."""

    sha: str
    message: str = ""
    author_name: str = ""
    author_email: str = ""
    author_login: str | None = None
    authored_at: datetime | None = None
    committer_name: str = ""
    committer_email: str = ""
    committer_login: str | None = None
    committed_at: datetime | None = None
    parents: int = 1
    additions: int | None = None  # only when the source carries per-commit stats


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """What the job layer knows about a submission when it asks what its history says."""

    commits: tuple[CommitFact, ...]  # the submission's commits (base excluded), newest first
    submitter: str | None = None  # the login that pushed or opened the PR
    repo_created_at: datetime | None = None
    forced: bool = False  # the push event's `forced`
    forced_from: str | None = None  # the push event's `before`: the head that was replaced
    delivered_at: datetime | None = None
    deadline: datetime | None = None
    complete: bool = True  # False: the list was cut before reaching the base


@dataclass(frozen=True, slots=True)
class Evidence:
    detail: str  # our own words and numbers
    sha: str | None = None
    who: str | None = None  # candidate text: a name, an e-mail or a login
    message: str | None = None  # candidate text: a commit's first line


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str  # one_commit | before_repository | force_push | after_deadline | ...
    summary: str  # our own words: no candidate text
    evidence: tuple[Evidence, ...] = ()


def _subject(message: str) -> str:
    return message.split("\n", 1)[0][:MAX_TEXT]


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "undated"


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours or days else []
    return " ".join([*parts, f"{minutes} min"])


def _capped(items: list[Evidence]) -> tuple[Evidence, ...]:
    if len(items) <= MAX_EVIDENCE:
        return tuple(items)
    more = Evidence(detail=f"and {len(items) - MAX_EVIDENCE} more")
    return (*items[:MAX_EVIDENCE], more)


def _commit_evidence(c: CommitFact, detail: str) -> Evidence:
    who = f"{c.author_name} <{c.author_email}>" if c.author_email else c.author_name
    return Evidence(detail, sha=c.sha, who=who[:MAX_TEXT] or None, message=_subject(c.message))


def _one_commit(facts: HistoryFacts) -> Signal | None:
    if len(facts.commits) != 1 or not facts.complete:
        return None
    c = facts.commits[0]
    lines = f"; {c.additions} lines added" if c.additions is not None else ""
    return Signal(
        "one_commit",
        "The whole submission arrived in a single commit.",
        (_commit_evidence(c, f"authored {_at(c.authored_at)}{lines}"),),
    )


def _before_repository(facts: HistoryFacts, settings: HistorySettings) -> Signal | None:
    created = facts.repo_created_at
    if created is None:
        return None
    limit = created - timedelta(minutes=settings.clock_skew_minutes)
    early: list[Evidence] = []
    for c in reversed(facts.commits):  # oldest first
        dates = [d for d in (c.authored_at, c.committed_at) if d is not None]
        if dates and min(dates) < limit:
            first = min(dates)
            early.append(_commit_evidence(c, f"dated {_at(first)}, {_span(created - first)} early"))
    if not early:
        return None
    return Signal(
        "before_repository",
        f"{len(early)} of {len(facts.commits)} commits carry dates before the assignment "
        f"repository was created ({_at(created)}).",
        _capped(early),
    )


def _force_push(facts: HistoryFacts) -> Signal | None:
    if not facts.forced:
        return None
    old = facts.forced_from
    replaced = [Evidence("the head it replaced", sha=old)] if old else []
    return Signal(
        "force_push",
        "The push that delivered this head was a force-push: it rewrote earlier history.",
        tuple(replaced),
    )


def _after_deadline(facts: HistoryFacts) -> Signal | None:
    if facts.delivered_at is None or facts.deadline is None:
        return None
    if facts.delivered_at <= facts.deadline:
        return None
    late = facts.delivered_at - facts.deadline
    return Signal(
        "after_deadline",
        f"GitHub delivered this push {_span(late)} after the deadline.",
        (Evidence(f"deadline {_at(facts.deadline)}, delivered {_at(facts.delivered_at)}"),),
    )


def _identities(c: CommitFact) -> list[tuple[str, str | None, str, str]]:
    """(role, login, name, e-mail) of the author, and of the committer when it differs."""
    out = [("author", c.author_login, c.author_name, c.author_email)]
    committer = (c.committer_login, c.committer_name, c.committer_email)
    if committer != (c.author_login, c.author_name, c.author_email):
        out.append(("committer", *committer))
    return out


def _other_authors(facts: HistoryFacts) -> Signal | None:
    if facts.submitter is None or not facts.commits:
        return None
    me = facts.submitter.lower()
    seen: dict[tuple[str | None, str], list[str]] = {}
    others = 0
    for c in reversed(facts.commits):  # oldest first
        foreign = False
        for role, login, name, email in _identities(c):
            if login is not None and (login.lower() == me or login.lower() in _BOT_LOGINS):
                continue
            if login is not None and login.lower().endswith("[bot]"):
                continue
            who = (f"@{login}" if login else f"{name} <{email}>")[:MAX_TEXT]
            seen.setdefault((login, who), []).append(f"{role} of {c.sha[:7]}")
            foreign = True
        others += foreign
    if not seen:
        return None
    evidence = []
    for (login, who), roles in seen.items():
        linked = "another GitHub account" if login else "an e-mail linked to no GitHub account"
        shown = ", ".join(roles[:5]) + (f" and {len(roles) - 5} more" if len(roles) > 5 else "")
        evidence.append(Evidence(f"{linked}: {shown}", who=who))
    return Signal(
        "other_authors",
        f"{others} of {len(facts.commits)} commits name an author or committer other than the "
        "submitting account.",
        _capped(evidence),
    )


def _large_additions(facts: HistoryFacts, settings: HistorySettings) -> Signal | None:
    oldest_first = reversed(facts.commits)
    found: list[Evidence] = []
    window = timedelta(minutes=settings.large_additions_minutes)
    for before, c in pairwise(oldest_first):
        if c.additions is None or c.additions < settings.large_additions_lines:
            continue
        if c.authored_at is None or before.authored_at is None:
            continue
        gap = c.authored_at - before.authored_at
        if timedelta(0) <= gap <= window:
            detail = f"{c.additions} lines added {_span(gap)} after the previous commit"
            found.append(_commit_evidence(c, detail))
    if not found:
        return None
    return Signal(
        "large_additions",
        f"{len(found)} commits added at least {settings.large_additions_lines} lines within "
        f"{settings.large_additions_minutes} minutes of the commit before.",
        _capped(found),
    )


def history_signals(facts: HistoryFacts, settings: HistorySettings) -> tuple[Signal, ...]:
    """The signals the assignment has switched on, in a fixed order; nothing when all is usual."""
    found = (
        _one_commit(facts) if settings.one_commit else None,
        _before_repository(facts, settings) if settings.before_repository else None,
        _force_push(facts) if settings.force_push else None,
        _after_deadline(facts) if settings.after_deadline else None,
        _other_authors(facts) if settings.other_authors else None,
        _large_additions(facts, settings) if settings.large_additions else None,
    )
    return tuple(s for s in found if s is not None)


def history_notes(facts: HistoryFacts, settings: HistorySettings) -> tuple[str, ...]:
    """What could not be checked, so that no signal reads as "checked and clean" when it was not."""
    notes = []
    if not facts.complete:
        notes.append("The commit list was cut before the starter commit: older commits not seen.")
    if settings.before_repository and facts.repo_created_at is None:
        notes.append("Commit dates not compared: the repository's creation time is unknown.")
    if settings.large_additions and any(c.additions is None for c in facts.commits[:-1]):
        notes.append("Large additions not checked: the commit list carries no line counts.")
    return tuple(notes)


def signals_json(signals: Sequence[Signal], notes: Sequence[str] = ()) -> str:
    """The ledger's `reviews.history` column."""
    return json.dumps({"signals": [asdict(s) for s in signals], "notes": list(notes)})


def signals_from_json(text: str | None) -> tuple[tuple[Signal, ...], tuple[str, ...]]:
    """Back from the ledger (for `report`); empty for a review without history or a purged one."""
    data: Any = json.loads(text) if text else {}
    signals = tuple(
        Signal(
            kind=str(s["kind"]),
            summary=str(s["summary"]),
            evidence=tuple(Evidence(**e) for e in s.get("evidence") or ()),
        )
        for s in data.get("signals") or ()
    )
    return signals, tuple(str(n) for n in data.get("notes") or ())


def _evidence_line(e: Evidence) -> str:
    parts = [code(e.sha[:7])] if e.sha else []
    if e.who:
        parts.append(md(e.who))
    if e.message:
        parts.append(f"“{md(e.message)}”")
    parts.append(md(e.detail))
    return "  - " + " · ".join(parts)


def render_history(signals: Sequence[Signal], notes: Sequence[str] = ()) -> str:
    """Markdown for the reviewers' issue: observations to look into, with what they rest on."""
    lines = ["### Commit history", ""]
    if not signals:
        lines.append("Nothing unusual in the commit history.")
    else:
        lines.append("Observations to look into (not conclusions):")
        lines.append("")
        for s in signals:
            lines.append(f"- {md(s.summary)}")
            lines.extend(_evidence_line(e) for e in s.evidence)
    if notes:
        lines.append("")
        lines.extend(f"_{md(n)}_" for n in notes)
    return "\n".join(lines) + "\n"
