"""The assignment config: matching, paths, versioning, and errors that name their line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from app.review.assignment import (
    CONFIG_PATH,
    DEFAULT_ASSIGNMENT,
    Assignment,
    AssignmentConfig,
    AssignmentConfigError,
    Baseline,
    Feedback,
    Paths,
    parse_config,
)
from app.review.config_yaml import MAX_CONFIG_BYTES
from app.review.models import Criterion

EXAMPLE = """\
# .github/assignment-review.yml in the organisation's .github repository
assignments:
  - id: backend-take-home
    repos: ["backend-task-*"]          # globs on the repository name
    title: Backend take-home
    brief: |
      Build a URL shortener with an HTTP API ...
    # brief_file: briefs/backend.md    # or a file in this .github repository
    baseline: first-commit             # or a branch name, or a commit SHA
    paths: {include: ["**"], exclude: ["docs/**"]}
    rubric:
      - {id: correctness, description: "The API does what the brief asks", points: 40}
      - {id: code-quality, description: "Readable, idiomatic, well-structured", points: 30}
      - {id: tests, description: "Meaningful automated tests", points: 30}
    model: gpt-4o-mini
    feedback: {pr_comment: true, inline_comments: false, show_score_to_candidate: false}
    reviewer_repo: acme-hiring/reviews # used by a later issue
    deadline: "2026-12-01T18:00:00+01:00"  # used by a later issue
"""

MINIMAL = """\
assignments:
  - id: {id}
    repos: {repos}
"""


def problems_of(text: str) -> AssignmentConfigError:
    with pytest.raises(AssignmentConfigError) as caught:
        parse_config(text)
    return caught.value


def one(text: str) -> Assignment:
    (assignment,) = parse_config(text).assignments
    return assignment


# --------------------------------------------------------------------------- the example


def test_the_example_from_the_issue_parses() -> None:
    config = parse_config(EXAMPLE)
    (a,) = config.assignments
    assert a.id == "backend-take-home"
    assert a.title == "Backend take-home"
    assert a.brief == "Build a URL shortener with an HTTP API ..."
    assert a.brief_file is None
    assert a.baseline == Baseline()
    assert a.paths == Paths(include=("**",), exclude=("docs/**",))
    assert a.rubric == (
        Criterion("correctness", "The API does what the brief asks", 40),
        Criterion("code-quality", "Readable, idiomatic, well-structured", 30),
        Criterion("tests", "Meaningful automated tests", 30),
    )
    assert a.total_points == 100
    assert a.model == "gpt-4o-mini"
    assert a.feedback == Feedback(check_run=True, pr_comment=True, inline_comments=False)
    assert not a.feedback.show_score_to_candidate
    assert a.reviewer_repo == "acme-hiring/reviews"
    assert a.deadline == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert len(a.version) == 12


def test_defaults_for_a_minimal_assignment() -> None:
    a = one(MINIMAL.format(id="hw1", repos='["hw1-*"]'))
    assert a.title == "hw1"
    assert a.brief is None and a.rubric == () and a.model is None and a.deadline is None
    assert a.baseline.kind == "first-commit"
    assert a.feedback == Feedback()
    assert a.feedback.check_run and a.feedback.pr_comment and not a.feedback.inline_comments
    assert a.includes("anything/at/all.py")


def test_values_are_immutable_and_serialise_without_warnings() -> None:
    config = parse_config(EXAMPLE)
    with pytest.raises(ValidationError):
        config.assignments[0].title = "changed"
    dumped = config.model_dump(mode="json")
    assert dumped["assignments"][0]["rubric"][0] == {
        "id": "correctness",
        "description": "The API does what the brief asks",
        "points": 40,
    }
    assert AssignmentConfig.model_validate(dumped) == config


# --------------------------------------------------------------------------- matching

ORDERED = """\
assignments:
  - id: special
    repos: ["backend-task-42"]
  - id: backend
    repos: ["backend-task-*", "api-*"]
  - id: acme-only
    repos: ["acme/frontend-*"]
  - id: catch-all
    repos: ["*-homework"]
