"""Who may start work that costs the organisation or moves a grade.

Reviewers are who the organisation says they are: users and teams named in the assignment's
`reviewers`, and the organisation's owners. Write or admin access to the repository proves
nothing (candidates have it to their own assignment repository), and the PR's author or the
submission's committers are never reviewers of it, whatever else they are.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from urllib.parse import quote

from gidgethub import BadRequest

from app.github.api import GitHubClient
from app.review.assignment import Assignment

log = logging.getLogger(__name__)

NOT_MEMBER = frozenset({404})  # GitHub's answer for "not a member" (or a hidden team)


async def is_reviewer(
    gh: GitHubClient,
    assignment: Assignment,
    *,
    org: str,
    login: str | None,
    candidates: Collection[str] = (),
) -> bool:
    """True when `login` is a reviewer of this assignment and not one of its `candidates`."""
    if not login:
        return False
    who = login.lower()
    if who in {c.lower() for c in candidates}:
        return False
    rules = assignment.reviewers
    if who in {u.lower() for u in rules.users}:
        return True
    user = quote(login, safe="")
    for team in rules.teams:
        membership = await _membership(
            gh, f"/orgs/{quote(org, safe='')}/teams/{quote(team, safe='')}/memberships/{user}"
        )
        if membership is not None and membership.get("state") == "active":
            return True
    if rules.org_owners:
        membership = await _membership(gh, f"/orgs/{quote(org, safe='')}/memberships/{user}")
        if (
            membership is not None
            and membership.get("state") == "active"
            and membership.get("role") == "admin"
        ):
            return True
    return False


async def _membership(gh: GitHubClient, url: str) -> dict[str, object] | None:
    """The membership, or None when there is none. A 403 (the installation lacks the
    organisation's "Members: read" permission) counts as none, and is logged for the admin."""
    try:
        data = await gh.getitem(url)
    except BadRequest as exc:
        status = int(exc.status_code)
        if status in NOT_MEMBER:
            return None
        if status == 403:
            log.warning(
                "cannot read organisation memberships (%s): grant the app the organisation "
                "permission 'Members: read' so reviewers can be recognised", exc,
            )
            return None
        raise
    return data if isinstance(data, dict) else None
