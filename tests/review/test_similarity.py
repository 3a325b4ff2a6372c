"""Fingerprints: a disguised copy keeps most of them, an independent solution of the same brief
shares none, starter code and boilerplate never count; evidence renders escaped.

Fixtures: tests/data/similarity/ (README there says how each file was made)."""

from __future__ import annotations

import difflib
import json
import random
from pathlib import Path

import cmarkgfm  # type: ignore[import-untyped]
import pytest

from app.review.models import Change, ChangedFile, Submission
from app.review.similarity import (
    Fingerprint,
    fingerprint_file,
    fingerprint_files,
    fingerprint_submission,
    fingerprint_text,
    winnow,
)
from app.review.similarity_evidence import Match, Region, matches_json, regions, render_matches
from app.similarity_store import MIN_SHARE

DATA = Path(__file__).resolve().parents[1] / "data" / "similarity"
LANGUAGES = [("python", "py"), ("javascript", "js")]


def added_lines(old: str, new: str) -> frozenset[int]:
    """The new-side lines a diff from `old` to `new` adds, as git reports them."""
    a, b = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return frozenset(
        line
        for tag, _i1, _i2, j1, j2 in matcher.get_opcodes()
        if tag in ("replace", "insert")
        for line in range(j1 + 1, j2 + 1)
    )


def read(lang: str, ext: str, name: str) -> str:
    return (DATA / lang / f"{name}.{ext}").read_text()


def submission_prints(lang: str, ext: str, name: str) -> list[Fingerprint]:
    text = read(lang, ext, name)
    return fingerprint_file(f"ledger.{ext}", text, added_lines(read(lang, ext, "starter"), text))


def share(ours: list[Fingerprint], theirs: list[Fingerprint]) -> float:
    mine = {p.hash for p in ours}
    return len(mine & {p.hash for p in theirs}) / len(mine)


@pytest.mark.parametrize(("lang", "ext"), LANGUAGES)
def test_a_disguised_copy_keeps_most_fingerprints(lang: str, ext: str) -> None:
    original = submission_prints(lang, ext, "original")
    disguised = submission_prints(lang, ext, "disguised")
    assert len(original) > 40  # enough code for the share to mean something
    assert share(original, disguised) >= 0.6
    assert share(disguised, original) >= 0.6


@pytest.mark.parametrize(("lang", "ext"), LANGUAGES)
def test_independent_solutions_share_less_than_the_threshold(lang: str, ext: str) -> None:
    original = submission_prints(lang, ext, "original")
    independent = submission_prints(lang, ext, "independent")
    assert share(original, independent) < MIN_SHARE
    assert share(independent, original) < MIN_SHARE


@pytest.mark.parametrize(("lang", "ext"), LANGUAGES)
def test_starter_code_never_counts(lang: str, ext: str) -> None:
    starter = read(lang, ext, "starter")
    original, independent = read(lang, ext, "original"), read(lang, ext, "independent")
    # Counted whole, both files share the starter's fingerprints ...
    whole = share(fingerprint_file(f"a.{ext}", original), fingerprint_file(f"a.{ext}", independent))
    assert whole > 0.2
    # ... but only the lines a submission added are its own.
    assert fingerprint_file(f"a.{ext}", starter, added_lines(starter, starter)) == []
    assert (
        share(submission_prints(lang, ext, "original"), submission_prints(lang, ext, "independent"))
        == 0
    )
    own = added_lines(starter, original)
    assert all(
        set(range(p.start_line, p.end_line + 1)) & own
        for p in submission_prints(lang, ext, "original")
    )


def test_starter_copied_into_a_new_file_is_subtracted() -> None:
    starter = read("python", "py", "starter")
    copied = fingerprint_file("src/helpers.py", starter)  # an added file: every line is "theirs"
    assert copied
    assert (
        fingerprint_file("src/helpers.py", starter, exclude=fingerprint_text("s.py", starter)) == []
    )


def test_boilerplate_globs_and_unknown_files_are_skipped() -> None:
    text = read("javascript", "js", "original")
    files = {
        "src/ledger.js": (text, None),
        "vendor/lib/ledger.js": (text, None),
        "dist/app.min.js": (text, None),
        "notes.unknownext": (text, None),
    }
    prints = fingerprint_files(files, boilerplate=["vendor/", "*.min.js"])
    assert {p.path for p in prints} == {"src/ledger.js"}


