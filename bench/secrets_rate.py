"""6. Secrets: what masking catches, what it wrongly flags, and what it costs, against the masking
of commit eaf8f4b (bench/secrets_baseline.py) measured in the same run.

- Detection: every shape of tests/data/secret_shapes.py (generated at run time from a seed, in
  several contexts), per category: the share of samples whose secret no longer appears after
  `mask_secrets`, and the share reported by the file checks (a `relo/secret` finding on the
  secret's line, what reviewers see). A shape counts as masked when 95 % of its samples are.
- The entropy rule: random 20-hex values and 12-character passwords assigned to secret names.
- False positives: `find_secrets` over real, clean code installed on this machine (Starlette and
  SQLAlchemy; npm's JavaScript and Go's standard library when present; at most 400,000 lines
  per language), per 5,000 lines.
- Cost: masking throughput on that clean code cut into hunk-sized pieces (40 lines), the way
  the review path calls it on every text sent to the LLM.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy
import starlette

from app.review import secrets as current
from app.review.file_checks import file_checks
from app.review.models import Change, ChangedFile, Submission
from bench import secrets_baseline as baseline
from bench.common import Result, header, quick
from tests.data.secret_shapes import SHAPES, VALUES, Sample, samples

Mask = Callable[[str], tuple[str, int]]
SAMPLES = 10 if quick() else 40
HUNK_LINES = 40
MAX_LINES = 100_000 if quick() else 400_000  # per language
_MARKER = re.compile(r"\[MASKED:[a-z0-9-]+\]")
_SUFFIXES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".go": "go"}


def masked(sample: Sample, mask: Mask) -> bool:
    """True when no 8 characters of the secret (that its context lacks) survive masking."""
    rest = _MARKER.sub("", mask(sample.text)[0])
    context = sample.text.replace(sample.secret, "\0")
    secret = sample.secret
    windows = (secret[i : i + 8] for i in range(max(1, len(secret) - 7)))
    return not any(w in rest and w not in context for w in windows if "\n" not in w)


def reported(sample: Sample) -> bool:
    """A `relo/secret` finding covers the secret's first line, as reviewers see it."""
    content = f"import os\n\n{sample.text}\n"
    line = content.count("\n", 0, content.index(sample.secret)) + 1
    changed = ChangedFile(path="app/settings.py", status="added", changed_lines=frozenset({1}))
    submission = Submission(
        repo="org/task",
        change=Change(base_sha="a" * 40, head_sha="b" * 40, files=(changed,)),
        contents={"app/settings.py": content.encode()},
    )
    return any(
        f.rule == "relo/secret" and f.start_line <= line <= f.end_line
        for f in file_checks(submission)
    )


def detection(result: Result) -> tuple[int, int]:
    """Per category rates; returns (shapes masked now, shapes in all)."""
    # shapes, samples, masked now, masked by the baseline, reported, shapes >= 95 % now / before
    per: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    shapes_ok = 0
    for shape in SHAPES:
        drawn = samples(shape, SAMPLES)
        new = sum(masked(s, current.mask_secrets) for s in drawn)
        old = sum(masked(s, baseline.mask_secrets) for s in drawn)
        told = sum(reported(s) for s in drawn)
        row = per[shape.category]
        row[0] += 1
        row[1] += len(drawn)
        row[2] += new
        row[3] += old
        row[4] += told
        ok = new >= 0.95 * len(drawn)
        row[5] += ok
        row[6] += old >= 0.95 * len(drawn)
        shapes_ok += ok
        if not ok:
            result.say(f"  below 95 %: {shape.name} {new}/{len(drawn)}")
    result.say(
        f"{'category':<12} {'shapes':>6} {'samples':>7} {'masked':>7} {'reported':>8} "
        f"{'baseline':>8} {'shapes >= 95 %':>14} {'baseline':>8}"
    )
    totals = [0] * 7
    for category, row in per.items():
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        result.say(_row(category, row))
    result.say(_row("all", totals))
    return shapes_ok, len(SHAPES)


def _row(name: str, row: list[int]) -> str:
    shapes, n, new, old, told, ok, ok_before = row
    return (
        f"{name:<12} {shapes:>6} {n:>7} {new / n:>7.1%} {told / n:>8.1%} {old / n:>8.1%} "
        f"{ok:>10}/{shapes:<3} {ok_before:>6}/{shapes}"
    )


def entropy_rule(result: Result) -> float:
    """Masked share of random 20-hex values and 12-character passwords given to secret names."""
    import random

    templates = ('DB_PASSWORD = "@@"', "api_key: @@", "SECRET_KEY=@@", "token = '@@'")
    worst = 1.0
    for kind in ("hex-20", "password-12"):
        rng = random.Random(kind)
        texts = []
        for _ in range(250 if quick() else 2000):
            value = VALUES[kind](rng)
            texts.append((rng.choice(templates).replace("@@", value), value))
        new = sum(v not in current.mask_secrets(t)[0] for t, v in texts) / len(texts)
        old = sum(v not in baseline.mask_secrets(t)[0] for t, v in texts) / len(texts)
        worst = min(worst, new)
        result.say(
            f"entropy rule, {kind:<11}: masked {new:.1%} (baseline {old:.1%}), n={len(texts)}"
        )
    return worst


