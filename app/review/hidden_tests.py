"""Reading the hidden tests' results: the grader's artifact (a zip of JUnit XML files) or one
JUnit file, into a `TestReport` (the values live in `tests_outcome` and are re-exported here).

The artifact is built by the organisation's grader workflow, but the candidate's code runs in
that workflow: the zip and its XML are treated as hostile input. Sizes and member counts are
checked from the zip's directory before anything is decompressed, reads are bounded again, no
member is ever written to disk, and XML is parsed by defusedxml with DTDs refused (so no entity
expansion and no external file is ever read) before junitparser reads the cases.

Pure and synchronous: parsing a large report is CPU work, so callers on the event loop use
`read_artifact`, which runs it in a worker thread and turns a bad artifact into an outcome.
"""

from __future__ import annotations

import asyncio
import io
import lzma
import math
import re
import zipfile
import zlib
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped
from junitparser import TestCase as JUnitCase

from app.review.tests_outcome import (
    CaseResult,
    NoReport,
    NotJUnitError,
    Outcome,
    TestOutcome,
    TestReport,
    TestReportError,
    TooManyCasesError,
)

__all__ = [
    "CaseResult",
    "NoReport",
    "Outcome",
    "TestOutcome",
    "TestReport",
    "TestReportError",
    "parse_artifact",
    "parse_junit",
    "read_artifact",
]

MAX_ZIP_BYTES = 20 * 1024 * 1024
MAX_XML_BYTES = 20 * 1024 * 1024
MAX_CASES = 10_000
MAX_MEMBERS = 1_000
MAX_NAME_CHARS = 300
MAX_MESSAGE_CHARS = 300
MAX_OUTPUT_CHARS = 4_000
_OUTPUT_HEAD = 1_000
# pytest's junit_logging heads every capture with this line, even an empty one.
_PYTEST_CAPTURE_HEADER = re.compile(r"\A\s*-+ Captured (?:Out|Err|Log) -+[ \t]*$", re.MULTILINE)


# --- reading one XML file -----------------------------------------------------------------------


