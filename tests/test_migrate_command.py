"""`python -m app migrate`: a cluster's migration Job applies the schema and says what it did;
running it again changes nothing; a database it cannot reach is one sentence, not a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

import app
from app.__main__ import main
from app.config import Settings
from tests.services import fresh_postgres


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(Path(app.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # no .env of the developer's
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["migrate"])
    out, err = capsys.readouterr()
    return status, out, err


def test_migrates_a_new_sqlite_ledger_then_finds_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    head = head_revision()

    status, out, err = run(capsys)
    assert (status, err) == (0, "")
    shown = f"sqlite+aiosqlite:///{db}"
    assert out == f"Migrated the ledger at {shown} from an empty database to revision {head}.\n"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"deliveries", "reviews", "findings"} <= tables
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]

    status, out, err = run(capsys)
    assert (status, err) == (0, "")
    assert out == f"The ledger at {shown} is already at revision {head}; nothing to do.\n"


def test_migrates_postgresql_and_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = asyncio.run(fresh_postgres())
    with_password = dsn.replace("postgres@", "postgres:hunter2@", 1)
    monkeypatch.setenv("DATABASE_URL", with_password)  # trust auth: the password is ignored

    status, out, err = run(capsys)
    assert (status, err) == (0, "")
    assert "hunter2" not in out
    assert out.startswith("Migrated the ledger at postgresql+asyncpg://postgres:***@")
    assert out.endswith(f"from an empty database to revision {head_revision()}.\n")

    async def version() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
        finally:
            await conn.close()

    assert asyncio.run(version()) == [head_revision()]


def test_an_unreachable_ledger_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder" / "ledger.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")

    status, out, err = run(capsys)
    assert (status, out) == (1, "")
    assert err.startswith(f"relo-review: The ledger at sqlite+aiosqlite:///{missing} cannot be")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not missing.parent.exists()