def test_a_submission_counts_added_lines_of_modified_files_and_whole_added_files() -> None:
    starter = read("python", "py", "starter").encode()
    original = read("python", "py", "original")
    own = added_lines(starter.decode(), original)
    sub = Submission(
        repo="org/task-ann",
        change=Change(
            base_sha="a" * 40,
            head_sha="b" * 40,
            files=(
                ChangedFile("ledger.py", "modified", own),
                ChangedFile("copy_of_starter.py", "added", frozenset()),
                ChangedFile("gone.py", "removed", frozenset()),
            ),
        ),
        contents={"ledger.py": original.encode(), "copy_of_starter.py": starter},
    )
    prints = fingerprint_submission(sub)
    assert {p.path for p in prints} == {"ledger.py", "copy_of_starter.py"}
    kept = fingerprint_submission(sub, exclude=fingerprint_text("s.py", starter.decode()))
    assert {p.path for p in kept} == {"ledger.py"}
    assert fingerprint_submission(sub, boilerplate=["copy_of_*"]) == kept


def test_renames_layout_and_comments_do_not_change_fingerprints() -> None:
    a = "def total(items):\n    s = 0\n    for x in items:\n        s += x * 2\n    return s\n"
    b = (
        "# sums\ndef grand_total( values ) :\n    '''Doc.'''\n    acc = 0  # start\n"
        "    for v in values: acc += v * 7\n    return acc\n"
    )
    ha = {p.hash for p in fingerprint_file("a.py", a, k=5, w=2)}
    hb = {p.hash for p in fingerprint_file("b.py", b, k=5, w=2)}
    assert ha and ha == hb


def test_winnowing_keeps_a_fingerprint_in_every_window() -> None:
    rng = random.Random(14)
    for _ in range(200):
        hashes = [rng.randrange(50) for _ in range(rng.randrange(1, 80))]
        w = rng.randrange(1, 12)
        kept = set(winnow(hashes, w))
        assert kept
        for start in range(len(hashes) - w + 1):
            window = range(start, start + w)
            assert kept & set(window)
            assert min(hashes[i] for i in window) in {hashes[i] for i in kept & set(window)}


def test_regions_pair_reordered_functions_side_by_side() -> None:
    original = submission_prints("python", "py", "original")
    disguised = submission_prints("python", "py", "disguised")
    found = regions(original, disguised)
    text_o = read("python", "py", "original").split("\n")
    text_d = read("python", "py", "disguised").split("\n")
    # apply_transactions (original) is process (disguised), defined in another order.
    o_line = next(i for i, t in enumerate(text_o, 1) if "def apply_transactions" in t)
    d_line = next(i for i, t in enumerate(text_d, 1) if "def process" in t)
    region = next(r for r in found if r.start_line <= o_line + 3 <= r.end_line)
    assert region.other_start <= d_line + 6 <= region.other_end
    assert len(found) >= 4  # the functions come back as separate regions


def test_render_escapes_names_and_json_round_trips() -> None:
    evil = "src/a|b`c @admin <img>.py"
    match = Match(
        repo="org/task-@bob",
        review_id=7,
        shared=30,
        share=0.75,
        their_share=0.5,
        regions=(Region(evil, 3, 20, "x.py", 40, 58, 12),),
    )
    text = render_matches([match])
    html = str(cmarkgfm.github_flavored_markdown_to_html(text))
    assert "75%" in html and "50%" in html
    assert "<img" not in html  # the name is shown, never rendered
    assert html.count("<td>") == 4  # one row of four cells: the pipe in the name split nothing
    assert "@bob" not in text  # a repo name in the table mentions nobody
    assert "<code>src/a|b`c @admin &lt;img&gt;.py</code> lines 3-20" in html
    assert "<code>x.py</code> lines 40-58" in html
    assert render_matches([]) == ""
    data = json.loads(json.dumps(matches_json([match])))
    assert data[0]["repo"] == "org/task-@bob"
    assert data[0]["regions"][0] == {
        "path": evil,
        "lines": [3, 20],
        "other_path": "x.py",
        "other_lines": [40, 58],
        "prints": 12,
    }