"""


def test_matched_and_unmatched() -> None:
    config = parse_config(ORDERED)
    match = config.match("acme/backend-task-7")
    assert match is not None and match.id == "backend"
    assert config.match("acme/api-v2") is not None
    assert config.match("acme/something-else") is None
    assert config.match("acme/backend-task") is None


def test_first_matching_assignment_wins() -> None:
    config = parse_config(ORDERED)
    match = config.match("acme/backend-task-42")
    assert match is not None and match.id == "special"


def test_owner_name_globs_match_the_full_name_only() -> None:
    config = parse_config(ORDERED)
    match = config.match("acme/frontend-1")
    assert match is not None and match.id == "acme-only"
    assert config.match("other/frontend-1") is None


def test_bare_globs_ignore_the_owner_and_case() -> None:
    config = parse_config(ORDERED)
    match = config.match("Someone/Backend-Task-9")
    assert match is not None and match.id == "backend"


def test_default_assignment_reviews_everything_without_a_rubric() -> None:
    assert DEFAULT_ASSIGNMENT.id == "default"
    assert DEFAULT_ASSIGNMENT.title == "Code review"
    assert DEFAULT_ASSIGNMENT.rubric == ()
    assert DEFAULT_ASSIGNMENT.matches("any/repo")


def test_an_empty_assignment_list_matches_nothing() -> None:
    assert parse_config("assignments: []\n").match("acme/x") is None


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("include", "exclude", "path", "expected"),
    [
        (["**"], [], "a.py", True),
        (["**"], [], "deep/down/a.py", True),
        (["**"], ["docs/**"], "docs/index.md", False),
        (["**"], ["docs/**"], "docs/deep/a.png", False),
        (["**"], ["docs/**"], "src/docs/a.md", True),  # anchored: only the top-level docs/
        (["**"], ["docs/**"], "docs", True),  # docs/** is what is inside docs/
        (["**"], ["*.md"], "README.md", False),  # no slash: matches at any depth
        (["**"], ["*.md"], "src/notes.md", False),
        (["**"], ["*.md"], "src/notes.mdx", True),
        (["src/**/*.py"], [], "src/a.py", True),
        (["src/**/*.py"], [], "src/pkg/sub/a.py", True),
        (["src/**/*.py"], [], "src/pkg/a.txt", False),
        (["src/**/*.py"], [], "lib/src/a.py", False),
        (["src/*.py"], [], "src/pkg/a.py", False),  # * stays within one segment
        (["**/test_*.py"], [], "test_a.py", True),
        (["**/test_*.py"], [], "a/b/test_a.py", True),
        (["src/"], [], "src/a/b.py", True),  # a directory pattern covers what is inside
        (["/main.py"], [], "main.py", True),
        (["/main.py"], [], "pkg/main.py", False),
        (["**"], ["build"], "pkg/build/out.js", False),
        (["a/**/b"], [], "a/b", True),
        (["a/**/b"], [], "a/x/y/b", True),
        (["file[0-9].txt"], [], "file7.txt", True),
        (["file[!0-9].txt"], [], "file7.txt", False),
        (["**"], [], "./a.py", True),
    ],
)
def test_path_globs(include: list[str], exclude: list[str], path: str, expected: bool) -> None:
    a = Assignment(
        id="x", repos=("*",), title="x", paths=Paths(include=tuple(include), exclude=tuple(exclude))
    )
    assert a.includes(path) is expected


def test_path_negation_is_rejected_with_a_hint() -> None:
    error = problems_of(MINIMAL.format(id="x", repos='["*"]') + '    paths: {exclude: ["!a"]}\n')
    assert "list the pattern under exclude" in str(error)


# --------------------------------------------------------------------------- version


def test_version_is_stable_and_ignores_where_results_go() -> None:
    a = one(EXAMPLE)
    assert one(EXAMPLE).version == a.version
    other = a.model_copy(
        update={
            "repos": ("other-*",),
            "feedback": Feedback(show_score_to_candidate=True),
            "reviewer_repo": "acme/elsewhere",
            "deadline": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    assert other.version == a.version
    reformatted = EXAMPLE.replace("points: 40}", "points:    40 }").replace("# used", "# note")
    assert one(reformatted).version == a.version


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("points: 40", "points: 50"),
        ('"Meaningful automated tests"', '"Some tests"'),
        ("id: tests", "id: testing"),
        ("Build a URL shortener", "Build a URL expander"),
        ("model: gpt-4o-mini", "model: gpt-4o"),
        ('exclude: ["docs/**"]', "exclude: []"),
        ("baseline: first-commit", "baseline: main"),
    ],
)
def test_version_changes_with_what_shapes_the_review(old: str, new: str) -> None:
    assert old in EXAMPLE
    assert one(EXAMPLE.replace(old, new)).version != one(EXAMPLE).version


def test_with_brief_fills_the_brief_and_changes_the_version() -> None:
    a = one(MINIMAL.format(id="x", repos='["*"]') + "    brief_file: briefs/x.md\n")
    assert a.brief is None and a.brief_file == "briefs/x.md"
    filled = a.with_brief("Write a parser.\n")
    assert filled.brief == "Write a parser." and filled.brief_file == "briefs/x.md"
    assert a.brief is None  # the original is untouched
    assert filled.version != a.version
    assert filled.version != a.with_brief("Write a compiler.").version


# --------------------------------------------------------------------------- baseline


@pytest.mark.parametrize(
    ("text", "kind", "ref"),
    [
        ("first-commit", "first-commit", ""),
        ("main", "branch", "main"),
        ("starter/v2", "branch", "starter/v2"),
        ("2024fall", "branch", "2024fall"),
        ("deadbeef", "branch", "deadbeef"),  # no digit: a word, not a SHA
        ("abc1234", "sha", "abc1234"),
        ("ABC1234DEF", "sha", "abc1234def"),
        ('"0123456"', "sha", "0123456"),  # quoted, or YAML reads a number
        ("refs/heads/dev1234", "branch", "dev1234"),
    ],
)
def test_baseline_forms(text: str, kind: str, ref: str) -> None:
    baseline = one(MINIMAL.format(id="x", repos='["*"]') + f"    baseline: {text}\n").baseline
    assert (baseline.kind, baseline.ref) == (kind, ref)


@pytest.mark.parametrize("text", ["abc123z", "g" * 39 + "1", "dev1234"])
def test_sha_looking_baseline_that_is_not_hex_is_rejected(text: str) -> None:
    error = problems_of(MINIMAL.format(id="x", repos='["*"]') + f"    baseline: {text}\n")
    assert "looks like a commit SHA but is not hexadecimal" in str(error)
    assert error.problems[0].line == 4


def test_unquoted_numeric_sha_asks_for_quotes() -> None:
    error = problems_of(MINIMAL.format(id="x", repos='["*"]') + "    baseline: 1234567\n")
    assert "quote a SHA made of digits" in str(error)


@pytest.mark.parametrize("text", ["'has space'", "a..b", "-x", "x.lock", "true"])
def test_invalid_branch_names_are_rejected(text: str) -> None:
    error = problems_of(MINIMAL.format(id="x", repos='["*"]') + f"    baseline: {text}\n")
    assert error.problems[0].location == "assignments[0].baseline"


# --------------------------------------------------------------------------- errors with lines


def test_invalid_yaml_names_the_file_and_line() -> None:
    text = "assignments:\n  - id: x\n    repos: [a, b\n    title: t\n"
    error = problems_of(text)
    assert str(error).startswith(f"{CONFIG_PATH}, line 4, column ")
    assert "invalid YAML" in str(error)
    assert error.problems[0].line == 4


def test_source_is_used_in_the_message() -> None:
    with pytest.raises(AssignmentConfigError, match=r"^org/.github:cfg.yml, line 1"):
        parse_config("assignments: [", source="org/.github:cfg.yml")


def test_wrong_type_for_points_names_its_line() -> None:
    lines = EXAMPLE.splitlines()
    n = next(i for i, line in enumerate(lines, 1) if "id: code-quality" in line)
    error = problems_of(EXAMPLE.replace("points: 30}", 'points: "thirty"}', 1))
    assert len(error.problems) == 1
    (problem,) = error.problems
    assert (problem.line, problem.location) == (n, "assignments[0].rubric[1].points")
    assert problem.column == lines[n - 1].index("points") + 1
    assert "whole number" in problem.message and "'thirty'" in problem.message
    assert f"line {n}," in str(error)
    assert "assignments[0].rubric[1].points" in str(error)


def test_block_style_errors_point_at_the_key() -> None:
    text = """\
