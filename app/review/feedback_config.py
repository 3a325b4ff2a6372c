"""The assignment's `feedback` block: where results go."""

from __future__ import annotations

from pydantic import StrictBool

from app.review.config_model import ConfigModel


class Feedback(ConfigModel):
    """Where results go; the score stays reviewer-only unless the organisation says otherwise."""

    check_run: StrictBool = True
    pr_comment: StrictBool = True
    inline_comments: StrictBool = False
    show_score_to_candidate: StrictBool = False
