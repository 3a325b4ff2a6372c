"""Secrets are found by shape, masked before text leaves for an LLM, and ordinary code is quiet.

Fake tokens are assembled at runtime so that this file itself never looks like a leaked secret.
"""

from __future__ import annotations

import re
import sys

import pytest
from detect_secrets.plugins.keyword import DENYLIST as KEYWORD_DENYLIST
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app.review import secret_assigned, secret_plugins, secret_rules, secrets
from app.review.secrets import (
    NEEDED,
    SecretHit,
    find_secrets,
    mask_secrets,
    may_hold_secret,
    shannon_entropy,
)

GITHUB = "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + "123456789012" + "_" + "aB3dE5gH7j" * 5 + "kLmNoPqRs"
OPENAI = "sk-" + "proj-" + "Abc123def456GHI789jkl012MNO345"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ" * 6
AWS = "AKIA" + "IOSFODNN7EXAMPL1"
SLACK = "xoxb-" + "123456789012-abcdefghijkl"
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
RANDOM = "q8Xz" + "!r2LmP0vKd7W"
PEM_BODY = "MIIEowIBAAKCAQEA" + "x7Gh2Lk9QpR4vT1wYz3Bn5Mc8Df0Ja6Ke2" * 2
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "\nAbCd==\n" + "-----END RSA PRIVATE KEY-----"
)


KINDS = [
    (f'TOKEN = "{GITHUB}"', "github-token", GITHUB),
    (f"token: {GITHUB_PAT}", "github-token", GITHUB_PAT),
    (f'client = OpenAI(api_key="{OPENAI}")', "openai-key", OPENAI),
    (f"OPENAI_API_KEY={OPENAI_LEGACY}", "openai-key", OPENAI_LEGACY),
    (f"aws_access_key_id = {AWS}", "aws-access-key", AWS),
    (f"post to {SLACK} now", "slack-token", SLACK),
    (f"stripe.api_key = '{STRIPE}'", "stripe-key", STRIPE),
    (f"const key = `{GOOGLE}`;", "google-api-key", GOOGLE),
    (f"Authorization: Bearer {JWT}", "jwt", JWT),
    (f'DB_PASSWORD = "{RANDOM}"', "assigned-secret", RANDOM),
    (f'{{"api_key": "{RANDOM}"}}', "assigned-secret", RANDOM),
    (f"password: {RANDOM}", "assigned-secret", RANDOM),
    (f"export SECRET_KEY={RANDOM}", "assigned-secret", RANDOM),
    (f'login(user, password="{RANDOM}")', "assigned-secret", RANDOM),
    (f"$apiKey = '{RANDOM}';", "assigned-secret", RANDOM),
    (f'client_secret: str = "{RANDOM}"', "assigned-secret", RANDOM),
    (f"key = '''{PEM}'''", "private-key", PEM),
]


@pytest.mark.parametrize(("text", "kind", "secret"), KINDS)
def test_finds_each_kind_with_its_exact_span(text: str, kind: str, secret: str) -> None:
    hits = find_secrets(text)

    start = text.index(secret)
    assert hits == [SecretHit(line=1, kind=kind, span=(start, start + len(secret)))]


def test_line_numbers_are_one_based_and_multiline_keys_start_at_begin() -> None:
    text = f"import os\n\nKEY = '''\n{PEM}\n'''\nTOKEN = '{GITHUB}'\n"

    hits = find_secrets(text)

    assert [(hit.line, hit.kind) for hit in hits] == [(4, "private-key"), (9, "github-token")]


def test_pem_in_a_string_literal_with_escaped_newlines() -> None:
    escaped = PEM.replace("\n", "\\n")

    assert [hit.kind for hit in find_secrets(f'KEY = "{escaped}"')] == ["private-key"]


def test_truncated_pem_without_end_line_is_still_found() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY + "\n"

    assert [(hit.line, hit.kind) for hit in find_secrets(text)] == [(1, "private-key")]


def test_specific_kind_wins_over_assignment() -> None:
    assert [hit.kind for hit in find_secrets(f'github_token = "{GITHUB}"')] == ["github-token"]


