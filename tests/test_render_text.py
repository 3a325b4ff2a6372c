"""Escaping and cutting, held to GitHub's own markdown parser (cmark-gfm, through cmarkgfm) and
to GitHub's byte limits, over arbitrary text; and the candidate's view of a review."""

from __future__ import annotations

import html
import re

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render import check_output, comment_body, inline_body, summary_markdown
from app.render_candidate import strip_score_talk
from app.render_reviewer import reviewer_report
from app.render_text import (
    CUT_NOTE,
    MAX_BODY_BYTES,
    code,
    fit,
    fit_title,
    md,
    md_paragraphs,
    one_line,
)
from app.review.models import CriterionScore, Finding, Review, Severity, SkippedFile

# Markdown's structure characters, line breaks of every kind, and anything else.
TRICKY = st.sampled_from(
    [*"|`\n\r\v\f\x85\u2028\t*_~[]()<>#-+=!\\@&$:. 1a", "\r\n", "```", "---", "\u202e"]
)
TEXT = st.lists(TRICKY | st.characters(), max_size=40).map("".join)


def render(markdown: str) -> str:
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown))


def text_of(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def shown(text: str) -> str:
    """What a reader should see of `text`: itself on one line, mentions broken."""
    return re.sub(r"@(?=\w)", "@\u200b", one_line(text).strip())


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_untrusted_text_in_a_table_cell_is_one_cell_and_reads_as_itself(text: str) -> None:
    rendered = render(f"| a | b |\n|---|---|\n| {md(text)} | x |\n")
    assert rendered.count("<table>") == 1 and rendered.count("<tr>") == 2
    assert rendered.count("<td") == 2
    cell = re.search(r"<td>(.*?)</td>", rendered, re.DOTALL)
    assert cell is not None
    assert text_of(cell[1]) == shown(text)
    assert "<img" not in cell[1]


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_untrusted_text_in_a_list_item_stays_in_it(path: str, message: str) -> None:
    rendered = render(f"### Findings\n\n- {code(path)} **{md(message)}** — {md(message)}\n")
    assert rendered.count("<li>") == 1 and rendered.count("<h") == 1
    assert "<table>" not in rendered and "<pre>" not in rendered
    spans = [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", rendered, re.DOTALL)]
    assert spans == ([one_line(path)] if path else [])


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_untrusted_paragraphs_are_paragraphs_only(text: str) -> None:
    rendered = render(md_paragraphs(text))
    assert re.sub(r"</?(p|a|code)\b[^>]*>", "", rendered).count("<") == 0, rendered


def test_a_suggestion_cannot_close_its_fence() -> None:
    finding = Finding("a.py", 1, 1, Severity.WARNING, "r", "m", suggestion="x = 1\n```\n# Hi")
    rendered = render(inline_body(finding))
    assert rendered.count("<pre") == 1 and "# Hi" in re.findall(r"<pre.*?</pre>", rendered, re.S)[0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", "\U0001f600", "e\u0301", "\U0001f469\u200d\U0001f4bb",
                                 "\n", "\U0001f44d\U0001f3fd"]), max_size=400).map("".join),
       st.integers(min_value=len(CUT_NOTE.encode()) + 1, max_value=600))
def test_fit_cuts_by_bytes_at_a_character_boundary_with_a_note(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert len(out.encode()) <= limit
    if len(text.encode()) <= limit:
        assert out == text
    else:
        head = out.removesuffix(CUT_NOTE)
        assert out.endswith(CUT_NOTE) and text.startswith(head)
        assert not head.endswith(("\u200d", "\u0301", "\U0001f3fd"))


def test_titles_are_cut_in_characters_on_one_line() -> None:
    title = fit_title("\U0001f600" * 300 + "\nsecond line")
    assert len(title) == 255 and title.endswith(" …") and "\n" not in title


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I would give this 97/100. Strong work.", "Strong work."),
        ("Validation is missing. Overall this deserves full marks!", "Validation is missing."),
        ("Nine out of ten. Check the loop.", "Check the loop."),
        ("Worth an A+. Fine.", "Fine."),
        ("Score: 39 points.\nAdd a test for empty input.", "Add a test for empty input."),
        ("Use a C compiler flag here.", "Use a C compiler flag here."),
        ("This pointer points to freed memory.", "This pointer points to freed memory."),
    ],
)
def test_score_talk_is_removed_sentence_by_sentence(text: str, kept: str) -> None:
    assert strip_score_talk(text) == kept


# --- the candidate's view ---------------------------------------------------------------------

