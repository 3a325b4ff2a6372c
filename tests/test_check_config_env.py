"""`check-config` warns about names in .env and the environment that look like settings but are
not: the service ignores them silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.__main__ import main
from app.cli.env_names import unknown_names
from app.config import Settings
from tests.support import SECRET


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    return tmp_path


def test_a_misspelt_name_in_dotenv_gets_a_suggestion_and_its_line(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / ".env").write_text(
        f"# settings\nGITHUB_WEBHOOK_SECRT={SECRET}\nPOSTGRES_PASSWORD=for-compose\n"
    )
    main(["check-config"])
    out = capsys.readouterr().out
    assert (
        ".env:2:1: warning: GITHUB_WEBHOOK_SECRT is not a setting; "
        "did you mean GITHUB_WEBHOOK_SECRET?"
    ) in out
    assert "POSTGRES_PASSWORD" not in out  # not ours: no shared first word, nothing close


def test_a_misspelt_name_in_the_environment_gets_a_suggestion(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("OPENAI_MODLE", "gpt-4o")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_x")  # CI's own: in the environment, only typos warn
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "environment: warning: OPENAI_MODLE is not a setting; did you mean OPENAI_MODEL?" in out
    assert "GITHUB_TOKEN" not in out


def test_unknown_names_sharing_a_settings_first_word_warn_only_from_dotenv() -> None:
    env_text = "LLM_TEMPERATURE=0\nexport REVIEW_MAX_ATTEMPT=3\n# GITHUB_APP_IDD=1\nPORT=8000\n"
    warnings = unknown_names(env_text, Path(".env"), {"LLM_CACHE_DIR": "/tmp", "PATH": "/bin"})
    assert warnings == [
        ".env:1:1: warning: LLM_TEMPERATURE is not a setting; it is ignored",
        ".env:2:1: warning: REVIEW_MAX_ATTEMPT is not a setting; did you mean REVIEW_MAX_ATTEMPTS?",
    ]
