"""The webhook benchmark's reference: only the work a 202 cannot skip. Verify the signature,
parse the JSON, store the delivery once, in the ledger's own table, database and driver."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.ledger import deliveries


def reference_app(engine: AsyncEngine, secret: bytes) -> Starlette:
    async def webhook(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return Response(status_code=401)
        data = orjson.loads(body)
        row = {
            "id": request.headers["x-github-delivery"],
            "event": request.headers["x-github-event"],
            "action": data.get("action"),
            "installation_id": data["installation"]["id"],
            "repo": data["repository"]["full_name"],
            "received_at": datetime.now(UTC),
            "outcome": "accepted",
        }
        try:
            async with engine.begin() as conn:
                await conn.execute(deliveries.insert().values(row))
        except IntegrityError:
            return Response(status_code=200)  # a redelivery: already stored
        return Response(status_code=202)

    return Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