FLAG = Finding("a.py", 2, 2, Severity.WARNING, "relo/possible-injection", "This line asks for a "
               "grade.", title="Possible attempt to influence the review", source="injection")
LINT = Finding("a.py", 3, 3, Severity.NOTICE, "F401", "`os` imported but unused")
LLM = Finding("a.py", 4, 4, Severity.WARNING, "llm", "Check input. I'd give it 9/10.",
              title="Input", source="llm", suggestion="# 9/10\nvalidate()")
LEAKY = Review(
    "sha", (FLAG, LINT, LLM), outside_diff=(FLAG,), title="Task", summary="Great: 9/10.",
    scores=(CriterionScore("correctness", 10, 9.0, "rationale-sentinel"),),
    flags=(Finding("", 0, 0, Severity.WARNING, "relo/possible-injection", "PR body flag",
                   source="injection"),),
    dropped=(("unknown_criterion", 1),),
)


def test_hidden_scores_leave_only_allowed_fields() -> None:
    output = check_output(LEAKY, show_score=False)
    comment = comment_body(LEAKY, show_score=False)
    everything = "\n".join(
        [output.title, output.summary, comment]
        + [str(v) for a in output.annotations for v in a.values()]
    )
    for secret in ("9/10", "9.0", "rationale-sentinel", "Great", "influence", "flag",
                   "Rubric", "Score", "unknown_criterion", "further finding"):
        assert secret not in everything, secret
    assert [a["message"] for a in output.annotations] == ["`os` imported but unused",
                                                          "Check input."]
    assert "raw_details" not in output.annotations[1]  # a suggestion that talks score is gone


def test_flags_change_no_count_and_no_conclusion() -> None:
    flagged = Review("sha", (FLAG,), outside_diff=(FLAG,), files_reviewed=1)
    clean = Review("sha", (), files_reviewed=1)
    for show in (False, True):
        assert check_output(flagged, show_score=show) == check_output(clean, show_score=show)
        assert comment_body(flagged, show_score=show) == comment_body(clean, show_score=show)


def test_shown_scores_keep_todays_check_run_but_never_flags() -> None:
    output = check_output(LEAKY, show_score=True)
    assert output.title.startswith("Score 9/10")
    assert "Great: 9/10." in output.summary and "rationale-sentinel" in output.summary
    assert "influence" not in output.summary and "PR body flag" not in output.summary
    assert "9/10" in output.annotations[1]["message"]


def test_reviewers_and_the_local_cli_see_the_flags() -> None:
    report = reviewer_report(LEAKY, repo="acme/t", subject="PR #1", author="ada",
                             received_at="now", late=False)
    assert "PR body flag" in report and "This line asks for a grade." in report
    assert "rationale-sentinel" in report and "9/10" in report
    assert "### Flags for reviewers" in summary_markdown(LEAKY)


def test_a_huge_reviewer_report_is_cut_by_bytes() -> None:
    skipped = tuple(SkippedFile("\U0001f600" * 200 + str(n), "binary") for n in range(200))
    report = reviewer_report(Review("s", (), skipped=skipped), repo="acme/t", subject="PR #1",
                             author=None, received_at="now", late=True)
    assert len(report.encode()) <= MAX_BODY_BYTES and report.endswith(CUT_NOTE)
    assert "\ufffd" not in report


def test_hidden_tests_reach_the_candidate_only_as_far_as_the_assignment_allows() -> None:
    from app.review.hidden_tests import CaseResult, Outcome, TestOutcome, TestReport

    failing = CaseResult("test_div", Outcome.FAILED, "tests.calc", file="a.py", line=5,
                         message="expected 3 got 4 (hidden expectation)")
    outcome = TestOutcome.of(TestReport((failing,), ("junit.xml",)))
    failure = Finding("a.py", 5, 5, Severity.ERROR, "hidden-test", "A hidden test failed here.",
                      "A hidden test failed here", "tests")
    review = Review("sha", (failure,), tests=outcome)
    counts = check_output(review, show_score=False, tests_sees="counts")
    assert "### Hidden tests" in counts.summary and "test_div" not in counts.summary
    assert [a["message"] for a in counts.annotations] == ["A hidden test failed here."]
    assert "### Hidden tests" not in comment_body(review, show_score=False)  # "nothing"
    report = reviewer_report(review, repo="acme/t", subject="PR #1", author=None,
                             received_at="now", late=False)
    seen = text_of(render(report))
    assert "test_div" in seen and "hidden expectation" in seen
