"""What reviewers and candidates read: titles, conclusions, batches of 50, GitHub's size caps."""

from __future__ import annotations

from app.render import COMMENT_MARKER, check_output, comment_body
from app.render_text import MAX_BODY_BYTES
from app.review.models import (
    Change,
    ChangedFile,
    CriterionScore,
    Finding,
    Review,
    Severity,
    SkippedFile,
)
from app.review.pipeline import anchor, merge_findings


def finding(
    line: int, severity: Severity = Severity.WARNING, path: str = "a.py", rule: str = "F401"
) -> Finding:
    return Finding(path, line, line, severity, rule, f"message {line}")


def test_conclusions_follow_the_worst_finding() -> None:
    def conclusion(*findings: Finding) -> str:
        return check_output(Review("s", findings)).conclusion

    assert conclusion() == "success"
    assert conclusion(finding(1, Severity.NOTICE)) == "neutral"
    assert conclusion(finding(1), finding(2, Severity.ERROR)) == "failure"


def test_annotations_go_in_batches_of_fifty() -> None:
    output = check_output(Review("s", tuple(finding(i) for i in range(1, 121))))
    assert [len(b) for b in output.batches()] == [50, 50, 20]
    assert output.title == "120 warnings"
    first = output.annotations[0]
    assert first == {
        "path": "a.py",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "warning",
        "message": "message 1",
        "title": "F401",
    }
    assert list(check_output(Review("s", ())).batches()) == [()]


def test_error_maps_to_failure_level() -> None:
    [entry] = check_output(Review("s", (finding(3, Severity.ERROR),))).annotations
    assert entry["annotation_level"] == "failure"


def test_long_output_is_cut_with_a_note() -> None:
    many = tuple(Finding("a.py", i, i, Severity.NOTICE, "x", "m" * 3000) for i in range(1, 40))
    skipped = tuple(SkippedFile("f" * 900 + str(i), "binary") for i in range(100))
    output = check_output(Review("s", many, skipped=skipped))
    assert len(output.summary.encode()) <= MAX_BODY_BYTES
    assert output.summary.endswith("longer than GitHub allows)")
    body = comment_body(Review("s", many, skipped=skipped), show_score=True)
    assert body.startswith(COMMENT_MARKER) and len(body.encode()) <= MAX_BODY_BYTES


def test_summary_lists_skipped_files_and_outside_counts() -> None:
    review = Review(
        "s",
        (finding(2),),
        outside_diff=(finding(40),),
        skipped=(SkippedFile("logo.png", "binary"),),
        files_reviewed=1,
    )
    summary = check_output(review).summary
    assert "`logo.png` — binary" in summary
    assert "1 further finding on lines this submission did not change" in summary


def test_rubric_table_and_hidden_score_for_candidates() -> None:
    review = Review(
        "s",
        (),
        scores=(
            CriterionScore("correctness", 40, 31.0, "Mostly right | edge cases missed"),
            CriterionScore("tests", 30, None),
        ),
    )
    output = check_output(review)
    # A criterion not assessed is not a zero: it counts in neither the score nor the points.
    assert output.title.startswith("Score 31/40, 1 not assessed")
    assert "| **Total** (assessed criteria) | **40** | **31** |" in output.summary
    assert "| correctness | 40 | 31 | Mostly right \\| edge cases missed |" in output.summary
    assert "| tests | 30 | not assessed |" in output.summary
    assert "Rubric" not in comment_body(review, show_score=False)


def test_a_rubric_nobody_assessed_has_no_total() -> None:
    review = Review("s", (), scores=(CriterionScore("tests", 30, None),))
    assert review.total is None
    output = check_output(review)
    assert output.title.startswith("Rubric not assessed")
    assert "| **Total** | | not assessed |" in output.summary


def test_anchor_keeps_only_changed_lines_and_narrows_ranges() -> None:
    change = Change("b", "h", (ChangedFile("a.py", "modified", frozenset({5, 6, 7})),))
    on, off = anchor(
        [
            finding(5),
            finding(9),
            Finding("a.py", 1, 6, Severity.NOTICE, "r", "m"),
            finding(5, path="other.py"),
            Finding("a.py", 0, 0, Severity.NOTICE, "r", "m"),
        ],
        change,
    )
    assert [(f.start_line, f.end_line) for f in on] == [(5, 5), (5, 6)]
    assert len(off) == 3


def test_merge_collapses_duplicates_keeping_the_most_severe() -> None:
    merged = merge_findings(
        [finding(3, Severity.NOTICE)], [finding(3, Severity.ERROR)], [finding(4)]
    )
    assert [(f.start_line, f.severity) for f in merged] == [
        (3, Severity.ERROR),
        (4, Severity.WARNING),
    ]