assignments:
  - id: x
    repos: ["*"]
    rubric:
      - id: a
        description: A
        points: -3
"""
    (problem,) = problems_of(text).problems
    assert (problem.line, problem.column) == (7, 9)
    assert "greater than 0" in problem.message


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    error = problems_of(EXAMPLE.replace("    rubric:", "    rubirc:"))
    located = {p.location: p for p in error.problems}
    problem = located["assignments[0].rubirc"]
    assert problem.line == 11
    assert "did you mean 'rubric'" in problem.message


def test_unknown_nested_key_is_an_error() -> None:
    error = problems_of(EXAMPLE.replace("pr_comment:", "pr_coment:"))
    assert error.problems[0].location == "assignments[0].feedback.pr_coment"
    assert error.problems[0].line == 16


def test_duplicate_keys_are_an_error() -> None:
    text = MINIMAL.format(id="x", repos='["*"]') + "    title: A\n    title: B\n"
    (problem,) = problems_of(text).problems
    assert (problem.line, problem.location) == (5, "assignments[0].title")
    assert "first on line 4" in problem.message


def test_duplicate_keys_through_merge_keys_are_allowed() -> None:
    text = """\
common: &common {repos: ["*"], title: Shared}
assignments:
  - <<: *common
    id: a
    title: Own title
