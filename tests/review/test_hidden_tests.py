"""Reading the grader's artifact: JUnit XML from pytest and other tools, and hostile zips and XML
(bombs, entities, huge reports) refused with a sentence before they cost memory."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.review.hidden_tests import (
    MAX_OUTPUT_CHARS,
    NoReport,
    Outcome,
    TestOutcome,
    TestReport,
    TestReportError,
    parse_artifact,
    parse_junit,
    read_artifact,
)
from app.review.tests_outcome import outcome_from_json, outcome_json

# What pytest 9 writes (--junitxml, junit_family=xunit1): `line` is 0-based.
PYTEST_XML = b"""<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">\
<testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.042">\
<testcase classname="test_x" name="test_a" file="test_x.py" line="3" time="0.25">\
<failure message="assert 1 == 2">def test_a():
        print("hello out")
&gt;       assert 1 == 2
E       assert 1 == 2

test_x.py:6: AssertionError</failure></testcase>\
<testcase classname="test_x" name="test_b" file="test_x.py" line="8" time="0.5" />\
<testcase classname="test_x" name="test_c" file="test_x.py" line="11" time="0.000">\
<skipped type="pytest.skip" message="nah">/tmp/test_x.py:12: nah</skipped></testcase>\
</testsuite></testsuites>"""

# Maven Surefire / Gradle style: a lone <testsuite>, errors, output, and 1-based lines.
SUREFIRE_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.CalcTest" tests="4" failures="1" errors="1" skipped="0" time="1.5">
  <testcase name="adds" classname="com.acme.CalcTest" time="0.5"/>
  <testcase name="divides" classname="com.acme.CalcTest" time="0.5"
            file="src/main/java/Calc.java" line="12">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="AssertionFailedError">
      at com.acme.CalcTest.divides(CalcTest.java:20)</failure>
    <system-out>candidate says hi</system-out>
  </testcase>
  <testcase name="parses" classname="com.acme.CalcTest" time="0.5">
    <error type="NullPointerException">java.lang.NullPointerException
      at com.acme.Calc.parse(Calc.java:40)</error>
    <system-err>stack on stderr</system-err>
  </testcase>
  <testcase name="rounds" classname="com.acme.CalcTest"/>
</testsuite>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuite name="x"><testcase name="&lol9;"/></testsuite>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite name="x"><testcase name="t"><failure message="&secret;"/></testcase></testsuite>
"""


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def suite(*cases: str) -> bytes:
    return f"<testsuites><testsuite name='s'>{''.join(cases)}</testsuite></testsuites>".encode()


# --- one JUnit file -------------------------------------------------------------------------------


def test_pytest_report_gives_outcomes_messages_and_one_based_lines() -> None:
    report = parse_junit(PYTEST_XML)
    a, b, c = report.cases
    assert (a.name, a.classname, a.outcome) == ("test_a", "test_x", Outcome.FAILED)
    assert (a.file, a.line) == ("test_x.py", 4)  # pytest's 0-based 3 is the def on line 4
    assert a.message == "assert 1 == 2"
    assert "test_x.py:6: AssertionError" in a.output
    assert (b.outcome, b.line, c.outcome, c.message) == (Outcome.PASSED, 9, Outcome.SKIPPED, "nah")
    assert (report.passed, report.failed, report.errored, report.skipped) == (1, 1, 0, 1)
    assert report.duration == pytest.approx(0.75)
    assert report.failing == (a,)


def test_surefire_report_gives_errors_output_and_keeps_lines() -> None:
    report = parse_junit(SUREFIRE_XML, source="surefire.xml")
    adds, divides, parses, rounds = report.cases
    assert adds.outcome is Outcome.PASSED and rounds.outcome is Outcome.PASSED
    assert divides.outcome is Outcome.FAILED
    assert (divides.file, divides.line) == ("src/main/java/Calc.java", 12)
    assert divides.message == "expected: <2> but was: <3>"
    assert "--- stdout ---\ncandidate says hi" in divides.output
    assert parses.outcome is Outcome.ERRORED
    assert parses.message == "java.lang.NullPointerException"  # no message: the first line
    assert "--- stderr ---\nstack on stderr" in parses.output
    assert report.sources == ("surefire.xml",)
    assert divides.full_name == "com.acme.CalcTest.divides"


GRADER_REPORTS = Path(__file__).parents[1] / "data" / "grader" / "junit"


