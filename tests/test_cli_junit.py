"""`python -m app review PATH --base REF --junit FILE...`: a rubric with hidden tests tried on a
local repository, with JUnit files run locally standing in for the grader workflow's artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.__main__ import main
from app.config import Settings
from tests.fakes.gitrepo import GitRepo
from tests.support import SECRET

CONFIG = """\
assignments:
  - id: calc
    repos: ["calc-*"]
    title: Calculator
    rubric:
      - {id: correctness, description: "It works", points: 6}
      - {id: style, description: "It reads well", points: 4}
    tests:
      workflow: {repo: acme/graders, file: grade.yml}
      criterion: correctness
      candidate_sees: failing_names
"""
NO_TESTS = """\
assignments:
  - id: calc
    repos: ["calc-*"]
    rubric:
      - {id: correctness, description: "It works", points: 6}
"""
SOLUTION = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n"
# As pytest writes it for the grader's checkout of the submission under submission/ (0-based).
PYTEST_REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">\
<testsuite name="pytest" errors="0" failures="1" skipped="0" tests="3" time="0.3">\
<testcase classname="hidden.test_calc" name="test_add" time="0.1"/>\
<testcase classname="hidden.test_calc" name="test_add_negative" time="0.1"/>\
<testcase classname="hidden.test_calc" name="test_div_by_zero" \
file="submission/src/calc.py" line="5" time="0.1">\
<failure message="ZeroDivisionError: division by zero">src/calc.py:6: ZeroDivisionError\
</failure></testcase></testsuite></testsuites>"""
MORE_REPORT = """<testsuite name="extra"><testcase name="test_big" classname="hidden.extra">\
<error message="MemoryError"/></testcase></testsuite>"""


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    return work


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo.init(tmp_path / "calc-ada")
    git.commit({"README.md": "# Calc\n"}, "starter code")
    git.commit({"src/calc.py": SOLUTION}, "my solution", branch="work")
    return git


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def review(capsys: pytest.CaptureFixture[str], repo: GitRepo, *argv: str) -> tuple[int, str, str]:
    status = main(["review", str(repo.path), "--base", "main", "--head", "work", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_junit_scores_the_criterion_and_shows_in_json(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "assignment-review.yml", CONFIG)
    report = write(tmp_path, "report.xml", PYTEST_REPORT)
    status, out, err = review(
        capsys, repo, "--assignment", str(config), "--junit", str(report), "--format", "json"
    )
    assert status == 0, err
    data = json.loads(out)
    correctness, style = data["scores"]
    assert (correctness["criterion"], correctness["score"]) == ("correctness", 4)
    assert correctness["rationale"] == (
        "Hidden tests: 2 of 3 passed → 4/6; the model did not assess it."
    )
    assert style["score"] is None
    assert data["total"] == {"score": 4, "points": 6}
    assert data["tests"]["counts"] == {
        "passed": 2,
        "failed": 1,
        "errored": 0,
        "skipped": 0,
        "total": 3,
    }
    assert data["tests"]["sources"] == [str(report)]
    (failed,) = [c for c in data["tests"]["cases"] if c["outcome"] == "failed"]
    assert failed["message"] == "ZeroDivisionError: division by zero"
    (finding,) = [f for f in data["findings"] if f["source"] == "tests"]
    assert (finding["path"], finding["start_line"]) == ("src/calc.py", 6)
    assert finding["title"] == "Hidden test failed: hidden.test_calc.test_div_by_zero"


def test_junit_files_are_merged_and_shown_in_markdown(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "assignment-review.yml", CONFIG)
    first = write(tmp_path, "a.xml", PYTEST_REPORT)
    second = write(tmp_path, "b.xml", MORE_REPORT)
    status, out, err = review(
        capsys, repo, "--assignment", str(config), "--junit", str(first), "--junit", str(second)
    )
    assert status == 0, err
    assert "### Hidden tests" in out
    assert "| 2 | 1 | 1 | 0 | 0.3 s |" in out
    assert (
        "- **hidden.test\\_calc.test\\_div\\_by\\_zero** (failed) at `submission/src/calc.py:6`"
        in (out)
    )
    assert "  ZeroDivisionError: division by zero" in out
    assert "- **hidden.extra.test\\_big** (errored)" in out


def test_a_tests_assignment_without_junit_says_the_tests_did_not_run(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "assignment-review.yml", CONFIG)
    status, out, _ = review(capsys, repo, "--assignment", str(config), "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert data["tests"] is None
    assert (
        "Hidden tests were not run for this review: correctness is not assessed." in (data["notes"])
    )


@pytest.mark.parametrize(
    ("config_text", "xml", "message"),
    [
        (None, PYTEST_REPORT, "--junit needs an assignment with a tests block"),
        (NO_TESTS, PYTEST_REPORT, "assignment 'calc' has none."),
        (CONFIG, "<testsuite><testcase></testsuite>", "report.xml is not valid XML (line 1,"),
        (
            CONFIG,
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite name="&a;"/>',
            "report.xml declares a DTD, which is refused",
        ),
        (CONFIG, "<coverage/>", "report.xml is not a JUnit report (its root is <coverage>)."),
    ],
)
def test_junit_usage_errors_are_one_sentence(
    repo: GitRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config_text: str | None,
    xml: str,
    message: str,
) -> None:
    argv = ["--junit", str(write(tmp_path, "report.xml", xml))]
    if config_text is not None:
        argv += ["--assignment", str(write(tmp_path, "assignment-review.yml", config_text))]
    status, out, err = review(capsys, repo, *argv)
    assert status == 2 and not out
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_junit_file_is_named(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "assignment-review.yml", CONFIG)
    missing = tmp_path / "nope.xml"
    status, _, err = review(capsys, repo, "--assignment", str(config), "--junit", str(missing))
    assert status == 2
    assert f"{missing} cannot be read (No such file or directory)." in err
