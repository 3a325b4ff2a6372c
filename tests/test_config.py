"""Settings fail at start-up with one clear sentence, never at the first delivery."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from app.__main__ import main
from app.config import ConfigError, Settings


def test_literal_backslash_n_key_is_accepted(
    make_settings: Callable[..., Settings], private_pem: str
) -> None:
    one_line = private_pem.strip().replace("\n", "\\n")
    settings = make_settings(github_private_key=one_line)
    settings.validate_for_service()
    assert settings.private_key_pem == private_pem


def test_key_from_a_file(
    make_settings: Callable[..., Settings], private_pem: str, tmp_path: Path
) -> None:
    path = tmp_path / "app.pem"
    path.write_text(private_pem)
    settings = make_settings(github_private_key=None, github_private_key_path=str(path))
    settings.validate_for_service()
    assert settings.private_key_pem == private_pem


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"github_private_key": "not a key"}, "not a valid unencrypted PEM key"),
        ({"github_webhook_secret": None}, "GITHUB_WEBHOOK_SECRET is not set"),
        ({"github_private_key": None}, "neither GITHUB_PRIVATE_KEY nor GITHUB_PRIVATE_KEY_PATH"),
        ({"github_app_id": "my app"}, "GITHUB_APP_ID must be"),
        (
            {"github_private_key": None, "github_private_key_path": "/nonexistent/k.pem"},
            "cannot be read",
        ),
    ],
)
def test_bad_settings_fail_with_a_sentence(
    make_settings: Callable[..., Settings], overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        make_settings(**overrides).validate_for_service()


def test_nothing_configured_starts_in_setup_mode(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(github_app_id="", github_private_key=None, github_webhook_secret=None)
    settings.validate_for_service()
    assert settings.setup_mode


def test_cli_reports_bad_config_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_APP_ID", "12")
    monkeypatch.setenv(
        "GITHUB_PRIVATE_KEY",
        "-----BEGIN RSA PRIVATE KEY-----\\nnope\\n-----END RSA PRIVATE KEY-----",
    )
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret-value")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("relo-review: The GitHub App private key is not a valid")
    assert len(err.splitlines()) == 1


def test_database_urls_get_async_drivers(make_settings: Callable[..., Settings]) -> None:
    assert (
        make_settings(database_url="postgresql://u@h/db").database_url_async
        == "postgresql+asyncpg://u@h/db"
    )
    assert (
        make_settings(database_url="sqlite:///x.db").database_url_async
        == "sqlite+aiosqlite:///x.db"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: must be one of DEBUG"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a sqlite:///PATH or postgresql"),
        ("DATABASE_URL", "sqlite:////nonexistent/dir/x.db", "The ledger at DATABASE_URL cannot"),
        ("QUEUE_URL", "redis://127.0.0.1:1/0", "Redis at QUEUE_URL cannot be reached"),
    ],
)
def test_unusable_storage_stops_the_start_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret-value")
    monkeypatch.setenv(variable, value)
    assert main(["serve"]) == 2
    # A ledger thread that outlived the start would print a traceback after the sentence once
    # it ran (pytest reports that as an error): let any finish here, not in a later test.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=10)
            assert not thread.is_alive()
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"relo-review: {expected}")
    assert len(err.splitlines()) == 1


def test_env_default_documents_every_setting() -> None:
    from tests.support import ROOT

    text = (ROOT / ".env.default").read_text()
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in text.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    }
    assert {name.upper() for name in Settings.model_fields} <= documented
