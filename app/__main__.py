"""`python -m app serve|worker|review|replay|report|check-config` — one CLI."""

from __future__ import annotations

import argparse
import sys

from app.config import ConfigError, Settings, load_settings


def _secrets(settings: Settings) -> list[str]:
    values = [settings.webhook_secret.decode()]
    if settings.openai_api_key is not None:
        values.append(settings.openai_api_key.get_secret_value())
    return values


def serve(settings: Settings) -> int:
    import logging

    import uvicorn

    from app.logs import configure
    from app.web import create_app

    settings.validate_for_service()
    configure(settings.log_level, settings.log_format, _secrets(settings))
    if settings.setup_mode:
        logging.getLogger("app").warning(
            "The GitHub App is not configured yet: open http://%s:%s/setup to register it, "
            "or set GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH and GITHUB_WEBHOOK_SECRET in .env.",
            settings.host,
            settings.port,
        )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web service (and in-process workers)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            return serve(settings)
    except ConfigError as exc:
        print(f"relo-review: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
