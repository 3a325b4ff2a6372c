"""6. Injection detection: how much of a varied corpus of attempts to address the grader is
flagged (per category), how many false alarms real clean text raises (per 10,000 changed
lines), and how fast the scan is against the implementation it replaced.

Attempts come from `bench/injection_corpus.py` (phrases in eleven languages, encoded, split,
concatenated, in leetspeak and look-alike letters, and forged prompt structure). Clean text is
the Python source of starlette, SQLAlchemy and Alembic as installed in this environment, each
file scanned as if a candidate had added it, plus this machine's translated manual pages and
program messages (French, German, Spanish, Italian, Portuguese, Russian, Japanese, Chinese,
Arabic, Hindi ...). The baseline for speed is the scanner of commit `BASELINE`, loaded from git
history and run on the same lines in the same process.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from app.review.injection import redact_flagged, scan_text
from bench.common import ROOT, Result, header, quick
from bench.injection_corpus import (
    Sample,
    attacks,
    library_sources,
    manual_pages,
    message_catalogs,
)

BASELINE = "eaf8f4b"  # the scanner before multilingual phrase lists, decoding and skeletons
LIBRARIES = ("starlette", "sqlalchemy", "alembic")
TARGET_RATE = 0.90
TARGET_FALSE = 1.0  # per 10,000 lines


def _flagged(text: str, path: str) -> int:
    return len({hit.line for hit in scan_text(text, where="file", path=path)})


def _rates(result: Result, samples: Sequence[Sample]) -> None:
    total: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for sample in samples:
        total[sample.category] += 1
        caught[sample.category] += bool(scan_text(sample.text, where="file", path=sample.path))
    result.say(f"{'category':<18} {'flagged':>8} {'of':>4}   rate")
    for category in total:
        rate = caught[category] / total[category]
        result.say(f"{category:<18} {caught[category]:>8} {total[category]:>4}   {rate:.1%}")
        result.check(
            f"flagged: {category}", f"{rate:.1%}", f">= {TARGET_RATE:.0%}", rate >= TARGET_RATE
        )
    overall = sum(caught.values()) / sum(total.values())
    result.check(
        f"flagged: all {sum(total.values())} attempts",
        f"{overall:.1%}",
        f">= {TARGET_RATE:.0%}",
        overall >= TARGET_RATE,
    )


def _false_alarms(result: Result, name: str, files: Sequence[tuple[str, str]]) -> None:
    lines = sum(text.count("\n") + 1 for _, text in files)
    flagged: list[str] = []
    for path, text in files:
        for hit in scan_text(text, where="file", path=path):
            flagged.append(f"{path}:{hit.line} {hit.kind} ({hit.phrase})")
    per = len(flagged) / max(lines, 1) * 10_000
    result.say(f"{name}: {len(files)} files, {lines:,} lines, {len(flagged)} flagged lines")
    for line in flagged[:8]:
        result.say(f"    {line}")
    result.check(
        f"false alarms: {name}",
        f"{per:.2f} per 10,000 lines",
        f"<= {TARGET_FALSE:g}",
        per <= TARGET_FALSE,
    )


def _baseline() -> ModuleType | None:
    """The scanner of commit BASELINE, imported from git history under another name."""
    folder = Path(tempfile.mkdtemp(prefix="relo-injection-baseline-"))
    package = folder / "baseline_injection"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("injection", "injection_patterns"):
        try:
            source = subprocess.run(
                ["git", "show", f"{BASELINE}:app/review/{name}.py"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        source = source.replace(
            "app.review.injection_patterns", "baseline_injection.injection_patterns"
        )
        (package / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("baseline_injection.injection")


def _speed(result: Result, files: Sequence[tuple[str, str]]) -> None:
    lines = sum(text.count("\n") + 1 for _, text in files)

    def timed(scan: Callable[[str, str], object]) -> float:
        best = float("inf")
        for _ in range(1 if quick() else 3):
            started = time.perf_counter()
            for path, text in files:
                scan(text, path)
            best = min(best, time.perf_counter() - started)
        return lines / best

    new = timed(lambda text, path: scan_text(text, where="file", path=path))
    redact = timed(lambda text, path: redact_flagged(text))
    old_module = _baseline()
    result.say(f"scan speed on {lines:,} lines of library source (best of runs):")
    result.say(f"    this scanner       {new:>10,.0f} lines/s")
    result.say(f"    redact_flagged     {redact:>10,.0f} lines/s")
    if old_module is None:
        result.check("scan speed vs baseline", "baseline not in git history", "info", True)
        return
    old_scan = old_module.scan_text
    old = timed(lambda text, path: old_scan(text, where="file", path=path))
    result.say(f"    baseline {BASELINE}   {old:>10,.0f} lines/s")
    result.check(
        "scan speed vs baseline",
        f"{new / old:.2f}x ({new:,.0f} vs {old:,.0f} lines/s)",
        "info (reads far more forms of the text)",
        True,
    )


def run() -> Result:
    result = header("injection", "grader-injection detection: rate, false alarms, speed")
    samples = attacks()
    result.say(
        f"corpus: {len(samples)} attempts in {len({s.category for s in samples})} categories"
    )
    _rates(result, samples)
    site = Path(sysconfig.get_paths()["purelib"])
    libraries = LIBRARIES[:1] if quick() else LIBRARIES
    code = list(library_sources(site, libraries))
    _false_alarms(result, "library source (" + ", ".join(libraries) + ")", code)
    docs = list(manual_pages()) + list(message_catalogs())
    if quick():
        docs = docs[:: max(len(docs) // 100, 1)]
    if docs:
        _false_alarms(result, "translated manual pages and messages", docs)
    else:
        result.say("no translated manual pages or messages on this machine")
    _speed(result, code if quick() else code[: len(code) // 2])
    return result


if __name__ == "__main__":
    run()
