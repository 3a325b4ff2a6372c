"""Settings: the one place that reads the environment.

Everything else receives a `Settings` value (or the pieces it needs) as an argument.
Misconfiguration is reported at start-up, in one sentence, never at the first delivery.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """The service cannot start with these settings; the message says why in one sentence."""


Price = tuple[float, float] | tuple[float, float, float]
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1": (2.00, 8.00, 0.50),
    "o4-mini": (1.10, 4.40, 0.275),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    github_app_id: str = ""
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"

    llm_budget_tokens: int = Field(default=24_000, ge=1_000)
    llm_max_review_tokens: int | None = Field(default=200_000, ge=1_000)
    llm_timeout_seconds: float = 120.0
    llm_max_retries: int = Field(default=3, ge=0)
    llm_max_answer_tokens: int = Field(default=4096, ge=64)
    # Per-million-token (input, output[, cached input]) prices in USD, longest model-name
    # prefix wins; without a cached-input price, cached prompt tokens cost the input price.
    llm_prices: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    database_url: str = "sqlite+aiosqlite:///relo-review.db"
    queue_url: str | None = None
    # Redis key prefix and arq queue: several deployments can share one Redis.
    queue_name: str = "relo:reviews"

    # Where GitHub reaches this service (https://relo.example.com); /setup uses it in the
    # manifest, else the address the setup page was opened at.
    public_url: str | None = None
    # The secret in the /setup link; empty: `serve` makes a new one at each start and logs it.
    setup_token: SecretStr | None = None

    # `python -m app worker` serves its own /metrics here when set (the web process has /metrics).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    check_run_name: str = "Relo Review"
    max_webhook_bytes: int = 25 * 1024 * 1024
    # Unauthenticated clients' cost: webhook body bytes held at once by all requests, the time
    # a body may take to arrive, and the HTTP server's own limits.
    webhook_body_budget_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    webhook_body_timeout_seconds: float = Field(default=10.0, gt=0)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    http_max_connections: int | None = Field(default=None, ge=1)
    max_file_bytes: int = 1024 * 1024
    max_archive_bytes: int = 100 * 1024 * 1024
    worker_concurrency: int = Field(default=4, ge=1)
    review_timeout_seconds: float = 600.0
    shutdown_grace_seconds: float = 30.0
    # A running review's claim; its worker renews it, and a dead worker's review is retried
    # once it runs out.
    review_lease_seconds: float = Field(default=90.0, gt=0)
    # Attempts at one review (a worker that dies mid-review costs one); then it gives up.
    review_max_attempts: int = Field(default=3, ge=1, le=20)
    # Days to keep a finished review's findings, fingerprints, history, similarity and test
    # results, and stored LLM assessments (`python -m app purge`); 0 keeps them forever.
    retention_days: int = Field(default=0, ge=0)
    ruff_path: str | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgres")):
            raise ValueError("must be a sqlite:///PATH or postgresql://… URL")
        return value

    @field_validator("queue_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://… URL (or empty for in-process workers)")
        return value

    @model_validator(mode="after")
    def _check_key_sources(self) -> Settings:
        if self.github_private_key is not None and self.github_private_key_path is not None:
            raise ValueError("set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, not both")
        if self.webhook_body_budget_bytes < self.max_webhook_bytes:
            raise ValueError(
                "WEBHOOK_BODY_BUDGET_BYTES must be at least MAX_WEBHOOK_BYTES, or the largest "
                "delivery could never be read"
            )
        return self

    @cached_property
    def private_key_pem(self) -> str | None:
        """The app's PEM key; GITHUB_PRIVATE_KEY may carry literal `\\n` from a one-line .env."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value().replace("\\n", "\n").strip() + "\n"
        if self.github_private_key_path is not None:
            try:
                return self.github_private_key_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"GITHUB_PRIVATE_KEY_PATH {self.github_private_key_path} cannot be read: "
                    f"{exc.strerror}."
                ) from exc
        return None

    @property
    def webhook_secret(self) -> bytes:
        if self.github_webhook_secret is None:
            return b""
        return self.github_webhook_secret.get_secret_value().encode()

    @property
    def database_url_async(self) -> str:
        """Operators write `postgresql://…`; SQLAlchemy's async engine needs the driver named."""
        url = self.database_url
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    def validate_for_service(self) -> None:
        """Fail fast on a half-configured app. With nothing configured at all the service still
        starts, so that /setup can register the app; /webhook then refuses every delivery."""
        if not self.webhook_secret and (self.github_app_id or self.private_key_pem):
            raise ConfigError(
                "GITHUB_WEBHOOK_SECRET is not set: the service cannot verify GitHub's deliveries "
                "(set it in .env to the secret in the app's settings)."
            )
        self.validate_github_app()

    @property
    def setup_mode(self) -> bool:
        return not self.webhook_secret and not self.github_app_id

    def validate_github_app(self) -> None:
        pem = self.private_key_pem
        if not self.github_app_id and pem is None:
            return  # not registered yet: deliveries are verified, reviews fail with a sentence
        if not self.github_app_id:
            raise ConfigError("GITHUB_APP_ID is not set but a private key is.")
        if not self.github_app_id.isdigit() and not self.github_app_id.startswith("Iv"):
            raise ConfigError(
                "GITHUB_APP_ID must be the app's numeric id or client id, "
                f"got {self.github_app_id!r}."
            )
        if pem is None:
            raise ConfigError(
                "GITHUB_APP_ID is set but neither GITHUB_PRIVATE_KEY nor "
                "GITHUB_PRIVATE_KEY_PATH is."
            )
        load_private_key(pem)

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def github_app_configured(self) -> bool:
        return bool(self.github_app_id) and self.private_key_pem is not None


def load_private_key(pem: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            "The GitHub App private key is not a valid unencrypted PEM key; download a new one "
            "from the app's settings page."
        ) from exc
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("The GitHub App private key must be an RSA key (GitHub issues RSA keys).")
    return key


def load_settings() -> Settings:
    """Read settings from the environment and `.env`, turning validation errors into ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper() or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}.") from exc
