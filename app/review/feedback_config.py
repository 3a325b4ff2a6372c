"""The assignment's `feedback` block: where results go."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Feedback(_Frozen):
    """Where results go; the score stays reviewer-only unless the organisation says otherwise."""

    check_run: StrictBool = True
    pr_comment: StrictBool = True
    inline_comments: StrictBool = False
    show_score_to_candidate: StrictBool = False
