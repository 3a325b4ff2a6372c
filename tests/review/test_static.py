"""The static reviewer: real ruff on real files, its failure modes, and the file checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.review.file_checks import file_checks
from app.review.models import Change, ChangedFile, Finding, ReviewError, Severity, Submission
from app.review.static import StaticReviewer, ruff_findings

SECRET = "ghp_" + "Zx9Yw8Vu7T" * 3 + "s6R5q4"  # assembled so this file holds no token


def _changed(path: str, status: str = "added") -> ChangedFile:
    return ChangedFile(path=path, status=status, changed_lines=frozenset({1}))


def _submission(
    contents: dict[str, bytes],
    *,
    without_content: tuple[str, ...] = (),
    removed: tuple[str, ...] = (),
) -> Submission:
    files = (
        tuple(_changed(path) for path in contents)
        + tuple(_changed(path) for path in without_content)
        + tuple(_changed(path, "removed") for path in removed)
    )
    return Submission(
        repo="org/assignment",
        change=Change(base_sha="a" * 40, head_sha="b" * 40, files=files),
        contents=contents,
    )


def _summary(findings: tuple[Finding, ...] | list[Finding]) -> set[tuple[str, str, int, str]]:
    return {(f.path, f.rule, f.start_line, f.severity.value) for f in findings}


# --- ruff ----------------------------------------------------------------------------------------

UNUSED_IMPORT = b"import os\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
BROKEN = b"def broken(:\n    pass\n"


@pytest.mark.slow
async def test_real_ruff_reports_unused_import_and_syntax_error() -> None:
    submission = _submission({"pkg/calc.py": UNUSED_IMPORT, "broken.py": BROKEN})

    result = await StaticReviewer().review(submission)

    assert _summary(result.findings) == {
        ("pkg/calc.py", "F401", 1, "warning"),
        ("broken.py", "invalid-syntax", 1, "error"),
    }
    unused = next(f for f in result.findings if f.rule == "F401")
    assert unused.message == "`os` imported but unused"
    assert unused.title == "ruff F401 (unused-import)"
    assert unused.suggestion == ""  # the safe fix deletes line 1
    syntax = next(f for f in result.findings if f.rule == "invalid-syntax")
    assert syntax.message.startswith("Python cannot parse this file: ")
    assert result.notes == ()


@pytest.mark.slow
async def test_candidate_config_and_noqa_cannot_silence_ruff() -> None:
    submission = _submission(
        {
            "pyproject.toml": b'[tool.ruff]\nexclude = ["*"]\n[tool.ruff.lint]\nignore = ["F"]\n',
            "ruff.toml": b'exclude = ["*"]\n',
            "app/.gitignore": b"*.py\n",
            "app/main.py": b"# ruff: noqa\nimport sys  # noqa: F401\n",
            "build/gen.py": b"import os\n",  # build output: reported once, never linted
        }
    )

    result = await StaticReviewer().review(submission)

    assert _summary(result.findings) == {
        ("app/main.py", "F401", 2, "warning"),
        ("build/gen.py", "relo/build-output", 1, "warning"),
    }


@pytest.mark.slow
async def test_hostile_file_names_are_linted_or_skipped_never_escape(tmp_path: Path) -> None:
    outside = tmp_path / "escape.py"
    hostile = {
        "-rf.py": b"import os\n",
        "--config=x.py": b"import os\n",
        "a b; rm -rf ~ $(id).py": b"import os\n",
        "../escape.py": b"import os\n",
        f"/{outside}": b"import os\n",
        "ok/../../escape.py": b"import os\n",
    }

    result = await StaticReviewer().review(_submission(hostile))

    assert _summary(result.findings) == {
        ("-rf.py", "F401", 1, "warning"),
        ("--config=x.py", "F401", 1, "warning"),
        ("a b; rm -rf ~ $(id).py", "F401", 1, "warning"),
    }
    assert result.notes == ("3 Python file(s) with unusable paths were not linted.",)
    assert not outside.exists()


@pytest.mark.slow
async def test_suggestion_for_a_safe_single_line_fix() -> None:
    source = 'def f(\u00e9):\n    return \u00e9 + str("a")\n'.encode()  # columns count characters

    result = await StaticReviewer().review(_submission({"gen.py": source}))

    assert [(f.rule, f.start_line, f.suggestion) for f in result.findings] == [
        ("UP018", 2, '    return \u00e9 + "a"')
    ]


async def test_missing_ruff_is_a_review_error() -> None:
    reviewer = StaticReviewer(ruff_path="/nonexistent/ruff")

    with pytest.raises(ReviewError, match="ruff could not be started"):
        await reviewer.review(_submission({"a.py": b"x = 1\n"}))


async def test_no_ruff_anywhere_is_a_review_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.review.static._default_ruff", lambda: None)

    with pytest.raises(ReviewError, match="ruff is not installed on the review server"):
        await StaticReviewer().review(_submission({"a.py": b"x = 1\n"}))


async def test_ruff_is_not_needed_without_python_files() -> None:
    reviewer = StaticReviewer(ruff_path="/nonexistent/ruff")

    result = await reviewer.review(_submission({"README.md": b"# Hello\n"}))

    assert result.findings == ()


def _fake_ruff(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-ruff"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.slow
async def test_ruff_timeout_is_a_review_error(tmp_path: Path) -> None:
    reviewer = StaticReviewer(ruff_path=_fake_ruff(tmp_path, "time.sleep(30)"), timeout=0.5)

    with pytest.raises(ReviewError, match=r"did not finish within 0\.5 seconds"):
        await reviewer.review(_submission({"a.py": b"x = 1\n"}))


@pytest.mark.slow
async def test_ruff_crash_is_a_review_error(tmp_path: Path) -> None:
    ruff = _fake_ruff(tmp_path, "sys.stderr.write('error: boom\\n'); sys.exit(2)")

    with pytest.raises(ReviewError, match=r"exit status 2 \(error: boom\)"):
        await StaticReviewer(ruff_path=ruff).review(_submission({"a.py": b"x = 1\n"}))


@pytest.mark.slow
async def test_unreadable_ruff_output_is_a_review_error(tmp_path: Path) -> None:
    ruff = _fake_ruff(tmp_path, "print('not json')")

    with pytest.raises(ReviewError, match="not JSON"):
        await StaticReviewer(ruff_path=ruff).review(_submission({"a.py": b"x = 1\n"}))


def _diagnostic(code: str | None, message: str, row: int = 3, **extra: object) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "filename": "/work/x/src/a.py",
        "location": {"row": row, "column": 1},
        "end_location": {"row": row, "column": 5},
        "fix": None,
        **extra,
    }


def test_ruff_findings_severity_and_syntax_error_shapes() -> None:
    output = json.dumps(
        [
            _diagnostic("F841", "Local variable `x` is assigned to but never used"),
            _diagnostic("S602", "`subprocess` call with `shell=True`"),
            _diagnostic("SIM108", "Use ternary operator"),
            _diagnostic("B006", "Do not use mutable data structures for argument defaults"),
            _diagnostic(None, "SyntaxError: Expected an expression", row=7),
            _diagnostic("E999", "SyntaxError: a second one in the same file", row=9),
            {**_diagnostic("F401", "unused"), "filename": "/elsewhere/b.py"},
        ]
    ).encode()

    findings = ruff_findings(output, root="/work/x", written={"src/a.py": "src/a.py"}, contents={})

    assert [(f.rule, f.start_line, f.severity) for f in findings] == [
        ("F841", 3, Severity.WARNING),
        ("S602", 3, Severity.WARNING),
        ("SIM108", 3, Severity.NOTICE),
        ("B006", 3, Severity.NOTICE),
        ("invalid-syntax", 7, Severity.ERROR),
    ]
    assert findings[-1].message == "Python cannot parse this file: Expected an expression"


def test_ruff_findings_suggestion_only_for_safe_one_line_fixes() -> None:
    content = b"a = 1\nif x == None:\n    pass\n"

    def fix(applicability: str, row: int = 2) -> dict[str, object]:
        edit = {
            "content": "x is None",
            "location": {"row": row, "column": 4},
            "end_location": {"row": row, "column": 13},
        }
        return {"applicability": applicability, "edits": [edit], "message": "Use is"}

    output = json.dumps(
        [
            _diagnostic("E711", "safe", row=2, fix=fix("safe")),
            _diagnostic("E711", "unsafe", row=2, fix=fix("unsafe")),
            _diagnostic("E711", "other line", row=3, fix=fix("safe", row=2)),
        ]
    ).encode()

    findings = ruff_findings(
        output, root="/work/x", written={"src/a.py": "src/a.py"}, contents={"src/a.py": content}
    )

    assert [f.suggestion for f in findings] == ["if x is None:", None, None]


def test_ruff_findings_suggestion_with_several_edits_on_one_line() -> None:
    def edit(content: str, start: int, end: int) -> dict[str, object]:
        return {
            "content": content,
            "location": {"row": 1, "column": start},
            "end_location": {"row": 1, "column": end},
        }

    fix = {"applicability": "safe", "edits": [edit("{", 5, 10), edit("}", 10, 11)]}
    output = json.dumps([_diagnostic("C408", "dict call", row=1, fix=fix)]).encode()

    (finding,) = ruff_findings(
        output,
        root="/work/x",
        written={"src/a.py": "src/a.py"},
        contents={"src/a.py": b"x = dict()\n"},
    )

    assert finding.suggestion == "x = {}"


@pytest.mark.parametrize("output", [b"{}", b"[1]", b'[{"filename": "a.py"}]'])
def test_malformed_ruff_output_is_a_review_error(output: bytes) -> None:
    with pytest.raises(ReviewError, match="ruff's output could not be read"):
        ruff_findings(output, root="/work/x", written={}, contents={})


# --- file checks ---------------------------------------------------------------------------------


def test_conflict_markers_flag_marker_lines_only() -> None:
    text = (
        b"Title\n=======\n\n"  # a Markdown underline, not a conflict
        b"<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> feature\n"
        b"<<<<<<< HEAD\na\n||||||| base\nb\n=======\nc\n>>>>>>> other\n"
        b"after\n=======\n"
    )

    findings = file_checks(_submission({"notes.md": text}))

    assert [(f.rule, f.start_line, f.severity) for f in findings] == [
        ("relo/conflict-marker", line, Severity.ERROR) for line in (4, 6, 8, 9, 11, 13, 15)
    ]


def test_env_files_are_flagged_but_templates_are_not() -> None:
    submission = _submission(
        {
            ".env": b"DEBUG=1\n",
            "config/.env.production": b"DEBUG=0\n",
            ".env.example": b"API_KEY=\n",
            ".env.sample": b"",
            ".env.template": b"",
            ".env.default": b"",
            "environment.py": b"",
        },
        without_content=(".env.local",),
    )

    assert _summary(file_checks(submission)) == {
        (".env", "relo/env-file", 1, "error"),
        ("config/.env.production", "relo/env-file", 1, "error"),
        (".env.local", "relo/env-file", 1, "error"),  # path checks need no content
    }


def test_build_output_is_one_finding_per_folder() -> None:
    submission = _submission(
        {
            "node_modules/left-pad/index.js": b"",
            "node_modules/left-pad/package.json": b"{}",
            "node_modules/react/index.js": b"",
            "web/node_modules/vue/index.js": b"",
            "src/__pycache__/app.cpython-311.pyc": b"\x00",
            "src/app.pyc": b"\x00",
            "src/app.py": b"",
            "Main.class": b"\x00",
            ".DS_Store": b"\x00",
            "target/debug/app": b"\x00",
            ".venv/lib/site.py": b"",
        },
        removed=("dist/old.js",),
    )

    findings = file_checks(submission)

    assert _summary(findings) == {
        ("node_modules/left-pad/index.js", "relo/build-output", 1, "warning"),
        ("web/node_modules/vue/index.js", "relo/build-output", 1, "warning"),
        ("src/__pycache__/app.cpython-311.pyc", "relo/build-output", 1, "warning"),
        ("src/app.pyc", "relo/build-output", 1, "warning"),
        ("Main.class", "relo/build-output", 1, "warning"),
        (".DS_Store", "relo/build-output", 1, "warning"),
        ("target/debug/app", "relo/build-output", 1, "warning"),
        (".venv/lib/site.py", "relo/build-output", 1, "warning"),
    }
    node = next(f for f in findings if f.path.startswith("node_modules/"))
    assert node.message.startswith("3 files under node_modules/ are dependencies or build output")


def test_secret_is_an_error_and_its_message_never_contains_it() -> None:
    source = f'import os\n\nTOKEN = "{SECRET}"\n'.encode()

    findings = file_checks(_submission({"app/settings.py": source}))

    assert _summary(findings) == {("app/settings.py", "relo/secret", 3, "error")}
    (finding,) = findings
    assert "GitHub token" in finding.message
    assert SECRET not in finding.message
    assert SECRET[4:12] not in finding.message + finding.title


def test_secrets_inside_build_output_are_not_scanned() -> None:
    submission = _submission({"node_modules/x/test.js": f"t = '{SECRET}'".encode()})

    assert [f.rule for f in file_checks(submission)] == ["relo/build-output"]


def test_huge_files() -> None:
    submission = _submission({"data.csv": b"x" * 2049, "small.csv": b"x" * 2048})

    findings = file_checks(submission, huge_file_bytes=2048)

    assert _summary(findings) == {("data.csv", "relo/huge-file", 1, "warning")}


async def test_review_combines_file_checks_and_notes_missing_python_content() -> None:
    reviewer = StaticReviewer(ruff_path="/nonexistent/ruff")  # never run: no Python content
    submission = _submission({".env": b"A=1\n"}, without_content=("app.py",), removed=("old.py",))

    result = await reviewer.review(submission)

    assert _summary(result.findings) == {(".env", "relo/env-file", 1, "error")}
    assert result.notes == ("1 Python file(s) had no content available and were not linted.",)
