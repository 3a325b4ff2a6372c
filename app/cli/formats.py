"""A finished review as JSON (everything) or SARIF 2.1.0 (findings, for GitHub code scanning).

SARIF carries no scores: uploaded to a candidate's repository it would show them the grade.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

from app.review.assignment import Assignment
from app.review.models import Finding, Review, Severity
from app.review.tests_outcome import outcome_json

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "Relo Review"
SARIF_LEVELS = {Severity.NOTICE: "note", Severity.WARNING: "warning", Severity.ERROR: "error"}


def tool_version() -> str:
    try:
        return version("relo-review")
    except PackageNotFoundError:
        return "0.0.0"


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "start_line": finding.start_line,
        "end_line": finding.end_line,
        "severity": finding.severity.value,
        "rule": finding.rule,
        "title": finding.title,
        "message": finding.message,
        "source": finding.source,
        "suggestion": finding.suggestion,
    }


def review_json(review: Review, *, base_sha: str, assignment: Assignment) -> dict[str, Any]:
    total = review.total
    return {
        "assignment": assignment.id,
        "title": review.title,
        "base_sha": base_sha,
        "head_sha": review.head_sha,
        "summary": review.summary,
        "total": {"score": total[0], "points": total[1]} if total else None,
        "scores": [
            {
                "criterion": s.criterion_id,
                "points": s.points,
                "score": s.score,
                "rationale": s.rationale,
                "evidence": [
                    {"path": e.path, "start_line": e.start_line, "end_line": e.end_line}
                    for e in s.evidence
                ],
            }
            for s in review.scores
        ],
        "findings": [finding_json(f) for f in review.findings],
        "outside_diff": [finding_json(f) for f in review.outside_diff],
        "flags": [finding_json(f) for f in review.flags],
        "files_reviewed": review.files_reviewed,
        "skipped": [{"path": s.path, "reason": s.reason} for s in review.skipped],
        "notes": list(review.notes),
        "dropped": dict(review.dropped),
        "usage": {
            "prompt_tokens": sum(u.prompt_tokens for u in review.usage),
            "completion_tokens": sum(u.completion_tokens for u in review.usage),
        },
        "cost_usd": review.cost_usd,
        "tests": outcome_json(review.tests) if review.tests else None,
    }


def _fingerprint(finding: Finding) -> str:
    key = f"{finding.rule}\0{finding.path}\0{finding.message}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _rule(rule_id: str, finding: Finding) -> dict[str, Any]:
    text = finding.title or rule_id
    return {
        "id": rule_id,
        "shortDescription": {"text": text},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": SARIF_LEVELS[finding.severity]},
        "properties": {"tags": [finding.source]},
    }


def review_sarif(review: Review) -> dict[str, Any]:
    """One run with one rule per rule id and one result per finding on a changed line."""
    rules: dict[str, int] = {}
    descriptors: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for finding in review.findings:
        rule_id = finding.rule or finding.source
        if rule_id not in rules:
            rules[rule_id] = len(descriptors)
            descriptors.append(_rule(rule_id, finding))
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": rules[rule_id],
            "level": SARIF_LEVELS[finding.severity],
            "message": {"text": finding.message or finding.title or rule_id},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": quote(finding.path, safe="/")},
                        "region": {
                            "startLine": finding.start_line,
                            "endLine": max(finding.end_line, finding.start_line),
                        },
                    }
                }
            ],
            "partialFingerprints": {"reloReviewFinding/v1": _fingerprint(finding)},
            "properties": {"source": finding.source},
        }
        if finding.suggestion:
            result["properties"]["suggestion"] = finding.suggestion
        results.append(result)
    notifications = [
        {"level": "warning", "message": {"text": f"{f.title or f.rule}: {f.message}"}}
        for f in review.flags
    ] + [{"level": "note", "message": {"text": note}} for note in review.notes]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version(),
                        "rules": descriptors,
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
