"""deploy/alerts.yml: the rules pass their promtool unit tests, read only metrics and labels the
app exports, and the metrics added for them carry values in the service's real /metrics."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.ledger import reviews
from app.metrics import Metrics
from app.queue_age import age_seconds
from tests.conftest import Harness
from tests.services import unavailable
from tests.support import ROOT, delivery_headers, encode
from tests.test_dashboard import GROUPING, MATCHER, METRIC, SCRAPE_LABELS, SELECTOR, exported

RULES = ROOT / "deploy" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "alerts.test.yml"


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_promtool_unit_tests_pass() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool (Debian's prometheus package)", FileNotFoundError("promtool"))
        return
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = subprocess.run(
        [promtool, "check", "rules", RULES.name],
        cwd=RULES.parent, capture_output=True, text=True, timeout=120, check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_firing_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    names = {rule["alert"] for rule in rules()}
    assert names - fired == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet"


def test_every_rule_uses_metrics_and_labels_the_app_exports() -> None:
    names = exported()
    problems = []
    for rule in rules():
        title, expr = rule["alert"], rule["expr"]
        used = METRIC.findall(expr)
        if not used:
            problems.append(f"{title}: reads no relo_ metric")
        for name in used:
            if name not in names:
                problems.append(f"{title}: {name} is not exported by app/metrics.py")
        known = set().union(*(names.get(n, set()) for n in used)) | SCRAPE_LABELS
        for name, matchers in SELECTOR.findall(expr):
            for label, _, _ in MATCHER.findall(matchers):
                if label not in names.get(name, set()) | SCRAPE_LABELS:
                    problems.append(f"{title}: {name} has no label {label!r}")
        for group in GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                if label not in known:
                    problems.append(f"{title}: no metric has label {label!r}")
    assert not problems, "\n".join(problems)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_shows_webhook_statuses_and_the_oldest_queued_age(
    idle_harness: Harness,
) -> None:
    body = encode({"zen": "hi"})
    headers = delivery_headers("ping", body)
    headers["x-hub-signature-256"] = "sha256=" + "0" * 64
    refused = await idle_harness.client.post("/webhook", content=body, headers=headers)
    assert refused.status_code == 401
    ledger = idle_harness.services.ledger
    created = datetime.now(UTC) - timedelta(minutes=20)
    async with ledger.engine.begin() as conn:
        await conn.execute(
            sa.insert(reviews).values(
                repo="o/r", subject="o/r#1", head_sha="a" * 40, state="queued",
                job="{}", created_at=created,
            )
        )
    text = (await idle_harness.client.get("/metrics")).text
    seen = samples(text)
    webhook_401 = frozenset({("route", "/webhook"), ("status", "401")})
    assert seen[("relo_http_responses_total", webhook_401)] == 1
    assert 1190 < seen[("relo_queue_oldest_age_seconds", frozenset())] < 1300
    assert seen[("relo_loops_down", frozenset())] == 0


async def test_llm_responses_are_counted_by_status() -> None:
    import httpx2

    metrics = Metrics()

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429 if request.url.path.endswith("busy") else 200)

    transport = httpx2.MockTransport(answer)
    hooks = {"response": [metrics.llm_response]}
    async with httpx2.AsyncClient(transport=transport, event_hooks=hooks) as client:
        await client.get("http://llm.test/busy")
        await client.get("http://llm.test/busy")
        await client.get("http://llm.test/ok")
    seen = samples(metrics.render().decode())
    assert seen[("relo_llm_responses_total", frozenset({("status", "429")}))] == 2
    assert seen[("relo_llm_responses_total", frozenset({("status", "200")}))] == 1


def test_naive_timestamps_are_utc_and_none_is_zero() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert age_seconds(None, now) == 0
    assert age_seconds(datetime(2026, 1, 1, 11, 59), now) == 60
    assert age_seconds(now + timedelta(seconds=5), now) == 0
