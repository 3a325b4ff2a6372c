"""Literal values given to secret-looking names, in the syntaxes submissions use: Python, JS/TS,
Go, Java, Ruby, PHP, YAML, JSON, TOML/INI, `.env`, properties, XML, Dockerfiles and command-line
flags (`DB_PASS=...`, `"client_secret": "..."`, `apiKey := "..."`, `<password>...</password>`,
`--api-key ...`).

The scan starts at each occurrence of a secret word, so text without one costs a few substring
searches; the name around it is split into words (`dbPassword`, `DB_PASSWORD`, `db.password`) and
judged, then the value by `secret_values.looks_generated`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from app.review.secret_rules import Candidate
from app.review.secret_values import looks_generated

__all__ = ["NEEDS", "assigned_secrets", "assigned_values", "is_secret_name"]

# Every secret name holds one of these, case-folded.
NEEDS = ("pass", "pwd", "secret", "token", "key", "credential", "contrase", "senha", "kennwort")
_KEYWORD = re.compile("|".join(NEEDS), re.I)
# Names may hold the non-ASCII letters that `re.I` matches to ASCII ones (long s, Kelvin sign,
# dotless i, dotted capital I); they are normalised before the name is judged.
_NAME_TAIL = re.compile("[A-Za-z0-9_.$@\u0130\u0131\u017f\u212a-]{0,80}\\Z")
_NAME_REST = re.compile("[A-Za-z0-9_.\u0130\u0131\u017f\u212a-]{0,80}")
_ASCII_LOOKALIKES = str.maketrans({"\u0130": "I", "\u0131": "i", "\u017f": "s", "\u212a": "K"})
_SEPARATORS = re.compile(r"[-_.$@]+")
_WORDS = re.compile(r"[A-Z]?[a-z\u00f1]+|[A-Z]+(?![a-z])|\d+")

# name, optional closing quote or bracket, optional type annotation, operator, value.
_AFTER_NAME = re.compile(
    r"(?P<close>[\"'`\]]{0,2})[ \t]*"
    r"(?::[ \t]*[A-Za-z_][\w.\[\], |<>?]{0,60}?[ \t]*(?==))?"
    r"(?P<op>=>|:=|===?|!==?|=|:|,|>|value[ \t]*=)[ \t]*"
    r"(?:@?[rRbBuUfF]{0,2}(?P<q>[\"'`])(?P<quoted>[^\"'`\s\\]{1,512})(?P=q)"
    r"|(?P<bare>(?:(?<=[=:>])#|[^\s\"'`#;,<>(){}\[\]])[^\s\"'`;,<>(){}\[\]]{0,511})"
    r"(?=[ \t]*(?:$|#|//|;|,|<)))",
    re.M,
)
# `--password value`, `ENV DB_PASSWORD value`, a `.netrc`'s `password value`.
_AFTER_FLAG = re.compile(
    r"[ \t]+(?P<q>[\"']?)(?P<bare>[^\s\"'`#;][^\s\"'`;]{0,511})(?P=q)[ \t]*(?:$|#)", re.M
)

_STRONG = frozenset({
    "password", "passwd", "passwort", "pwd", "pass", "passphrase", "passcode", "secret",
    "secrets", "token", "apikey", "credential", "credentials", "contrasena", "contrase\u00f1a",
    "senha", "kennwort", "privatekey", "secretkey", "accesskey", "authkey", "authtoken",
    "accesstoken", "apitoken", "clientsecret", "webhooksecret",
})  # fmt: skip
_STRONG_SUFFIXES = tuple(word for word in _STRONG if len(word) >= 5)
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "priv", "signing", "sign", "encryption", "encrypt",
    "enc", "master", "auth", "client", "account", "service", "app", "application", "license",
    "licence", "hmac", "aes", "jwt", "session", "cookie", "fernet", "crypt", "crypto", "cipher",
    "consumer", "storage", "subscription", "admin", "deploy", "ssh", "gpg", "pgp", "rsa",
    "shared", "webhook", "stripe", "openai", "anthropic", "sendgrid", "mailgun", "twilio",
    "google", "maps", "firebase", "aws", "azure", "gcp", "github", "gitlab", "slack", "discord",
    "telegram", "bot", "x", "write", "root", "django", "flask", "rails", "laravel", "nextauth",
    "db", "database",
})  # fmt: skip
# Names that hold something about a secret rather than the secret itself.
_NOT_THE_SECRET = frozenset({
    "url", "uri", "file", "filename", "path", "dir", "name", "type", "id", "ids", "len",
    "length", "size", "count", "field", "fields", "header", "env", "var", "prefix", "suffix",
    "pattern", "regex", "re", "format", "fmt", "label", "hint", "help", "message", "msg",
    "error", "endpoint", "expiry", "expires", "expiration", "ttl", "timeout", "version",
    "algorithm", "alg", "cls", "class", "mode", "policy", "provider", "store", "backend",
    "manager", "loader", "hash", "hashed", "digest", "placeholder", "input", "form", "column",
    "attr", "attribute", "param", "location", "source", "kind", "scope", "scopes", "required",
    "enabled", "min", "max", "limit", "rule", "rules", "validator", "strength",
})  # fmt: skip


def is_secret_name(name: str) -> bool:
    """`DB_PASSWORD`, `dbPass`, `client_secret`, `stripeApiKey`, `SIGNING_KEY` are; `max_tokens`,
    `token_url`, `password_hash`, `cache_key`, `public_key` are not."""
    name = name.translate(_ASCII_LOOKALIKES)
    words = [w.casefold() for w in _WORDS.findall(name)]
    if not words or words[-1] in _NOT_THE_SECRET:
        return False
    if any(w in _STRONG for w in words):
        return True
    # Run-together names: `DBPASSWORD`, `apitoken`, `PAssWORD`.
    parts = _SEPARATORS.split(name.casefold())
    if any(part.endswith(_STRONG_SUFFIXES) for part in parts):
        return True
    return any(
        w == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS for i, w in enumerate(words)
    )


def assigned_secrets(text: str, named_lines: set[int] | None = None) -> Iterator[Candidate]:
    """Values assigned to secret-looking names that look like generated keys or passwords.

    The start offset of each line holding a secret-looking name is added to `named_lines`."""
    for line_start, (start, end) in assigned_values(text):
        if named_lines is not None:
            named_lines.add(line_start)
        if looks_generated(text[start:end]):
            yield start, end, 2, "assigned-secret"


def assigned_values(text: str) -> Iterator[tuple[int, tuple[int, int]]]:
    """(line start, value span) of each literal assigned to a secret-looking name."""
    scanned_to = 0
    for keyword in _KEYWORD.finditer(text):
        if keyword.start() < scanned_to:
            continue  # another word of a name already judged (`secret_key`)
        rest = _NAME_REST.match(text, keyword.end())
        end = rest.end() if rest else keyword.end()
        scanned_to = end
        # Most secret words are not followed by an assignment: skip those before anything else.
        if _AFTER_NAME.match(text, end) is None and _AFTER_FLAG.match(text, end) is None:
            continue
        tail = _NAME_TAIL.search(text, max(0, keyword.start() - 80), keyword.start())
        start = tail.start() if tail else keyword.start()
        name = text[start:end]
        stripped = name.lstrip("$@.-")
        start += len(name) - len(stripped)
        name = stripped.rstrip(".-")
        end = start + len(name)
        if not is_secret_name(name):
            continue
        value = _value_after(text, start, end)
        if value is not None:
            yield text.rfind("\n", 0, start) + 1, value


def _value_after(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the literal assigned to the name at [start, end), if any."""
    before = text[max(0, start - 6) : start]
    quoted_name = before.endswith(("'", '"', "`"))
    match = _AFTER_NAME.match(text, end)
    if match is not None:
        op = match.group("op")
        quoted_only = op == "," or op.startswith("value")
        if (quoted_only and not quoted_name) or (op == ">" and not before.endswith("<")):
            match = None
    if match is None:
        line_start = text.rfind("\n", 0, start) + 1
        prefix = text[line_start:start].lstrip()
        if before.endswith("--") or prefix.upper().startswith("ENV ") or " login " in prefix:
            match = _AFTER_FLAG.match(text, end)
        if match is None:
            return None
    group = "quoted" if match.groupdict().get("quoted") else "bare"
    return match.start(group), match.end(group)
