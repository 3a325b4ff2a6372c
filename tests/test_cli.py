"""The command line: check-config, review (a real git repository), replay, report, progress."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.__main__ import main
from app.config import Settings
from tests.fakes.gitrepo import GitRepo
from tests.fakes.llm import FakeLLM, good
from tests.support import SECRET

CONFIG = """\
assignments:
  - id: task-1
    repos: ["task-*"]
    title: Task one
    brief: Write a small module.
    rubric:
      - {id: correctness, description: "It works", points: 6}
      - {id: style, description: "It reads well", points: 4}
  - id: task-2
    repos: ["other-*"]
"""
BAD_CONFIG = """\
assignments:
  - id: Task One
    repos: ["task-*"]
    rubric:
      - {id: tests, description: "x", points: -3}
"""
SOLUTION = "import os\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory (no .env) and environment: only what a test sets."""
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
    git = GitRepo.init(tmp_path / "submission")
    git.commit({"README.md": "# Task\n", "src/__init__.py": ""}, "starter code")
    git.commit(
        {"src/solution.py": SOLUTION, "logo.png": b"\x89PNG\x00\x01\x02", "poetry.lock": "x\n"},
        "my solution",
        branch="work",
    )
    return git


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- check-config -----------------------------------------------------------------------------


def test_check_config_accepts_good_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "assignment-review.yml"
    config.write_text(CONFIG)
    status, out, err = run_cli(capsys, "check-config", str(config))
    assert status == 0, out + err
    assert f"{config}: OK (2 assignments: task-1, task-2)" in out and "settings: OK" in out


def test_check_config_lists_every_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yml"
    config.write_text(BAD_CONFIG)
    status, out, _ = run_cli(capsys, "check-config", str(config))
    assert status == 1
    lines = out.splitlines()
    assert any(line.startswith(f"{config}:2:") and "id" in line for line in lines), out
    assert any(line.startswith(f"{config}:5:") and "points" in line for line in lines), out
    assert all(line.startswith(f"{config}:") for line in lines if "settings" not in line)


