"""How an attempt ends when it has no review to publish: the check run gets a conclusion and a
sentence a person understands, and nothing ever downgrades a check run already completed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.github.api import GitHubClient
from app.github.publish import create_completed_check_run, fail_check_run
from app.jobs.failures import EXPECTED_FAILURES
from app.jobs.models import ReviewJob
from app.render import failure_output

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ending:
    """A check-run conclusion with its title and summary."""

    conclusion: str
    title: str
    summary: str
    create: bool = True  # post a completed check run when none was started


def superseded(newer: str) -> Ending:
    return Ending(
        conclusion="cancelled",
        title="Superseded by a newer commit",
        summary=(
            f"A newer commit ({newer[:7]}) arrived while this one was being reviewed; "
            "only the newest commit is reviewed."
        ),
        create=False,  # nothing was posted for this head yet: leave it so
    )


def config_problem(sentence: str) -> Ending:
    return Ending(
        conclusion="action_required",
        title="The assignment configuration needs fixing",
        summary=(
            f"{sentence}\n\nThis submission was not reviewed. An organisation admin can fix "
            "the file in the organisation's `.github` repository, then use **Re-run** on "
            "this check."
        ),
    )


def failed(sentence: str) -> Ending:
    title, summary = failure_output(sentence)
    return Ending(conclusion="neutral", title=title, summary=summary)


def gave_up(attempts: int, last_error: str | None) -> str:
    sentence = (
        f"Relo Review gave up on this commit after {attempts} attempts: none of them finished "
        "(the worker stopped or lost its lease each time)."
    )
    if last_error:
        sentence += f" The last attempt reported: {last_error.rstrip('.')}."
    return sentence


async def conclude(
    gh: GitHubClient,
    job: ReviewJob,
    check_run_id: int | None,
    ending: Ending,
    *,
    check_run_name: str,
) -> None:
    """End the check run with `ending`; with `ending.create`, post a completed one when work
    never started, so the reason is visible on the commit. GitHub failing here is logged: the
    ledger still records why."""
    try:
        if check_run_id is not None:
            await fail_check_run(
                gh, job.repo, check_run_id,
                conclusion=ending.conclusion, title=ending.title, summary=ending.summary,
            )
        elif ending.create and job.head_sha:
            await create_completed_check_run(
                gh, job.repo, job.head_sha,
                name=check_run_name, external_id=job.external_id,
                conclusion=ending.conclusion, title=ending.title, summary=ending.summary,
            )
    except EXPECTED_FAILURES:
        log.exception("could not conclude the check run of %s at %s", job.repo, job.head_sha[:7])
