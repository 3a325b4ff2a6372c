"""Yelp's detect-secrets plugins, run in-process on the text about to leave.

We match each regex plugin's own patterns (`denylist`) with positions, to mask in place, and
call the keyword plugin's `analyze_string` per line. The plugins' network verification is never
called (it lives in `analyze_line` and `verify`), nor is detect-secrets' global settings object.
A plugin runs only on text holding one of its literals; the two shape-only ones (Telegram,
Discord) only on text their combined pattern matches. Matches of patterns without boundaries
must stand alone as a token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from detect_secrets.filters.heuristic import is_indirect_reference, is_templated_secret
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.keyword import (
    CONFIG_DENYLIST_REGEX_TO_GROUP,
    QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
    KeywordDetector,
)
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from app.review.secret_rules import Candidate, real_token
from app.review.secret_values import looks_generated, looks_like_password

__all__ = ["KEYWORD_NEEDS", "PLUGINS", "Plugin", "keyword_secrets"]

_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_+/-]")
_DELIMITERS = " \t\r\n\"'=:"
_AWS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")


@dataclass(frozen=True, slots=True)
class Plugin:
    """One detect-secrets plugin, the literals its matches contain (case-folded; empty: it
    always runs), how to name what it found and whether to keep it."""

    detector: BasePlugin
    needs: tuple[str, ...]
    kind: Callable[[str], str]
    check: Callable[[str], bool] = real_token
    standalone: bool = False  # the match must not continue a longer token
    extend: re.Pattern[str] | None = None  # the token goes on over these characters
    whole: bool = False  # the whole match is the secret, not its first group
    exact: bool = False  # `needs` are case-sensitive

    def candidates(self, text: str) -> Iterator[Candidate]:
        # The plugin's own patterns, matched with positions: `analyze_string` yields values
        # only (and, for GitLab in 1.5, the prefix group instead of the token).
        for pattern in self.detector.denylist:  # type: ignore[attr-defined]
            for match in pattern.finditer(text):
                start, end = _secret_span(match, whole=self.whole)
                value = text[start:end]
                stripped = value.strip(_DELIMITERS)
                start += len(value) - len(value.lstrip(_DELIMITERS))
                end = start + len(stripped)
                if not stripped or not self.check(stripped):
                    continue
                if self.extend is not None:
                    extended = self.extend.match(text, end)
                    end = extended.end() if extended else end
                if self.standalone and (
                    (start and _TOKEN_CHAR.match(text[start - 1]))
                    or (end < len(text) and _TOKEN_CHAR.match(text[end]))
                ):
                    continue
                yield start, end, 1, self.kind(stripped)


def _secret_span(match: re.Match[str], *, whole: bool) -> tuple[int, int]:
    """The first group that matched (the secret, as detect-secrets reads it), else the match."""
    if not whole:
        for index in range(1, (match.re.groups or 0) + 1):
            if match.group(index):
                return match.span(index)
    return match.span()


def _named(kind: str) -> Callable[[str], str]:
    return lambda _value: kind


PLUGINS: tuple[Plugin, ...] = (
    Plugin(
        SlackDetector(),
        ("xox", "hooks.slack.com"),
        lambda v: "slack-webhook" if v.lower().startswith("https") else "slack-token",
    ),
    Plugin(StripeDetector(), ("_live_",), _named("stripe-key"), extend=re.compile("[A-Za-z0-9]+")),
    Plugin(TwilioKeyDetector(), ("AC", "SK"), _named("twilio-key"), standalone=True, exact=True),
    Plugin(SendGridDetector(), ("sg.",), _named("sendgrid-key")),
    Plugin(NpmDetector(), ("_authtoken",), _named("npm-token"), check=looks_like_password),
    Plugin(PypiTokenDetector(), ("pypi-",), _named("pypi-token")),
    Plugin(
        GitLabTokenDetector(),
        (
            "glpat-",
            "gldt-",
            "glft-",
            "glsoat-",
            "glrt-",
            "gr1348941",
            "glcbt-",
            "glimt-",
            "glptt-",
            "glagent-",
            "gloas-",
        ),
        _named("gitlab-token"),
        whole=True,
    ),
    Plugin(TelegramBotTokenDetector(), (), _named("telegram-token"), standalone=True),
    Plugin(DiscordBotTokenDetector(), (), _named("discord-token"), standalone=True),
    Plugin(MailchimpDetector(), ("-us",), _named("mailchimp-key"), standalone=True),
    Plugin(AzureStorageKeyDetector(), ("accountkey=",), _named("azure-storage-key")),
    Plugin(BasicAuthDetector(), ("://",), _named("url-password"), check=looks_like_password),
    Plugin(SquareOAuthDetector(), ("sq0csp-",), _named("square-token")),
    Plugin(
        ArtifactoryDetector(),
        ("AKC", "AP"),
        _named("artifactory-token"),
        standalone=True,
        exact=True,
    ),
    Plugin(
        AWSKeyDetector(),
        ("akia", "asia", "abia", "acca", "a3t", "aws"),
        lambda v: "aws-access-key" if _AWS_KEY_ID.fullmatch(v) else "aws-secret-key",
        standalone=True,
    ),
)

# The patterns of the plugins that need no literal, as one: text they cannot match skips them.
SHAPE_ONLY = re.compile(
    "|".join(
        f"(?:{pattern.pattern})"
        for plugin in PLUGINS
        if not plugin.needs
        for pattern in plugin.detector.denylist  # type: ignore[attr-defined]
    )
)

# detect-secrets' keyword plugin, for `DB_PASS=...`, `password: "..."` and the like, on the lines
# where our own scan (secret_assigned.py) met a secret-looking name; that scan covers the names
# and syntaxes the plugin lacks. Every name the plugin looks for holds one of these.
KEYWORD_NEEDS = ("key", "pass", "pwd", "secret", "contrase")
_KEYWORD = KeywordDetector()
_KEYWORD_MAPS = (QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, CONFIG_DENYLIST_REGEX_TO_GROUP)
_COMMENT = re.compile(r"[ \t]+(?:#|//).*$")
_CODE = re.compile(r"[()\[\]{}]")  # the keyword plugin's unquoted values run to the line's end


def keyword_secrets(text: str, lines: list[tuple[int, str]]) -> Iterator[Candidate]:
    """Values the keyword plugin finds on `lines`: (offset in the text, line) pairs."""
    for offset, line in lines:
        values: set[str] = set()
        for regexes in _KEYWORD_MAPS:
            values.update(_KEYWORD.analyze_string(line, denylist_regex_to_group=regexes))
        if values and is_indirect_reference(line):  # `password = get_password()`
            continue
        for value in values:
            value = _COMMENT.sub("", value).strip().rstrip(";,")
            if _CODE.search(value) or is_templated_secret(value) or not looks_generated(value):
                continue
            start = line.find(value)
            if start >= 0:
                yield offset + start, offset + start + len(value), 2, "assigned-secret"