def test_the_sample_graders_real_reports() -> None:
    """What deploy/grade.yml's test step wrote for the sample submissions (tests/data/grader)."""
    passing = parse_junit((GRADER_REPORTS / "passing.xml").read_bytes())
    assert (passing.total, passing.passed, passing.skipped, passing.failing) == (8, 7, 1, ())
    assert all(case.output == "" for case in passing.cases)  # pytest's empty capture headers
    partial = parse_junit((GRADER_REPORTS / "partial.xml").read_bytes(), source="partial.xml")
    assert (partial.passed, partial.failed, partial.errored, partial.skipped) == (5, 1, 1, 1)
    errored, failed = partial.failing
    assert errored.full_name == "hidden.test_reader.test_reader_counts_a_file"
    assert errored.message.startswith("failed on setup with \"AttributeError: module 'textstats'")
    assert (errored.file, errored.line) == ("hidden/test_reader.py", 11)
    assert failed.name == "test_top_words_ignore_case"
    assert failed.message.startswith("AssertionError: assert [('The', 2), ('cat', 2)] == ")
    assert "--- stdout ---\nDEBUG counting 45 characters" in failed.output  # the code printed it
    assert "Captured Out" not in failed.output


def test_suites_nested_deeper_than_the_recursion_limit_are_read() -> None:
    depth = 5_000
    xml = "<testsuites>" + "<testsuite>" * depth + "<testcase name='deep'/>"
    xml += "</testsuite>" * depth + "</testsuites>"
    report = parse_junit(xml.encode())
    assert [c.name for c in report.cases] == ["deep"]


def test_odd_attributes_do_not_break_a_case() -> None:
    report = parse_junit(
        suite(
            "<testcase time='NaN' line='-3' file='' />", "<testcase name='t' time='-1' line='x'/>"
        )
    )
    unnamed, t = report.cases
    assert (unnamed.name, unnamed.time, unnamed.line, unnamed.file) == (
        "(unnamed)",
        0.0,
        None,
        None,
    )
    assert (t.time, t.line) == (0.0, None)


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(TestReportError, match=r"^bomb\.xml declares a DTD, which is refused"):
        parse_junit(BILLION_LAUGHS, source="bomb.xml")


def test_external_entities_are_never_read() -> None:
    with pytest.raises(TestReportError, match="declares a DTD") as caught:
        parse_junit(EXTERNAL_ENTITY)
    assert "root:" not in str(caught.value)


def test_invalid_xml_says_where() -> None:
    with pytest.raises(TestReportError, match=r"^r\.xml is not valid XML \(line 1, column \d+\)$"):
        parse_junit(b"<testsuite><testcase></testsuite>", source="r.xml")


def test_an_unknown_encoding_is_a_sentence_not_a_crash() -> None:
    with pytest.raises(TestReportError, match="is not valid XML"):
        parse_junit(b'<?xml version="1.0" encoding="x-nope"?><testsuite/>')


def test_xml_that_is_not_junit_is_named() -> None:
    with pytest.raises(TestReportError, match=r"is not a JUnit report \(its root is <coverage>\)"):
        parse_junit(b"<coverage line-rate='1'/>")


def test_huge_reports_are_capped_by_bytes_and_cases() -> None:
    with pytest.raises(TestReportError, match="exceeds 100 bytes"):
        parse_junit(suite("<testcase name='x'/>" * 10), max_xml_bytes=100)
    with pytest.raises(TestReportError, match="exceeds 5 test cases"):
        parse_junit(suite("<testcase name='x'/>" * 6), max_cases=5)
    assert parse_junit(suite("<testcase name='x'/>" * 5), max_cases=5).total == 5


def test_candidate_output_and_messages_are_capped_keeping_the_traceback_end() -> None:
    printed = "spam " * 100_000 + "THE END"
    report = parse_junit(
        suite(
            f"<testcase name='t'><failure message='{'m' * 5_000}'>{printed}</failure>"
            f"<system-out>{'o' * 100_000}</system-out></testcase>"
        )
    )
    (case,) = report.cases
    assert len(case.message) <= 300
    assert len(case.output) <= MAX_OUTPUT_CHARS
    assert case.output.startswith("spam spam")
    assert case.output.endswith("o" * 100)  # the end of what was printed survives


# --- the artifact ---------------------------------------------------------------------------------


def test_artifact_merges_every_junit_file_and_skips_other_files() -> None:
    artifact = zip_of(
        {
            "junit/b.xml": SUREFIRE_XML,
            "junit/a.xml": PYTEST_XML,
            "coverage.xml": b"<coverage/>",
            "log.txt": b"not xml",
            "junit/": b"",
        }
    )
    report = parse_artifact(artifact)
    assert report.sources == ("junit/a.xml", "junit/b.xml")
    assert report.total == 7
    assert (report.passed, report.failed, report.errored, report.skipped) == (3, 2, 1, 1)


