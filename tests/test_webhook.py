"""The /webhook endpoint's own rules: size, signature, headers, JSON, dedupe, quick answers, and
what an unauthenticated client can make it hold (a shared byte budget, a body deadline)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx2
import pytest
import sqlalchemy as sa

from app.config import Settings
from app.ledger import deliveries, reviews
from app.web import create_app
from app.webhook import signature_ok
from app.webhook_body import BodyBudget
from tests.conftest import Harness, harness_for
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


# --- what unauthenticated clients can cost ------------------------------------------------------

MIB = 1024 * 1024
CHUNK = 256 * 1024
UNSIGNED = "sha256=" + "0" * 64  # well-formed, so the body has to be read to be refused
SAFETY = 30  # seconds; only turns a regression (a body waited for without end) into a failure


def client_for(harness: Harness, budget: BodyBudget) -> httpx2.AsyncClient:
    """A client on an app over the harness's services with this budget (read back by the test)."""
    app = create_app(harness.services.settings, services=harness.services)
    app.state.webhook_budget = budget
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://relo.test")


class Gate:
    """Holds every streaming body after its first chunk until all `expected` requests have
    either reached it or been answered: then all of them are in flight at once."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.settled = 0
        self.open = asyncio.Event()
        self.started = 0

    def settle(self) -> None:
        self.settled += 1
        if self.settled == self.expected:
            self.open.set()

    async def post(
        self, client: httpx2.AsyncClient, size: int, headers: dict[str, str]
    ) -> httpx2.Response:
        waiting = False

        async def body() -> AsyncIterator[bytes]:
            nonlocal waiting
            self.started += 1
            yield b"{" + b" " * (CHUNK - 1)
            waiting = True
            self.settle()
            await self.open.wait()
            for _ in range(CHUNK, size, CHUNK):
                yield b" " * CHUNK

        response = await client.post("/webhook", content=body(), headers=headers)
        if not waiting:
            self.settle()  # answered before its body reached the gate
        return response


def unsigned_headers(size: int | None = None) -> dict[str, str]:
    headers = delivery_headers("push", b"")
    headers["x-hub-signature-256"] = UNSIGNED
    if size is not None:
        headers["content-length"] = str(size)
    return headers


async def test_concurrent_unsigned_bodies_hold_no_more_than_the_budget(
    idle_harness: Harness,
) -> None:
    """12 unsigned 2 MiB bodies streaming at once (no Content-Length, so nothing can be decided
    before reading): what they hold together never exceeds the large bodies' share; the rest are
    503 with Retry-After; a signed ping sent meanwhile fits in the reserve and is answered."""
    budget = BodyBudget(3 * MIB, reserve=1 * MIB)
    gate = Gate(expected=12)
    async with asyncio.timeout(SAFETY), client_for(idle_harness, budget) as client:
        attack = [
            asyncio.create_task(gate.post(client, 2 * MIB, unsigned_headers())) for _ in range(12)
        ]
        await gate.open.wait()
        # Every attacking request is in flight, holding its first chunk: the large share is full.
        assert budget.in_use == 2 * MIB
        body = encode({"zen": "Design for failure."})
        ping = await client.post("/webhook", content=body, headers=delivery_headers("ping", body))
        assert ping.status_code == 200 and ping.json() == {"status": "pong"}
        answers = await asyncio.gather(*attack)
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {401, 503} and statuses.count(503) >= 4, statuses
    for response in answers:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "10"
            assert response.headers["connection"] == "close"
            assert "retry later" in response.json()["error"]
    assert budget.peak <= budget.capacity - budget.reserve + len(body)
    assert budget.in_use == 0 and budget.refused >= statuses.count(503)


async def test_a_declared_body_over_the_budget_is_503_before_reading(
    idle_harness: Harness,
) -> None:
    budget = BodyBudget(3 * MIB, reserve=1 * MIB)
    gate = Gate(expected=2)
    async with asyncio.timeout(SAFETY), client_for(idle_harness, budget) as client:
        first = asyncio.create_task(gate.post(client, 2 * MIB, unsigned_headers(2 * MIB)))
        second = asyncio.create_task(gate.post(client, 2 * MIB, unsigned_headers(2 * MIB)))
        held, refused = await asyncio.gather(first, second)
    assert held.status_code == 401  # read whole, then refused: unsigned
    assert gate.started == 1  # the second body was never touched
    assert refused.status_code == 503 and refused.headers["retry-after"] == "10"
    assert budget.peak <= 2 * MIB and budget.in_use == 0


async def test_an_unsigned_request_is_refused_without_reading_its_body(
    idle_harness: Harness,
) -> None:
    async def body() -> AsyncIterator[bytes]:
        raise AssertionError("the body of a request that cannot be signed was read")
        yield b""

    for signature in (None, "sha256=abc", "sha1=" + "0" * 40, "sha256=" + "A" * 64):
        headers = delivery_headers("push", b"{}")
        del headers["x-hub-signature-256"]
        if signature is not None:
            headers["x-hub-signature-256"] = signature
        response = await idle_harness.client.post("/webhook", content=body(), headers=headers)
        assert response.status_code == 401, signature
        assert response.headers["connection"] == "close"


@pytest.fixture
async def slow_harness(make_settings: Callable[..., Settings]) -> AsyncIterator[Harness]:
    settings = make_settings(webhook_body_timeout_seconds=0.05)
    async with harness_for(settings, None, start_workers=False, reviewers=lambda job: ()) as h:
        yield h


async def test_a_body_not_finished_in_time_is_408(slow_harness: Harness) -> None:
    """The body stops after its first chunk (an event nobody sets): the deadline answers 408,
    closes the connection and gives the held bytes back."""
    never = asyncio.Event()
    budget = BodyBudget(8 * MIB)

    async def stalled() -> AsyncIterator[bytes]:
        yield b'{"zen": '
        await never.wait()
        yield b'"never"}'

    payload = b'{"zen": "never"}'
    async with asyncio.timeout(SAFETY), client_for(slow_harness, budget) as client:
        for headers in (delivery_headers("ping", payload), unsigned_headers(len(payload))):
            response = await client.post("/webhook", content=stalled(), headers=headers)
            assert response.status_code == 408, response.text
            assert response.json() == {"error": "the body did not arrive in time"}
            assert response.headers["connection"] == "close"
        assert budget.peak == len(b'{"zen": ') and budget.in_use == 0
        # The deadline is per request: a body that arrives whole is unaffected.
        headers = delivery_headers("ping", payload)
        ok = await client.post("/webhook", content=payload, headers=headers)
        assert ok.status_code == 200


async def test_a_signed_body_in_odd_chunks_verifies(idle_harness: Harness) -> None:
    payload = encode(push_payload("acme/task", after=SHA_A))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    headers = delivery_headers("push", payload)
    response = await idle_harness.client.post("/webhook", content=chunks(), headers=headers)
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_the_budget_always_fits_the_largest_delivery(
    make_settings: Callable[..., Settings],
) -> None:
    from pydantic import ValidationError

    budget = BodyBudget.for_settings(make_settings())
    assert budget.capacity == 64 * MIB and budget.reserve == 8 * MIB
    assert budget.fits(25 * MIB, small=False)  # MAX_WEBHOOK_BYTES, however full the reserve
    tight = BodyBudget.for_settings(make_settings(webhook_body_budget_bytes=25 * MIB))
    assert tight.reserve == 0 and tight.fits(25 * MIB, small=False)
    with pytest.raises(ValidationError, match="WEBHOOK_BODY_BUDGET_BYTES must be at least"):
        make_settings(webhook_body_budget_bytes=MIB)