"""
    # the top-level 'common' key is unknown, but merging and overriding is not a duplicate
    problems = problems_of(text).problems
    assert [p.location for p in problems] == ["common"]


def test_aliases_are_supported() -> None:
    text = """\
assignments:
  - id: a
    repos: ["a-*"]
    rubric: &rubric
      - {id: tests, description: Tests, points: 10}
  - id: b
    repos: ["b-*"]
    rubric: *rubric
"""
    first, second = parse_config(text).assignments
    assert first.rubric == second.rubric


def test_duplicate_assignment_and_criterion_ids() -> None:
    text = """\
assignments:
  - id: a
    repos: ["a-*"]
    rubric:
      - {id: tests, description: Tests, points: 10}
      - {id: tests, description: More tests, points: 10}
  - id: a
    repos: ["b-*"]
"""
    problems = problems_of(text).problems
    assert [(p.line, p.location) for p in problems] == [
        (6, "assignments[0].rubric[1].id"),
        (7, "assignments[1].id"),
    ]
    assert "criterion id 'tests' (first on line 5)" in problems[0].message
    assert "assignment id 'a' (first on line 2)" in problems[1].message


def test_duplicate_ids_are_reported_alongside_other_problems() -> None:
    text = MINIMAL.format(id="a", repos="[1]") + MINIMAL.format(id="a", repos='["*"]').replace(
        "assignments:\n", ""
    )
    error = problems_of(text)
    assert {p.location for p in error.problems} == {"assignments[0].repos[0]", "assignments[1].id"}
    assert "(and 1 more problem)" in str(error)


def test_duplicate_ids_are_rejected_when_built_in_code() -> None:
    a = Assignment(id="a", repos=("*",), title="A")
    with pytest.raises(ValidationError, match="repeats the assignment id"):
        AssignmentConfig(assignments=(a, a))
    with pytest.raises(ValidationError, match="repeats the criterion id"):
        Assignment(id="b", repos=("*",), title="B", rubric=(Criterion("c", "C", 1),) * 2)


@pytest.mark.parametrize(
    "deadline",
    ['"2026-12-01T18:00:00"', "2026-12-01 18:00:00", "2026-12-01", '"next friday"'],
)
def test_deadline_needs_a_timezone(deadline: str) -> None:
    text = MINIMAL.format(id="x", repos='["*"]') + f"    deadline: {deadline}\n"
    (problem,) = problems_of(text).problems
    assert (problem.line, problem.location) == (4, "assignments[0].deadline")


@pytest.mark.parametrize("deadline", ['"2026-12-01T18:00:00Z"', "2026-12-01T18:00:00+01:00"])
def test_deadline_with_a_timezone(deadline: str) -> None:
    a = one(MINIMAL.format(id="x", repos='["*"]') + f"    deadline: {deadline}\n")
    assert a.deadline is not None and a.deadline.utcoffset() is not None
    assert a.deadline.utcoffset() in (timedelta(0), timedelta(hours=1))


@pytest.mark.parametrize(
    ("repos", "fragment"),
    [
        ("[]", "should not be empty"),
        ("[1]", "should be text"),
        ('"backend-*"', "should be a list"),
        ('["a/b/c"]', "should be a glob"),
        ('[""]', "should not be empty"),
        ('["task *"]', "should be a glob"),
    ],
)
def test_bad_repos(repos: str, fragment: str) -> None:
    (problem,) = problems_of(MINIMAL.format(id="x", repos=repos)).problems
    assert problem.line == 3 and fragment in problem.message


@pytest.mark.parametrize(
    ("extra", "location"),
    [
        ("    brief: a\n    brief_file: b.md\n", "assignments[0].brief_file"),
        ("    brief_file: ../secrets.md\n", "assignments[0].brief_file"),
        ("    reviewer_repo: not a repo\n", "assignments[0].reviewer_repo"),
        ("    max_files: 0\n", "assignments[0].max_files"),
        ("    feedback: {pr_comment: 'yes please'}\n", "assignments[0].feedback.pr_comment"),
        (
            "    rubric: [{id: a, description: A, points: true}]\n",
            "assignments[0].rubric[0].points",
        ),
        ("    rubric: [{id: a, description: A}]\n", "assignments[0].rubric[0].points"),
        ("    rubric: [{id: Bad Id, description: A, points: 1}]\n", "assignments[0].rubric[0].id"),
        ("    title: '   '\n", "assignments[0].title"),
    ],
)
def test_schema_problems(extra: str, location: str) -> None:
    (problem,) = problems_of(MINIMAL.format(id="x", repos='["*"]') + extra).problems
    assert problem.location == location
    assert problem.line is not None and problem.line >= 4


def test_every_problem_is_listed_in_line_order() -> None:
    text = """\
