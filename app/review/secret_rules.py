"""Secret shapes that detect-secrets lacks or matches too loosely: provider-prefixed tokens,
private keys, credentials inside URLs, Authorization headers and command lines.

Each rule names the case-folded literals its matches must contain (`needs`), so that text
holding none of them is never searched by it; a test checks every rule against its literals.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from app.review.secret_values import looks_generated, looks_like_password

__all__ = ["RULES", "Candidate", "Rule", "example_token", "private_keys", "real_token"]

# (start, end, priority, kind): lower priority wins when two candidates overlap.
Candidate = tuple[int, int, int, str]


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern whose group `group` is the secret, kept when `check` accepts that text."""

    kind: str
    pattern: re.Pattern[str]
    needs: tuple[str, ...]
    group: str | int = 0
    check: Callable[[str], bool] | None = None
    priority: int = 1

    def candidates(self, text: str) -> Iterator[Candidate]:
        for match in self.pattern.finditer(text):
            value = match.group(self.group)
            if value and (self.check is None or self.check(value)):
                yield match.start(self.group), match.end(self.group), self.priority, self.kind

    def examples(self, text: str) -> Iterator[Candidate]:
        """Matches that are documented examples or filler rather than secrets."""
        if self.check not in (real_token, _mixed_token):
            return
        for match in self.pattern.finditer(text):
            if example_token(match.group(self.group)):
                yield match.start(self.group), match.end(self.group), 1, self.kind


# Lookarounds instead of \b so that `-` and `_` inside tokens don't end a match.
_B = r"(?<![A-Za-z0-9_-])"
_E = r"(?![A-Za-z0-9_-])"
_TOKEN_PLACEHOLDERS = (
    "example", "xxxx", "your", "dummy", "fake", "placeholder", "redacted", "sample", "masked",
    "insert", "replace",
)  # fmt: skip


def example_token(token: str) -> bool:
    """A documented example (`AKIAIOSFODNN7EXAMPLE`) or filler (`ghp_xxxx...`)."""
    folded = token.casefold()
    return any(word in folded for word in _TOKEN_PLACEHOLDERS) or len(set(folded)) <= 6


def real_token(token: str) -> bool:
    """A prefixed token, unless it is a documented example or filler."""
    return not example_token(token)


