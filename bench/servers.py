"""The three webhook servers of the webhook benchmark, each one uvicorn process with the same
settings: `python -m bench.servers bare|reference|real PORT DATABASE_FILE`.

- bare: a Starlette endpoint that reads the body and answers 202;
- reference: bench/reference.py (signature, parse, one insert into the ledger's database);
- real: the service's app (`create_app` over `running_services`, workers not started), logging
  configured as `python -m app serve` configures it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from app.ledger import Ledger
from bench.common import SECRET, make_settings
from bench.reference import reference_app


def uvicorn_config(app: ASGIApp, port: int) -> uvicorn.Config:
    """The same for all three: one process, defaults otherwise, no access log."""
    return uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )


async def bare(port: int) -> None:
    async def webhook(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
    await uvicorn.Server(uvicorn_config(app, port)).serve()


async def reference(port: int, database: Path) -> None:
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{database}")
    await ledger.migrate()
    try:
        app = reference_app(ledger.engine, SECRET.encode())
        await uvicorn.Server(uvicorn_config(app, port)).serve()
    finally:
        await ledger.close()


async def real(port: int, database: Path) -> None:
    from app.compose import running_services
    from app.logs import configure
    from app.web import create_app

    settings = make_settings(database, log_level="INFO")
    configure(settings.log_level, settings.log_format, [SECRET])
    async with running_services(
        settings, start_workers=False, reviewers=lambda job: ()
    ) as services:
        app = create_app(settings, services=services)
        await uvicorn.Server(uvicorn_config(app, port)).serve()


def main(argv: list[str]) -> None:
    kind, port, database = argv[0], int(argv[1]), Path(argv[2])
    if kind == "bare":
        asyncio.run(bare(port))
    elif kind == "reference":
        asyncio.run(reference(port, database))
    elif kind == "real":
        asyncio.run(real(port, database))
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
