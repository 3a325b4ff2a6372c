"""The /webhook endpoint's own rules: size, signature, headers, JSON, dedupe, quick answers."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.ledger import deliveries, reviews
from app.webhook import signature_ok
from tests.conftest import Harness
from tests.support import delivery_headers, encode, pull_request_payload, push_payload, sign

SHA_A, SHA_B = "a" * 40, "b" * 40


def test_signature_matches_githubs_published_vector() -> None:
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_ok(b"It's a Secret to Everybody", b"Hello, World!", header)
    assert not signature_ok(b"It's a Secret to Everybody", b"Hello, World!!", header)
    assert not signature_ok(b"", b"Hello, World!", header)


async def test_missing_or_wrong_signature_is_401(idle_harness: Harness) -> None:
    body = encode({"zen": "hi"})
    headers = delivery_headers("ping", body)
    for bad in (None, "sha256=" + "0" * 64, sign(body, "other"), "sha1=abc", "garbage"):
        sent = dict(headers)
        sent.pop("x-hub-signature-256")
        if bad is not None:
            sent["x-hub-signature-256"] = bad
        response = await idle_harness.client.post("/webhook", content=body, headers=sent)
        assert response.status_code == 401
        assert "error" in response.json()


async def test_legacy_sha1_signature_alone_is_refused(idle_harness: Harness) -> None:
    body = encode({"zen": "hi"})
    headers = delivery_headers("ping", body)
    del headers["x-hub-signature-256"]
    headers["x-hub-signature"] = "sha1=0123"
    assert (
        await idle_harness.client.post("/webhook", content=body, headers=headers)
    ).status_code == 401


async def test_missing_headers_and_bad_json_are_400(idle_harness: Harness) -> None:
    body = encode({"zen": "hi"})
    for header in ("x-github-event", "x-github-delivery"):
        headers = delivery_headers("ping", body)
        del headers[header]
        response = await idle_harness.client.post("/webhook", content=body, headers=headers)
        assert response.status_code == 400 and "error" in response.json()
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = await idle_harness.client.post(
            "/webhook", content=raw, headers=delivery_headers("push", raw)
        )
        assert response.status_code == 400, raw


async def test_oversized_body_is_413_without_reading_it(idle_harness: Harness) -> None:
    limit = idle_harness.services.settings.max_webhook_bytes
    headers = delivery_headers("push", b"{}")
    headers["content-length"] = str(limit + 1)

    async def body():  # type: ignore[no-untyped-def]
        yield b"{" + b" " * 1024
        raise AssertionError("the body was read past the declared size")

    response = await idle_harness.client.post("/webhook", content=body(), headers=headers)
    assert response.status_code == 413
    assert response.json() == {"error": "payload too large"}


async def test_ping_is_200(idle_harness: Harness) -> None:
    response = await idle_harness.deliver("ping", {"zen": "Keep it logically awesome."})
    assert response.status_code == 200


async def test_accepted_work_is_stored_before_202(idle_harness: Harness) -> None:
    payload = pull_request_payload("acme/task", 3, head_sha=SHA_A, base_sha=SHA_B)
    response = await idle_harness.deliver("pull_request", payload, delivery="del-1")
    assert response.status_code == 202
    [review_id] = response.json()["reviews"]
    async with idle_harness.services.ledger.engine.connect() as conn:
        row = (await conn.execute(sa.select(reviews).where(reviews.c.id == review_id))).one()
        delivery = (await conn.execute(sa.select(deliveries))).one()
    assert row.state == "queued" and row.head_sha == SHA_A and row.number == 3
    assert json.loads(row.job)["installation_id"] == 1
    assert "token" not in row.job
    assert delivery.id == "del-1" and delivery.event == "pull_request"


async def test_redelivery_is_200_and_adds_no_review(idle_harness: Harness) -> None:
    payload = push_payload("acme/task", after=SHA_A)
    first = await idle_harness.deliver("push", payload, delivery="same-id")
    again = await idle_harness.deliver("push", payload, delivery="same-id")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    async with idle_harness.services.ledger.engine.connect() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(reviews))).scalar()
    assert count == 1


async def test_unhandled_and_malformed_events_do_no_work(idle_harness: Harness) -> None:
    for event, payload in (
        ("star", {"action": "created"}),
        ("pull_request", {"action": "opened"}),
        ("pull_request", {"action": "opened", "pull_request": None, "installation": 5}),
        ("push", push_payload("acme/t", after="0" * 40, before=SHA_A, deleted=True)),
        ("installation", {"action": "created", "installation": {"id": 1}}),
    ):
        response = await idle_harness.deliver(event, payload)
        assert response.status_code == 202, (event, payload)
        assert response.json()["status"] == "ignored"
    assert await idle_harness.services.queue.size() == 0


async def test_form_encoded_deliveries_are_understood(idle_harness: Harness) -> None:
    from urllib.parse import urlencode

    payload = push_payload("acme/task", after=SHA_A)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = delivery_headers("push", body)
    headers["content-type"] = "application/x-www-form-urlencoded"
    response = await idle_harness.client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 202


async def test_health(idle_harness: Harness) -> None:
    assert (await idle_harness.client.get("/healthz")).status_code == 200
    ready = await idle_harness.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_wrong_method_and_unknown_paths_answer_json(idle_harness: Harness) -> None:
    response = await idle_harness.client.get("/webhook")
    assert response.status_code == 405 and response.json() == {"error": "Method Not Allowed"}
    missing = await idle_harness.client.get("/nowhere")
    assert missing.status_code == 404 and "error" in missing.json()