def _mixed_token(token: str) -> bool:
    """Most key shapes mix letters and digits; words after a prefix (`sk-learn-...`) do not."""
    return real_token(token) and any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def _basic_credentials(value: str) -> bool:
    """`Basic <base64 of user:password>` with a password that is not a placeholder."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    _user, colon, password = decoded.partition(":")
    return bool(colon) and looks_like_password(password)


def _bearer(value: str) -> bool:
    return looks_generated(value, min_length=16) or (
        value.count(".") == 2 and looks_generated(value.replace(".", ""), min_length=24)
    )


def _prefixed(kind: str, needs: tuple[str, ...], body: str, check: Callable[[str], bool]) -> Rule:
    return Rule(kind, re.compile(_B + body + _E), needs, check=check)


_GITHUB = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
RULES: tuple[Rule, ...] = (
    _prefixed("github-token", _GITHUB, r"gh[pousr]_[A-Za-z0-9]{36,255}", _mixed_token),
    _prefixed("github-token", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,255}", real_token),
    _prefixed("anthropic-key", ("sk-ant-",), r"sk-ant-[A-Za-z0-9_-]{20,}", real_token),
    _prefixed(
        "openai-key",
        ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-"),
        r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}",
        real_token,
    ),
    _prefixed("openai-key", ("sk-",), r"sk-[A-Za-z0-9]{20,}", _mixed_token),
    Rule(
        "aws-access-key",
        re.compile(
            r"(?<![A-Za-z0-9+/])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9+/])"
        ),
        ("akia", "asia", "abia", "acca", "a3t"),
        check=real_token,
    ),
    _prefixed("slack-token", ("xox",), r"xox[abposre]-[A-Za-z0-9-]{10,}", _mixed_token),
    _prefixed("slack-token", ("xapp-",), r"xapp-\d-[A-Za-z0-9-]{20,}", _mixed_token),
    _prefixed(
        "stripe-key",
        ("_live_", "_test_"),
        r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
        _mixed_token,
    ),
    _prefixed("stripe-key", ("whsec_",), r"whsec_[A-Za-z0-9+/=]{24,}", real_token),
    _prefixed("google-api-key", ("aiza",), r"AIza[A-Za-z0-9_-]{35}", real_token),
    _prefixed("google-oauth-secret", ("gocspx-",), r"GOCSPX-[A-Za-z0-9_-]{24,32}", real_token),
    _prefixed("google-oauth-token", ("ya29.",), r"ya29\.[A-Za-z0-9_-]{20,}", _mixed_token),
    _prefixed("huggingface-token", ("hf_", "api_org_"), r"(?:hf|api_org)_[A-Za-z]{34}", real_token),
    _prefixed(
        "shopify-token",
        ("shpat_", "shpss_", "shpca_", "shppa_"),
        r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",
        real_token,
    ),
    _prefixed("digitalocean-token", ("_v1_",), r"do[opr]_v1_[a-f0-9]{64}", real_token),
    Rule(
        "azure-sas",
        re.compile(r"(?<=[?&;])sig=(?P<value>(?:[A-Za-z0-9+/]|%2[BbFf]){20,}(?:=|%3[Dd]){0,2})"),
        ("sig=",),
        group="value",
        check=_mixed_token,
    ),
    Rule(
        "azure-client-secret",
        re.compile(
            r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
        ),
        ("q~",),
        check=real_token,
    ),
    Rule(
        "alibaba-key",
        re.compile(r"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])"),
        ("ltai",),
        check=real_token,
    ),
    _prefixed("npm-token", ("npm_",), r"npm_[A-Za-z0-9]{36}", _mixed_token),
    _prefixed("rubygems-key", ("rubygems_",), r"rubygems_[a-f0-9]{48}", real_token),
    _prefixed("docker-token", ("dckr_pat_",), r"dckr_pat_[A-Za-z0-9_-]{27,}", real_token),
    _prefixed("replicate-token", ("r8_",), r"r8_[A-Za-z0-9]{37}", _mixed_token),
    _prefixed("groq-key", ("gsk_",), r"gsk_[A-Za-z0-9]{48,}", _mixed_token),
    _prefixed("perplexity-key", ("pplx-",), r"pplx-[A-Za-z0-9]{40,}", _mixed_token),
    _prefixed("xai-key", ("xai-",), r"xai-[A-Za-z0-9]{70,}", _mixed_token),
    _prefixed("square-token", ("sq0atp-",), r"sq0atp-[A-Za-z0-9_-]{22}", real_token),
    Rule(
        "square-token",
        re.compile(r"(?<![A-Za-z0-9_+/-])EAAA[A-Za-z0-9_-]{60,}(?![A-Za-z0-9_+/=-])"),
        ("eaaa",),
        check=_mixed_token,
    ),
    _prefixed("atlassian-token", ("atatt3",), r"ATATT3[A-Za-z0-9_=-]{100,}", real_token),
    _prefixed(
        "braintree-token",
        ("access_token$production$",),
        r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}",
        real_token,
    ),
    _prefixed("mailgun-key", ("key-",), r"key-[0-9a-f]{32}", _mixed_token),
    Rule(
        "discord-webhook",
        re.compile(r"discord(?:app)?\.com/api/webhooks/\d{5,20}/(?P<value>[A-Za-z0-9_-]{40,})"),
        ("discord",),
        group="value",
        check=real_token,
    ),
    Rule(
        "teams-webhook",
        re.compile(r"\.webhook\.office\.com/webhookb2/(?P<value>[^\s\"'<>]{20,})"),
        ("webhook.office.com",),
        group="value",
        check=real_token,
    ),
    Rule(
        "jwt",
        re.compile(_B + r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*" + _E),
        ("eyj",),
    ),
    # `postgres://admin:Sup3rS3cret!@db/app`, `redis://:pw@cache:6379/0`: only the password.
    Rule(
        "url-password",
        re.compile(
            r"[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]{0,64}:(?P<value>[^\s/@'\",:]{3,128})@[\w.\[-]"
        ),
        ("://",),
        group="value",
        check=looks_like_password,
    ),
    # `?password=...`, `&access_token=...` in URLs and JDBC strings.
    Rule(
        "url-secret",
        re.compile(
            r"[?&](?:password|passwd|pwd|pass|secret|client_secret|token|access_token|api_key"
            r"|apikey|auth)=(?P<value>[^&\s'\"#;]{6,})",
            re.I,
        ),
        (
            "password=",
            "passwd=",
            "pwd=",
            "pass=",
            "secret=",
            "token=",
            "api_key=",
            "apikey=",
            "auth=",
        ),
        group="value",
        check=looks_like_password,
    ),
    Rule(
        "http-credentials",
        re.compile(r"\bBasic\s+(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])", re.I),
        ("basic",),
        group="value",
        check=_basic_credentials,
        priority=2,
    ),
    Rule(
        "http-credentials",
        re.compile(
            r"(?:\bBearer|\bauthorization[\"']?\s*[:=]\s*[\"']?token)\s+"
            r"(?P<value>[A-Za-z0-9+/=._~-]{16,})",
            re.I,
        ),
        ("bearer", "authorization"),
        group="value",
        check=_bearer,
        priority=2,
    ),
    # `requests.get(url, auth=("admin", "pw"))`
    Rule(
        "http-credentials",
        re.compile(r"\bauth ?= ?\(\s*[\"'][^\"'\s]+[\"']\s*,\s*[\"'](?P<value>[^\"'\s]+)[\"']"),
        ("auth=", "auth ="),
        group="value",
        check=looks_like_password,
        priority=2,
    ),
    # `curl -u alice:pw`, `mysql -u root -ppw`, a `.netrc` line.
    Rule(
        "cli-password",
        re.compile(r"(?:[ \t]-u|--user)[ =]?[\"']?[^\s:\"'@]+:(?P<value>[^\s\"'@]+)"),
        (" -u", "\t-u", "--user"),
        group="value",
        check=looks_like_password,
    ),
    Rule(
        "cli-password",
        re.compile(r"\bmysql(?:dump|admin)?\b[^\n]*?\s-p(?P<value>[^\s\"']{4,})"),
        ("mysql",),
        group="value",
        check=looks_like_password,
    ),
    Rule(
        "cli-password",
        re.compile(r"\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<value>\S+)"),
        ("machine",),
        group="value",
        check=looks_like_password,
    ),
)

# A PEM private key's BEGIN line; its END line (same type) is then looked up with str.find, which
# stays fast even on text made of thousands of BEGIN lines.
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----")
_PEM_MAX_BODY = 16_384  # an 8192-bit RSA key is about 6.5 KB
# A truncated one: the BEGIN line followed by base64 body lines, but no END.
_PEM_OPEN = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:(?:\s|\\[nr]|[\"'+,])+(?:[A-Za-z-]+: [^\n]*\n)*[A-Za-z0-9+/=]{16,})+"
)
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/]")
# PuTTY's format: the private part is the `Private-Lines: N` block and its MAC.
_PUTTY = re.compile(r"PuTTY-User-Key-File-\d+:[^\n]*\n(?:[^\n]*\n)*?Private-Lines: *(\d+)\n")
PEM_NEEDS = ("private key", "putty-user-key-file")


def private_keys(text: str) -> Iterator[Candidate]:
    """PEM private keys (whole, or cut short after the BEGIN line) and PuTTY private blocks."""
    for match in _PEM_BEGIN.finditer(text):
        end_marker = f"-----END {match.group(1)}PRIVATE KEY{match.group(2)}-----"
        end = text.find(end_marker, match.end(), match.end() + _PEM_MAX_BODY + len(end_marker))
        if end >= 0 and len(_BASE64_CHARS.findall(text, match.end(), end)) >= 32:
            yield match.start(), end + len(end_marker), 0, "private-key"
    for match in _PEM_OPEN.finditer(text):
        yield match.start(), match.end(), 0, "private-key"
    for match in _PUTTY.finditer(text):
        end = match.end()
        for _ in range(min(int(match.group(1)), 200)):
            newline = text.find("\n", end)
            end = len(text) if newline < 0 else newline + 1
        mac = text.find("Private-MAC:", end, end + 200)
        if mac >= 0:
            newline = text.find("\n", mac)
            end = len(text) if newline < 0 else newline
        yield match.end(), end, 0, "private-key"
