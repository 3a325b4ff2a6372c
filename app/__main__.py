"""`python -m app serve|worker|review|replay|report|check-config` — one CLI."""

from __future__ import annotations

import argparse
import sys

from app.config import ConfigError, Settings, load_settings
from app.preflight import preflight


def _secrets(settings: Settings) -> list[str]:
    values = [settings.webhook_secret.decode()]
    if settings.openai_api_key is not None:
        values.append(settings.openai_api_key.get_secret_value())
    return values


def _settle_heap() -> None:
    """Move everything imported at start out of the collector's sight: a full collection of
    the whole heap otherwise stalls the event loop for 90-180 ms (bench looplag)."""
    import gc

    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> int:
    import asyncio
    import logging
    from pathlib import Path

    import uvicorn

    from app.logs import configure
    from app.server import listening_socket, server_config
    from app.setup import prepare_setup
    from app.web import create_app

    settings.validate_for_service()
    asyncio.run(preflight(settings))
    sock = listening_socket(settings.host, settings.port)
    with sock:  # closed however the start ends
        configure(settings.log_level, settings.log_format, _secrets(settings))
        if settings.webhook_secret and not settings.github_app_configured:
            logging.getLogger("app").warning(
                "GITHUB_WEBHOOK_SECRET is set but the GitHub App is not (GITHUB_APP_ID and a "
                "private key): deliveries are accepted and recorded, but no review can run; "
                "/setup is closed, so fill in GITHUB_APP_ID and the key in .env."
            )
        # The link carries this start's one-time setup token: only whoever reads the log can
        # register the app, and /setup refuses once any GitHub credential is set.
        settings, setup_link = prepare_setup(settings, Path(".env"))
        if setup_link is not None:
            logging.getLogger("app").warning(
                "The GitHub App is not configured yet: open %s to register it, "
                "or set GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH and GITHUB_WEBHOOK_SECRET in .env.",
                setup_link,
            )
        server = uvicorn.Server(server_config(settings, create_app(settings)))
        _settle_heap()
        host, port = sock.getsockname()[:2]
        logging.getLogger("app").info("Listening on http://%s:%d", host, port)
        server.run(sockets=[sock])
    return 0 if server.started else 3


def worker(settings: Settings) -> int:
    import asyncio

    from app.logs import configure

    try:
        from app.jobs.worker_main import run_worker
    except ImportError as exc:  # arq and redis come with the `scale` extra
        raise ConfigError(
            f"The worker needs the Redis queue's drivers ({exc.name} is missing): "
            "pip install 'relo-review[scale]'."
        ) from exc
    settings.validate_for_service()
    asyncio.run(preflight(settings))
    configure(settings.log_level, settings.log_format, _secrets(settings))
    _settle_heap()
    asyncio.run(run_worker(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from app.cli import check_config, migrate, purge, replay, report, review

    prog = "relo-review" if sys.argv[0].endswith("relo-review") else "python -m app"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web service (and in-process workers)")
    commands.add_parser("worker", help="run review workers on Redis (QUEUE_URL)")
    for command in (check_config, review, replay, report, migrate, purge):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from app.cli import CLIError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    try:
        if args.command == "serve":
            return serve(load_settings())
        if args.command == "worker":
            return worker(load_settings())
        status: int = args.run(args)
        return status
    except ConfigError as exc:
        print(f"relo-review: {exc}", file=sys.stderr)
        return 2
    except CLIError as exc:
        print(f"relo-review: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("relo-review: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