def _clean(text: str | None, limit: int) -> str:
    if not text:
        return ""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cap_output(text: str) -> str:
    """Keep the start and the end (where a traceback says what went wrong)."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    tail = MAX_OUTPUT_CHARS - _OUTPUT_HEAD - 3
    return f"{text[:_OUTPUT_HEAD]}\n…\n{text[-tail:]}"


def _time(value: str | None) -> float:
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


def _line(value: str | None, zero_based: bool) -> int | None:
    if not value or not value.strip().isdigit():
        return None
    line = int(value) + (1 if zero_based else 0)
    return line if line >= 1 else None


def _case(elem: Element, zero_based: bool) -> CaseResult:
    case = JUnitCase.fromelem(elem)  # type: ignore[no-untyped-call]
    results = case.result
    outcome, result = Outcome.PASSED, None
    for kind, cls in (
        (Outcome.ERRORED, Error),
        (Outcome.FAILED, Failure),
        (Outcome.SKIPPED, Skipped),
    ):
        result = next((r for r in results if isinstance(r, cls)), None)
        if result is not None:
            outcome = kind
            break
    message, output = "", []
    if result is not None:
        body = (result.text or "").strip()
        first_line = body.splitlines()[0] if body else ""
        message = _clean(result.message or first_line, MAX_MESSAGE_CHARS)
        if body and outcome is not Outcome.SKIPPED:
            output.append(body)
    for label, text in (("stdout", case.system_out), ("stderr", case.system_err)):
        text = _PYTEST_CAPTURE_HEADER.sub("", text or "").strip()
        if text:
            output.append(f"--- {label} ---\n{text}")
    return CaseResult(
        name=_clean(elem.get("name"), MAX_NAME_CHARS) or "(unnamed)",
        outcome=outcome,
        classname=_clean(elem.get("classname"), MAX_NAME_CHARS),
        file=_clean(elem.get("file"), MAX_NAME_CHARS) or None,
        line=_line(elem.get("line"), zero_based),
        time=_time(elem.get("time")),
        message=message,
        output=_cap_output("\n".join(output)),
    )


def _is_pytest(root: Element) -> bool:
    """pytest writes 0-based line numbers (`node.location`); other tools write 1-based ones."""
    return root.get("name") in {"pytest", "pytest tests"} or any(
        suite.get("name") == "pytest" for suite in root.iter("testsuite")
    )


def _root(xml_bytes: bytes, source: str) -> Element:
    try:
        return defusedxml.ElementTree.fromstring(
            xml_bytes, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise TestReportError(
            f"{source} declares a DTD, which is refused (no entity or external file is read)"
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise TestReportError(f"{source} declares XML entities, which are refused") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise TestReportError(
            f"{source} is not valid XML (line {line}, column {column + 1})"
        ) from None
    except (ValueError, LookupError) as exc:  # e.g. an encoding Python does not know
        raise TestReportError(f"{source} is not valid XML ({exc})") from None


def parse_junit(
    xml_bytes: bytes,
    *,
    source: str = "the test report",
    max_xml_bytes: int = MAX_XML_BYTES,
    max_cases: int = MAX_CASES,
) -> TestReport:
    """One JUnit XML file (a <testsuites> or <testsuite> root, suites nested at any depth)."""
    if len(xml_bytes) > max_xml_bytes:
        raise TestReportError(f"{source} exceeds {max_xml_bytes:,} bytes")
    root = _root(xml_bytes, source)
    try:
        JUnitXml.fromroot(root)  # type: ignore[arg-type]  # it takes an etree element
    except JUnitXmlError:
        raise NotJUnitError(
            f"{source} is not a JUnit report (its root is <{_clean(str(root.tag), 60)}>)"
        ) from None
    zero_based = _is_pytest(root)
    cases: list[CaseResult] = []
    # iter() walks suites nested at any depth without recursion.
    for elem in root.iter("testcase"):
        if len(cases) == max_cases:
            raise TooManyCasesError(f"{source} exceeds {max_cases:,} test cases")
        cases.append(_case(elem, zero_based))
    return TestReport(tuple(cases), (source,))


# --- reading the artifact -----------------------------------------------------------------------


# A corrupt or encrypted member, an unsupported compression: each library raises its own.
_EXTRACT_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    OSError,
)


def _printable_name(name: str) -> str:
    return _clean("".join(c if c.isprintable() else "?" for c in name), 200)


def parse_artifact(
    zip_bytes: bytes,
    *,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    max_xml_bytes: int = MAX_XML_BYTES,
    max_cases: int = MAX_CASES,
    max_members: int = MAX_MEMBERS,
) -> TestReport:
    """Every JUnit file (*.xml) of the artifact's zip, merged. Other members are ignored; XML
    files whose root is not a JUnit report (a coverage report, say) too."""
    if len(zip_bytes) > max_zip_bytes:
        raise TestReportError(f"the artifact exceeds {max_zip_bytes:,} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile:
        raise TestReportError("the artifact is not a zip file") from None
    with archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise TestReportError(f"the artifact exceeds {max_members:,} files")
        xml = [m for m in members if not m.is_dir() and m.filename.lower().endswith(".xml")]
        if not xml:
            raise TestReportError("the artifact holds no JUnit XML")
        # Declared sizes first, so a zip bomb is refused before anything is decompressed;
        # zipfile never returns more than a member declares, and reads are bounded below too.
        if sum(m.file_size for m in xml) > max_xml_bytes:
            raise TestReportError(f"the artifact's XML files exceed {max_xml_bytes:,} bytes")
        report = TestReport(())
        left_bytes, left_cases, junit = max_xml_bytes, max_cases, 0
        for member in sorted(xml, key=lambda m: m.filename):
            name = _printable_name(member.filename)
            try:
                with archive.open(member) as stream:
                    data = stream.read(left_bytes + 1)
            except _EXTRACT_ERRORS as exc:
                raise TestReportError(
                    f"{name} in the artifact cannot be extracted ({exc})"
                ) from None
            if len(data) > left_bytes:
                raise TestReportError(f"the artifact's XML files exceed {max_xml_bytes:,} bytes")
            left_bytes -= len(data)
            try:
                part = parse_junit(
                    data, source=name, max_xml_bytes=max_xml_bytes, max_cases=left_cases
                )
            except NotJUnitError:
                continue
            except TooManyCasesError:
                raise TooManyCasesError(f"the artifact exceeds {max_cases:,} test cases") from None
            junit += 1
            left_cases -= part.total
            report = report.merged(part)
        if not junit:
            raise TestReportError("the artifact holds no JUnit XML")
        return report


async def read_artifact(
    zip_bytes: bytes,
    *,
    run_url: str = "",
    max_zip_bytes: int = MAX_ZIP_BYTES,
    max_xml_bytes: int = MAX_XML_BYTES,
    max_cases: int = MAX_CASES,
    max_members: int = MAX_MEMBERS,
) -> TestOutcome:
    """`parse_artifact` off the event loop; an unreadable artifact is an outcome, not an error."""
    try:
        report = await asyncio.to_thread(
            parse_artifact,
            zip_bytes,
            max_zip_bytes=max_zip_bytes,
            max_xml_bytes=max_xml_bytes,
            max_cases=max_cases,
            max_members=max_members,
        )
    except TestReportError as exc:
        return TestOutcome.none(NoReport.UNPARSEABLE, str(exc), run_url=run_url)
    return TestOutcome.of(report, run_url=run_url)