@pytest.mark.parametrize(
    "text",
    [
        'password = os.getenv("DB_PASSWORD")',
        'token = os.environ["GITHUB_TOKEN"]',
        "const apiKey = process.env.API_KEY;",
        'token = "<your-token>"',
        'SECRET = "changeme"',
        'api_key = "xxxxxxxxxxxxxxxxxxxx"',
        'password = "************"',
        'PASSWORD_ENV = "DJANGO_SECRET_KEY"',
        'login(password="password123")',
        'login(password="hunter2hunter2")',  # a human password, far below the entropy bar
        'client.login(password="my-test-pass-1")',  # fixtures saying "test" are placeholders
        'token_url = "https://example.com/oauth/token"',
        'API_KEY = "${API_KEY}"',
        "password: {{ secrets.DB_PASSWORD }}",
        "SECRET_KEY=your-secret-key-here",
        'hunter = "hunter2"',
        "max_tokens: int = 4096",
        "tokens = tokenize(source)",
        'if line.startswith("-----BEGIN PRIVATE KEY-----"):\n    start = i',
        'END = "-----END PRIVATE KEY-----"',
        "task-" + "a1" * 15,  # "sk-" inside a word is not a key
        "the_sk-learn_version = 1",
        'sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    ],
)
def test_ordinary_text_has_no_hits(text: str) -> None:
    assert find_secrets(text) == []


def test_mask_replaces_secrets_and_keeps_everything_else() -> None:
    text = f'TOKEN = "{GITHUB}"\nDB_PASSWORD = "{RANDOM}"\nDEBUG = True\n'

    masked, count = mask_secrets(text)

    assert count == 2
    assert masked == (
        'TOKEN = "[MASKED:github-token]"\nDB_PASSWORD = "[MASKED:assigned-secret]"\nDEBUG = True\n'
    )
    assert GITHUB not in masked
    assert RANDOM not in masked


def test_mask_removes_the_whole_private_key_and_keeps_its_lines() -> None:
    masked, count = mask_secrets(f"before\n{PEM}\nafter")

    assert count == 1
    assert masked == "before\n" + "\n".join(["[MASKED:private-key]"] * 4) + "\nafter"


def test_mask_without_secrets_is_identity() -> None:
    text = "def add(a: int, b: int) -> int:\n    return a + b\n"

    assert mask_secrets(text) == (text, 0)


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(RANDOM) > 3.5


def test_long_blobs_do_not_hang() -> None:
    blob = (
        "A" * 200_000 + "\n" + "password" * 5_000 + "\n" + "-----BEGIN PRIVATE KEY-----\n" * 2_000
    )

    assert find_secrets(blob) == []


def test_masking_is_idempotent() -> None:
    """Callers re-mask masked text to check nothing is left; a mask must not look like a secret."""
    text = (
        f'api_key = "{OPENAI}"\nSECRET_KEY={RANDOM}\npassword: "{RANDOM}"\n{PEM}\n'
        f"token = '{GITHUB}'\nauth = '{JWT}'\n"
    )

    masked, count = mask_secrets(text)

    assert count == 6
    assert mask_secrets(masked) == (masked, 0)


# --- the prefilter: text holding none of the words every pattern needs is not searched ----------


@pytest.mark.parametrize(("text", "kind", "secret"), KINDS)
def test_every_kind_still_passes_the_prefilter_and_is_masked(
    text: str, kind: str, secret: str
) -> None:
    masked, count = mask_secrets(text)

    assert may_hold_secret(text)
    assert count == 1
    assert secret not in masked
    assert f"[MASKED:{kind}]" in masked


_GATED = [(rule.pattern, rule.needs, False) for rule in secret_rules.RULES] + [
    (pattern, plugin.needs, plugin.exact)
    for plugin in secret_plugins.PLUGINS
    for pattern in plugin.detector.denylist  # type: ignore[attr-defined]
]


@pytest.mark.parametrize(
    ("pattern", "needs", "exact"), _GATED, ids=[p.pattern[:30] for p, _, _ in _GATED]
)
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_pattern_match_holds_a_literal_its_rule_needs(
    pattern: re.Pattern[str], needs: tuple[str, ...], exact: bool, data: st.DataObject
) -> None:
    """Rules run only on text holding one of their literals (or, for the shape-only plugins,
    text their combined pattern matches): each match must hold one."""
    match = pattern.search(data.draw(st.from_regex(pattern)))
    assert match is not None

    found = match.group(0) if exact else secrets._fold(match.group(0))
    if needs:
        assert any(word in found for word in needs), match.group(0)
    else:
        assert secret_plugins.SHAPE_ONLY.search(match.group(0)), match.group(0)
    assert may_hold_secret(match.group(0))


def test_every_keyword_the_plugin_looks_for_holds_a_needed_word() -> None:
    for keyword in KEYWORD_DENYLIST:
        literal = keyword.replace("_?", "_")
        assert any(word in literal for word in secret_plugins.KEYWORD_NEEDS), keyword
        assert any(word in literal for word in secret_assigned.NEEDS) or "contrase" in literal


def test_characters_that_ignorecase_matches_to_ascii_still_pass_the_prefilter() -> None:
    """`re.I` matches a few non-ASCII characters to ASCII ones (long s to s, Kelvin sign to k,
    dotless i and dotted capital I to i), so a secret-looking name written with them is still
    found: the prefilter must let it through."""
    ascii_class = re.compile(r"[a-z0-9_-]", re.I)
    lookalikes = [chr(c) for c in range(0x80, sys.maxunicode + 1) if ascii_class.match(chr(c))]
    assert len(lookalikes) == 4  # U+0130, U+0131, U+017F and U+212A in Python 3.11
    for word in ("pass", "pwd", "secret", "token", "key"):
        assert word in NEEDED
        for index in range(len(word)):
            for lookalike in lookalikes:
                disguised = word[:index] + lookalike + word[index + 1 :]
                if re.fullmatch(re.escape(word), disguised, re.I):
                    assert may_hold_secret(disguised), disguised
    text = f'PA\u017f\u017fWORD = "{RANDOM}"\nap\u0131_key = "{RANDOM}"\nAP\u0130KEY = "{RANDOM}"'
    assert [hit.kind for hit in find_secrets(text)] == ["assigned-secret"] * 3


def test_text_holding_no_needed_word_meets_only_the_shape_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def searched(*args: object) -> list[tuple[int, int, int, str]]:
        raise AssertionError("searched")

    monkeypatch.setattr(secret_rules.Rule, "candidates", searched)
    monkeypatch.setattr(secret_assigned, "assigned_secrets", searched)
    monkeypatch.setattr(secret_plugins, "keyword_secrets", searched)

    assert find_secrets("def add(a, b):\n    return a + b  # ASIDE: sk_test\n" * 100) == []
    with pytest.raises(AssertionError, match="searched"):
        find_secrets("Token = 1")


def test_a_password_in_a_connection_url_is_masked_but_placeholders_are_not() -> None:
    masked, count = mask_secrets("DATABASE_URL=postgres://admin:Sup3rS3cret!@db.internal/app")
    assert count == 1
    assert masked == "DATABASE_URL=postgres://admin:[MASKED:url-password]@db.internal/app"
    for text in ("redis://user:password@localhost", "amqp://guest:${PW}@mq", "https://a.b/c:d@e"):
        assert mask_secrets(text) == (text, 0)
