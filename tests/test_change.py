"""Patch parsing and the skip rules: which lines are the candidate's, which files are left out."""

from __future__ import annotations

from app.github.change import build_change, changed_lines

PATCH = """@@ -1,4 +1,5 @@
 import os
-import sys
+import json
+import re
{SPACE}
 def main():
@@ -10,2 +11,3 @@ def main():
     pass
+    return 1
 # end
\\ No newline at end of file""".replace("{SPACE}", " ")


def test_changed_lines_are_new_side_added_lines() -> None:
    assert changed_lines(PATCH) == frozenset({2, 3, 12})


def test_empty_or_garbage_patch_has_no_lines() -> None:
    assert changed_lines("") == frozenset()
    assert changed_lines("not a diff") == frozenset()


def test_skipped_files_are_listed_with_reasons() -> None:
    entries = [
        {"filename": "src/app.py", "status": "modified", "patch": PATCH, "changes": 4},
        {"filename": "old.py", "status": "removed", "patch": "@@ -1 +0,0 @@\n-x", "changes": 1},
        {"filename": "logo.png", "status": "added", "changes": 0},
        {"filename": "package-lock.json", "status": "modified", "patch": "@@", "changes": 2},
        {"filename": "node_modules/x/index.js", "status": "added", "patch": "@@", "changes": 1},
        {"filename": "static/app.min.js", "status": "added", "patch": "@@", "changes": 1},
        {"filename": "big.sql", "status": "added", "changes": 90000},
    ]
    change = build_change("b" * 40, "a" * 40, entries)
    assert [f.path for f in change.files] == ["src/app.py"]
    assert change.files[0].changed_lines == frozenset({2, 3, 12})
    assert {s.path: s.reason for s in change.skipped} == {
        "old.py": "removed",
        "logo.png": "binary",
        "package-lock.json": "lockfile",
        "node_modules/x/index.js": "vendored dependency",
        "static/app.min.js": "generated or build output",
        "big.sql": "diff too large for GitHub to show",
    }


def test_file_list_at_githubs_cap_says_so() -> None:
    entries = [
        {"filename": f"f{i}.py", "status": "added", "patch": "@@ -0,0 +1 @@\n+x", "changes": 1}
        for i in range(300)
    ]
    change = build_change("b" * 40, "a" * 40, entries, limit=300)
    assert len(change.files) == 300
    assert "at most 300 files" in change.skipped[-1].reason