def test_check_config_points_at_the_env_line(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET")
    (cli_env / ".env").write_text("# settings\nGITHUB_WEBHOOK_SECRET=s\nGITHUB_APP_ID=my-app\n")
    status, out, _ = run_cli(capsys, "check-config")
    assert status == 1
    assert out.startswith(".env:3:1: GITHUB_APP_ID must be the app's numeric id"), out


def test_check_config_missing_brief_file_and_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "org" / ".github" / "assignment-review.yml"
    config.parent.mkdir(parents=True)
    config.write_text("assignments:\n  - id: a\n    repos: ['*']\n    brief_file: briefs/a.md\n")
    status, out, _ = run_cli(capsys, "check-config", str(config))
    assert status == 1 and f"{config}:4:1: assignments 'a' brief_file 'briefs/a.md'" in out
    (tmp_path / "org" / "briefs").mkdir()
    (tmp_path / "org" / "briefs" / "a.md").write_text("Do it.")
    assert run_cli(capsys, "check-config", str(config))[0] == 0

    status, out, err = run_cli(capsys, "check-config", str(tmp_path / "missing.yml"))
    assert status == 2 and not out
    assert err.strip() == f"relo-review: {tmp_path / 'missing.yml'}: cannot be read " + (
        "(No such file or directory)."
    )


# --- review -----------------------------------------------------------------------------------


def test_review_markdown_and_json(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "review", str(repo.path), "--base", "main", "--head", "work")
    assert status == 0, err
    assert "`src/solution.py:1`" in out and "F401" in out and not err  # quiet when piped
    assert "`logo.png` — binary" in out and "`poetry.lock` — lockfile" in out

    status, out, _ = run_cli(
        capsys, "review", str(repo.path / "src"), "--base", "main", "--head", "work", "--format",
        "json",
    )  # fmt: skip
    data = json.loads(out)
    assert data["base_sha"] == repo.rev("main") and data["head_sha"] == repo.rev("work")
    assert [(f["path"], f["start_line"], f["rule"]) for f in data["findings"]] == [
        ("src/solution.py", 1, "F401")
    ]
    assert {"path": "logo.png", "reason": "binary"} in data["skipped"]
    assert data["files_reviewed"] == 1 and data["total"] is None and data["scores"] == []


def obj(*required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def array(items: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


# The fields SARIF 2.1.0 requires, and those GitHub code scanning needs to place a result.
LOCATION = obj(
    "physicalLocation",
    physicalLocation=obj(
        "artifactLocation",
        "region",
        artifactLocation=obj("uri"),
        region=obj("startLine", startLine={"type": "integer", "minimum": 1}),
    ),
)
RESULT = obj(
    "ruleId",
    "level",
    "message",
    "locations",
    level={"enum": ["none", "note", "warning", "error"]},
    message=obj("text"),
    locations=array(LOCATION, 1),
)
SARIF_REQUIRED = obj(
    "version",
    "$schema",
    "runs",
    version={"const": "2.1.0"},
    runs=array(
        obj(
            "tool",
            "results",
            tool=obj("driver", driver=obj("name", "rules", rules=array(obj("id")))),
            results=array(RESULT),
        ),
        1,
    ),
)


def test_review_sarif_is_what_code_scanning_takes(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit({"src/my file.py": "import sys\n"}, "another", branch="work")
    argv = ["review", str(repo.path), "--base", "main", "--head", "work", "--format", "sarif"]
    status, out, _ = run_cli(capsys, *argv)
    assert status == 0
    sarif = json.loads(out)
    jsonschema.validate(sarif, SARIF_REQUIRED)
    run = sarif["runs"][0]
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    assert run["tool"]["driver"]["name"] == "Relo Review"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["F401"]
    uris = sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    )
    assert uris == ["src/my%20file.py", "src/solution.py"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] and result["level"] == "warning"
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert '"scores"' not in out and '"total"' not in out  # no grades in a candidate's repo


def test_review_against_an_assignment_with_the_llm(
    repo: GitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "assignment-review.yml"
    config.write_text(CONFIG)
    base = ["review", str(repo.path), "--base", "main", "--head", "work", "--format", "json"]
    status, _, err = run_cli(capsys, *base, "--assignment", str(config))
    assert status == 2 and "choose one with --assignment-id" in err

    status, out, _ = run_cli(
        capsys, *base, "--assignment", str(config), "--assignment-id", "task-1"
    )
    assert status == 0
    assert [(s["criterion"], s["score"]) for s in json.loads(out)["scores"]] == [
        ("correctness", None),
        ("style", None),
    ]

    status, _, err = run_cli(capsys, *base, "--llm")
    assert status == 2 and "--llm needs OPENAI_API_KEY" in err

    fake = FakeLLM()
    fake.script(good(fraction=0.5))
    with fake.serve() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        argv = [*base, "--assignment", str(config), "--assignment-id", "task-1", "--llm"]
        status, out, err = run_cli(capsys, *argv)
    assert status == 0, err
    data = json.loads(out)
    assert data["total"] == {"score": 5.0, "points": 10} and data["usage"]["prompt_tokens"] > 0
    assert "Write a small module." in json.dumps(fake.requests)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base", "nope"], "'nope' is not a commit in"),
        (["--base=--upload-pack=x"], "is not a valid ref"),
        (["--base", "main", "--assignment-id", "x"], "--assignment-id needs --assignment FILE."),
    ],
)
def test_review_usage_errors(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run_cli(capsys, "review", str(repo.path), *argv)
    assert status == 2 and not out and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_review_outside_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "review", str(tmp_path), "--base", "main")
    assert status == 2 and err.strip() == f"relo-review: {tmp_path} is not in a git repository."
    assert main(["review", str(tmp_path)]) == 2  # --base is required: argparse explains


def test_progress_shows_on_a_terminal_only(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["review", str(repo.path), "--base", "main", "--head", "work"]) == 0
    shown = terminal.getvalue()
    assert "Reading the change" in shown and "Reviewing 1 file(s)" in shown
    assert shown.endswith("\r\x1b[2K")  # the status line is cleared before the output
    assert "F401" in capsys.readouterr().out


def test_check_config_warns_about_configs_that_review_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret-value")
    empty = tmp_path / "empty.yml"
    empty.write_text("assignments: []\n")
    silent = tmp_path / "silent.yml"
    silent.write_text(
        "assignments:\n  - id: a\n    repos: ['*']\n"
        "    feedback: {check_run: false, pr_comment: false}\n"
    )
    assert main(["check-config", str(empty)]) == 0
    out = capsys.readouterr().out
    assert "no repository will be reviewed" in out
    assert "no review can run" in out  # a secret without the app's id and key
    assert main(["check-config", str(silent)]) == 0
    assert "sends its results nowhere" in capsys.readouterr().out
