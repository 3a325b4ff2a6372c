"""Is this value a secret? Placeholders, references and words are not; generated keys and
passwords are.

Used on values found by *where* they stand (assigned to a secret-looking name, the password of a
connection URL, an Authorization header), where the name already says "secret" and the value
decides. A plain Shannon-entropy bar is the wrong test there: a random 20-character hex key
averages about 3.5 bits per character, right on the old bar, so 78 % of them slipped through.
The test here compares a value with what a random string of the same length and alphabet would
look like (its count of distinct characters), after ruling out the shapes of non-secrets.
`bench/secrets_rate.py` prints the rates this gives on generated keys and on real code.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
from collections import Counter

from detect_secrets.filters.heuristic import is_sequential_string

__all__ = [
    "is_placeholder",
    "is_reference",
    "looks_generated",
    "looks_like_password",
    "shannon_entropy",
]

# Values that stand in for a secret in examples, templates and tests. Matched as substrings of
# the case-folded value after undoing leetspeak ("p@ssw0rd", "s3cr3t").
PLACEHOLDER_WORDS = (
    "changeme", "change_me", "change-me", "example", "sample", "dummy", "placeholder", "your",
    "xxxx", "****", "....", "redacted", "masked", "todo", "fixme", "fake", "test", "password",
    "passwd", "secret", "token", "insert", "replace", "enter", "mysecret", "default", "demo",
    "foobar", "lorem", "none", "null", "undefined", "notreal", "not-real", "not_real", "invalid",
    "hunter2", "letmein", "qwerty", "abc123", "123456", "admin", "guest", "tiger", "mock", "stub",
)  # fmt: skip
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# References to a secret kept elsewhere: `${DB_PASSWORD}`, `{{ secrets.X }}`, `%(pw)s`,
# `<your-token>`, `os.environ[...]`, `process.env.X`, `ENV['X']`, a masked value.
_NOT_LETTERS = string.digits + string.punctuation
_REFERENCE = re.compile(
    r"^(?:\$[A-Za-z_{(]|%\w+%$|\{.*\}$|<.*>$|\[masked:)|\$\{|\{\{|%\(\w+\)s|\{\}"
    r"|(?<![A-Za-z0-9])%[sd](?![A-Za-z0-9])"
    r"|os\.environ|getenv|process\.env|env\[|environ\[|secrets\.|vault:|arn:aws",
    re.I,
)
_WORD_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Lower-case words (or numbers) joined by `_`, `-`, `.` or `$`, and upper-case constants.
_SLUG = re.compile(r"^[_$]*(?:[a-z]+|\d+)(?:[-_.$]+(?:[a-z]+|\d+))+[_$]*$")
_CONSTANT = re.compile(r"^_*(?:[A-Z]+|\d+)(?:_+(?:[A-Z]+|\d+))+_*$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])\d|(?<=\d)[A-Za-z]")
_VOWEL = re.compile(r"[aeiouy]", re.I)
_IDENTIFIER_CHARS = re.compile(r"^[A-Za-z0-9_.:-]+$")
# Random values of 12-64 characters score 0.69 or more in 999 cases of 1,000 (hex, base64,
# alphanumeric and password alphabets alike); repeated and patterned ones score lower.
_MIN_DISTINCT_RATIO = 0.6
_HEX = frozenset("0123456789abcdef")
_SEPARATORS = re.compile(r"[-_.]")
_OTHER_SYMBOLS = re.compile(r"[^-_.A-Za-z0-9]")


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`: random keys score high, words and identifiers low."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


def is_reference(value: str) -> bool:
    """`${DB_PASSWORD}`, `{{ secrets.X }}`, `os.environ[...]`: the secret is kept elsewhere."""
    return _REFERENCE.search(value) is not None


def is_placeholder(value: str) -> bool:
    """True for stand-ins and references rather than literal secrets."""
    folded = value.casefold()
    if _REFERENCE.search(value):
        return True
    if len(set(folded)) <= 2:  # "xxxxxxxx", "********", "00000000"
        return True
    if any(word in folded for word in PLACEHOLDER_WORDS):
        return True
    # Leetspeak is undone only for a whole value ("p@ssw0rd!"): inside hex, "7357" reads "test".
    unleet = folded.translate(_LEET).strip(_NOT_LETTERS)
    return unleet in PLACEHOLDER_WORDS


def _alphabet_size(value: str) -> int:
    """Size of the alphabet a generator of `value` most likely drew from."""
    if value[:2] in {"0x", "0X"} and len(value) > 2:
        value = value[2:]
    if set(value.lower()) <= _HEX and not (value != value.lower() and value != value.upper()):
        return 16
    size = 0
    size += 26 if any(c.islower() for c in value) else 0
    size += 26 if any(c.isupper() for c in value) else 0
    size += 10 if any(c.isdigit() for c in value) else 0
    size += 30 if any(not c.isalnum() for c in value) else 0
    return max(size, 10)


def _distinct_ratio(value: str) -> float:
    """Distinct characters in `value`, over the count a random string of its length and
    alphabet has on average. Random values score about 1; repeats and patterns less."""
    if _SEPARATORS.search(value) and not _OTHER_SYMBOLS.search(value):
        value = _SEPARATORS.sub("", value)  # a UUID or a key in dashed groups
    k = _alphabet_size(value)
    if k == 16 and value[:2] in {"0x", "0X"}:
        value = value[2:]
    n = len(value)
    expected = k * (1 - (1 - 1 / k) ** n)
    return len(set(value)) / expected


def _is_wordy(value: str) -> bool:
    """True for names and phrases made of words: `DJANGO_SECRET_KEY`, `access-token`,
    `getUserPassword`, `token_v2`, as opposed to generated strings, which switch between
    letters and digits often, or split into short unpronounceable pieces."""
    if not _IDENTIFIER_CHARS.match(value) or len(_LETTER_DIGIT.findall(value)) > 2:
        return False
    letters = [p for p in _WORD_SPLIT.findall(value) if not p.isdigit()]
    if not letters:
        return False
    # Generated text splits into short pieces ("vN2ZCXnrhm": v, N, ZC, Xnrhm), many without a
    # vowel; names into words (`scopeAuthKey`, `IAmSensitive`).
    pieces = [p for p in letters if len(p) >= 2]
    junk = sum(not _VOWEL.search(p) for p in pieces)
    return junk * 3 <= len(pieces) and sum(map(len, letters)) >= 3 * len(letters)


def _is_name(value: str) -> bool:
    """Names, slugs and references rather than generated text: `shard_id`, `_sdk.api_key`,
    `x-api-key`, `DEFAULT_PASSWORD`, `i-am-the-worst`, `scopeAuthKey`."""
    return bool(_SLUG.match(value) or _CONSTANT.match(value)) or _is_wordy(value)


def _encodes_text(value: str) -> bool:
    """Base64 of a phrase ("not my real password"), which no generator produces."""
    if len(value) < 12 or len(value) % 4 or not _BASE64.match(value):
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return " " in decoded and decoded.isprintable()


def _is_path_or_url(value: str) -> bool:
    if "://" in value:
        return "@" not in value
    if value.startswith(("./", "../", "~/")) or ("/" in value and "." in value):
        return True  # base64 never holds a dot
    return value.startswith("/") and all(not part or _is_wordy(part) for part in value.split("/"))


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def looks_generated(value: str, *, min_length: int = 8) -> bool:
    """True for a value that looks like a generated key or a strong password: long enough, not a
    placeholder, reference, word, path, number or sequence, and about as varied as a random
    string of its length and alphabet."""
    if len(value) < min_length or any(c.isspace() for c in value):
        return False
    if value.isdigit() or is_placeholder(value) or _is_path_or_url(value) or _is_name(value):
        return False
    if value[0] in "&*" and _is_name(value[1:]):  # a pointer to a variable: `&emptyPass`
        return False
    if is_sequential_string(value) or _encodes_text(value):
        return False
    if _classes(value) < 2 and not value.isalpha():
        return False
    if _repeats(value):
        return False
    return _distinct_ratio(value) >= _MIN_DISTINCT_RATIO


def looks_like_password(value: str) -> bool:
    """A password in a connection URL or an Authorization header: shorter than a key, but still
    not a placeholder, a reference or a single dictionary-like word."""
    if len(value) < 6 or any(c.isspace() for c in value):
        return False
    if is_placeholder(value) or (value.isalpha() and value.islower()) or value.isdigit():
        return False
    return _classes(value) >= 2 or len(value) >= 12


def _repeats(value: str) -> bool:
    """`hunter2hunter2`, `abcabcabc`: a short unit repeated."""
    n = len(value)
    return any(
        n % size == 0 and value == value[:size] * (n // size) for size in range(1, n // 2 + 1)
    )