assignments:
  - id: Not A Slug
    repos: []
    colour: blue
    rubric:
      - {id: a, description: "", points: 1.5}
  - title: no id
    repos: ["*"]
"""
    error = problems_of(text)
    assert [(p.line, p.location) for p in error.problems] == [
        (2, "assignments[0].id"),
        (3, "assignments[0].repos"),
        (4, "assignments[0].colour"),
        (6, "assignments[0].rubric[0].description"),
        (6, "assignments[0].rubric[0].points"),
        (7, "assignments[1].id"),
    ]
    assert str(error).endswith("(and 5 more problems).")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n", "the file should be a mapping"),
        ("assignments: {}\n", "should be a list"),
        ("{}\n", "assignments is required"),
        ("assignments: []\n---\nassignments: []\n", "single document"),
        (
            "assignments: !!python/object/apply:os.system [id]\n",
            "could not determine a constructor",
        ),
        ("assignments: [\x07]\n", "invalid YAML"),
    ],
)
def test_file_level_problems(text: str, fragment: str) -> None:
    assert fragment in str(problems_of(text))


# --------------------------------------------------------------------------- hostile documents


def test_billion_laughs_is_refused_before_validation() -> None:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        levels.append(f"a{i}: &a{i} [{refs}]")
    error = problems_of("\n".join(levels) + "\nassignments: []\n")
    assert "expands to more than" in str(error)


def test_self_referencing_alias_is_refused() -> None:
    assert "refers to a node that contains it" in str(problems_of("assignments: &a [*a]\n"))


def test_deep_nesting_is_refused() -> None:
    error = problems_of("assignments: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nests deeper than" in str(error)


def test_oversized_file_is_refused() -> None:
    error = problems_of("#" * (MAX_CONFIG_BYTES + 1))
    assert error.problems[0].line is None
    assert "the limit is" in str(error)