def clean_corpora() -> dict[str, list[Path]]:
    """Clean code on this machine: two Python libraries always, JavaScript and Go if present."""
    found: dict[str, list[Path]] = {}
    roots = [Path(starlette.__file__).parent, Path(sqlalchemy.__file__).parent]
    roots += [Path("/usr/lib/node_modules/npm"), Path("/usr/share/nodejs")]
    roots += sorted(Path("/usr/lib").glob("go-*/src")) + sorted(Path("/usr/share").glob("go-*/src"))
    lines: dict[str, int] = defaultdict(int)
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            language = _SUFFIXES.get(path.suffix)
            if not language or not path.is_file() or "testdata" in path.parts:
                continue
            if lines[language] < MAX_LINES:  # Go's library alone is 2 million lines
                found.setdefault(language, []).append(path)
                lines[language] += path.read_bytes().count(b"\n") + 1
    return found


def _hunks(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        lines = path.read_text("utf-8", "replace").split("\n")
        for start in range(0, len(lines), HUNK_LINES):
            yield "\n".join(lines[start : start + HUNK_LINES])


def false_positives(result: Result, corpora: dict[str, list[Path]]) -> tuple[float, int]:
    """Hits per 5,000 lines over all corpora, and the lines scanned."""
    total_lines = total_hits = 0
    for language, paths in corpora.items():
        lines = hits = old_hits = 0
        for path in paths:
            text = path.read_text("utf-8", "replace")
            lines += text.count("\n") + 1
            found = current.find_secrets(text)
            hits += len(found)
            old_hits += len(baseline.find_secrets(text))
            for hit in found[:3]:
                result.say(f"  flagged: {path.name}:{hit.line} {hit.kind}")
        total_lines += lines
        total_hits += hits
        result.say(
            f"clean {language:<10}: {len(paths):>5} files {lines:>8,} lines, {hits} flagged "
            f"({hits / lines * 5000:.3f} per 5,000 lines; baseline {old_hits}, "
            f"{old_hits / lines * 5000:.3f})"
        )
    if "go" not in corpora:
        result.say("clean go        : not installed (apt-get install golang-1.19-src adds it)")
    return total_hits / max(total_lines, 1) * 5000, total_lines


def throughput(result: Result, corpora: dict[str, list[Path]]) -> float:
    """Masking throughput new / baseline on hunk-sized pieces of the clean code."""
    hunks = [h for paths in corpora.values() for h in _hunks(paths[: 60 if quick() else 400])]
    size = sum(len(h) for h in hunks)
    rates = {}
    for name, mask in (("baseline", baseline.mask_secrets), ("current", current.mask_secrets)):
        best = float("inf")
        for _ in range(1 if quick() else 3):
            started = time.perf_counter()
            for hunk in hunks:
                mask(hunk)
            best = min(best, time.perf_counter() - started)
        rates[name] = size / best / 1e6
    ratio = rates["current"] / rates["baseline"]
    result.say(
        f"throughput on {len(hunks):,} hunks of {HUNK_LINES} lines ({size / 1e6:.1f} MB): "
        f"current {rates['current']:.1f} MB/s, baseline {rates['baseline']:.1f} MB/s"
    )
    result.say(f"RATIO throughput current / baseline: {ratio:.2f}")
    return ratio


def run() -> Result:
    result = header("secrets", "secrets masked before text leaves, false alarms, masking cost")
    available = importlib.util.find_spec("detect_secrets") is not None
    result.say(
        f"detect-secrets installed: {available}; {len(SHAPES)} shapes, {SAMPLES} samples each"
    )
    shapes_ok, shapes = detection(result)
    worst = entropy_rule(result)
    corpora = clean_corpora()
    per_5000, lines = false_positives(result, corpora)
    ratio = throughput(result, corpora)
    result.check(
        "shapes masked (>= 95 % of samples)",
        f"{shapes_ok}/{shapes} = {shapes_ok / shapes:.1%}",
        ">= 95 % of >= 60 shapes",
        shapes >= 60 and shapes_ok >= 0.95 * shapes,
    )
    result.check("entropy rule, worst masked share", f"{worst:.1%}", ">= 99 %", worst >= 0.99)
    result.check(
        f"false positives on {lines:,} clean lines",
        f"{per_5000:.3f} per 5,000 lines",
        "<= 1",
        per_5000 <= 1,
    )
    result.check("RATIO masking throughput / baseline", f"{ratio:.2f}", ">= 0.4", ratio >= 0.4)
    return result


if __name__ == "__main__":
    run()
