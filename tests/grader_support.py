"""Run deploy/grade.yml's test step on this machine, as a GitHub runner would, against the sample
grader repository (tests/data/grader/repo) and a submission folder.

`run_grader_step` lays out the workspace like the workflow's checkouts (`grader/`,
`submission/`), takes the step's shell script from the workflow file itself and runs it with the
shell GitHub uses, so the test exercises the script users copy. Its JUnit report is real pytest
output; `python -m tests.grader_support` refreshes the sample reports in tests/data/grader/junit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "deploy" / "grade.yml"
DATA = ROOT / "tests" / "data" / "grader"
GRADER_REPO = DATA / "repo"
SOLUTION = DATA / "solution"
PARTIAL = DATA / "solution-partial"
PASSING_JUNIT = DATA / "junit" / "passing.xml"
PARTIAL_JUNIT = DATA / "junit" / "partial.xml"
TEST_STEP = "Run the hidden tests"


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def step(name: str) -> dict[str, Any]:
    [job] = workflow()["jobs"].values()
    [found] = [s for s in job["steps"] if s.get("name") == name]
    return dict(found)


@dataclass(frozen=True)
class GraderRun:
    status: int  # the step's exit status: non-zero fails the workflow run
    output: str
    report: Path


def run_grader_step(
    workspace: Path, submission: Path | None, *, grader: Path = GRADER_REPO
) -> GraderRun:
    """The test step in `workspace`, with `grader` and `submission` (None: an empty checkout)
    checked out where the workflow puts them."""
    shutil.copytree(grader, workspace / "grader")
    if submission is None:
        (workspace / "submission").mkdir()
    else:
        shutil.copytree(submission, workspace / "submission")
    script = workspace / "step.sh"
    script.write_text(step(TEST_STEP)["run"], encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHON", "COV_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        SUBMISSION_DIR=str(workspace / "submission"),
        REPORT_DIR=str(workspace / "junit"),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # the runner has only the grader's pinned tools
    )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workspace / "grader", env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )
    return GraderRun(done.returncode, done.stdout + done.stderr,
                     workspace / "junit" / "hidden.xml")


def outcomes(report: Path) -> dict[str, str]:
    """test name -> passed / failure / error / skipped, read plainly from pytest's JUnit."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[case.attrib["name"]] = kinds[0] if kinds else "passed"
    return found


def refresh() -> None:
    """Write the sample reports other tests read (run after changing the hidden tests)."""
    import tempfile

    for submission, target in ((SOLUTION, PASSING_JUNIT), (PARTIAL, PARTIAL_JUNIT)):
        with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
            run = run_grader_step(Path(tmp), submission)
            if run.status != 0:
                raise SystemExit(f"the grader step failed:\n{run.output}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.report, target)
            print(f"{target.relative_to(ROOT)}: {outcomes(target)}")


if __name__ == "__main__":
    refresh()