def test_member_names_are_labels_only_never_paths_written() -> None:
    artifact = zip_of({"../../evil.xml": PYTEST_XML, "/abs/x.xml": PYTEST_XML})
    report = parse_artifact(artifact)
    assert report.sources == ("../../evil.xml", "/abs/x.xml")
    assert report.total == 6


def test_an_artifact_without_junit_says_so() -> None:
    for artifact in (zip_of({"log.txt": b"x"}), zip_of({"c.xml": b"<coverage/>"}), zip_of({})):
        with pytest.raises(TestReportError, match=r"^the artifact holds no JUnit XML$"):
            parse_artifact(artifact)


def test_not_a_zip() -> None:
    with pytest.raises(TestReportError, match=r"^the artifact is not a zip file$"):
        parse_artifact(b"<testsuite/>")


def test_zip_bomb_is_refused_from_the_directory_before_decompressing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = zip_of({"a.xml": b"<" + b" " * 50_000_000 + b"/>"})
    assert len(bomb) < 100_000

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", never)
    with pytest.raises(TestReportError, match="XML files exceed 20,971,520 bytes"):
        parse_artifact(bomb)


def test_many_small_members_are_capped() -> None:
    artifact = zip_of({f"r{i}.xml": suite("<testcase name='x'/>") for i in range(30)})
    with pytest.raises(TestReportError, match="exceeds 20 files"):
        parse_artifact(artifact, max_members=20)
    with pytest.raises(TestReportError, match=r"^the artifact exceeds 25 test cases$"):
        parse_artifact(artifact, max_cases=25)
    with pytest.raises(TestReportError, match=r"^the artifact's XML files exceed 500 bytes$"):
        parse_artifact(artifact, max_xml_bytes=500)
    with pytest.raises(TestReportError, match=r"^the artifact exceeds 100 bytes$"):
        parse_artifact(artifact, max_zip_bytes=100)


def test_a_member_whose_data_is_corrupt_is_a_sentence() -> None:
    good = zip_of({"a.xml": PYTEST_XML}, zipfile.ZIP_STORED)
    corrupt = good.replace(b"test_a", b"test_A", 1)  # CRC no longer matches
    with pytest.raises(TestReportError, match=r"^a\.xml in the artifact cannot be extracted"):
        parse_artifact(corrupt)


def test_a_bomb_inside_the_artifact_is_refused_with_the_member_named() -> None:
    with pytest.raises(TestReportError, match=r"^junit/x\.xml declares a DTD"):
        parse_artifact(zip_of({"junit/x.xml": BILLION_LAUGHS}))


async def test_read_artifact_turns_a_bad_artifact_into_an_outcome() -> None:
    bad = await read_artifact(b"nope", run_url="https://github.com/acme/g/actions/runs/1")
    assert bad.report is None and bad.missing is NoReport.UNPARSEABLE
    assert bad.why_none == "the test report could not be read (the artifact is not a zip file)"
    assert bad.run_url.endswith("/runs/1")
    good = await read_artifact(zip_of({"a.xml": PYTEST_XML}))
    assert good.report is not None and good.report.total == 3


# --- the outcome value ----------------------------------------------------------------------------


def test_an_outcome_is_a_report_or_a_reason_never_both_or_neither() -> None:
    with pytest.raises(ValueError):
        TestOutcome()
    with pytest.raises(ValueError):
        TestOutcome(report=TestReport(()), missing=NoReport.CANCELLED)
    timed_out = TestOutcome.none(NoReport.TIMED_OUT, "after 20 minutes.")
    assert timed_out.why_none == (
        "the grader workflow did not finish within its time limit (after 20 minutes)"
    )
    assert TestOutcome.of(TestReport(())).why_none == ""


def test_outcomes_survive_their_stored_form() -> None:
    report = parse_artifact(zip_of({"a.xml": PYTEST_XML, "b.xml": SUREFIRE_XML}))
    outcome = TestOutcome.of(report, run_url="u")
    data = outcome_json(outcome)
    assert data["counts"] == {
        "passed": 3,
        "failed": 2,
        "errored": 1,
        "skipped": 1,
        "total": 7,
    }
    assert outcome_from_json(data) == outcome
    missing = TestOutcome.none(NoReport.NO_PERMISSION, "403", run_url="u")
    assert outcome_from_json(outcome_json(missing)) == missing
