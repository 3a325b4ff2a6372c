"""The assignment's `reviewers` block: who may ask for a fresh grade."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr

from app.review.config_model import ConfigModel


def _login(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", value):
        raise ValueError(f"should be a GitHub login, got {value!r}")
    return value


def _team(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
        raise ValueError(f"should be a team slug of the organisation, got {value!r}")
    return value


class Reviewers(ConfigModel):
    """Who may ask for a fresh grade (`/review`, Re-run): never the candidate, whatever their
    access to the repository, since GitHub Classroom and templates give candidates write or
    admin access to their own assignment repository."""

    teams: tuple[Annotated[StrictStr, AfterValidator(_team)], ...] = ()
    users: tuple[Annotated[StrictStr, AfterValidator(_login)], ...] = ()
    org_owners: StrictBool = True
    reruns_per_hour: Annotated[StrictInt, Field(ge=0, le=100)] = 6
