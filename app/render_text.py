"""Untrusted text into GitHub markdown, and any text into GitHub's size limits. Pure.

Every string the candidate can influence (file names, PR text, linter messages quoting code,
whatever the model wrote) enters markdown through `md` (prose and table cells), `code` (inline
code in prose and lists) or `fenced` (code blocks). Each first makes the string one line: a line
break, however spelled, becomes a visible `⏎`, so no string can start a table row, a heading or a
list item of its own; `md` also escapes what markdown would read inside a line (pipes, emphasis,
links, HTML, code spans, math) and breaks @mentions.

GitHub counts its limits in UTF-8 bytes (a 65,535-character summary of emoji is refused), so
`fit` cuts by bytes, at a character boundary, and says that it cut.
"""

from __future__ import annotations

import re
import unicodedata

MAX_BODY_BYTES = 65_535  # check-run summary/text, comment, issue and review-comment bodies
MAX_ANNOTATION_BYTES = 64_000  # annotation message and raw_details ("64 KB")
MAX_TITLE_CHARS = 255  # check-run and annotation titles
CUT_NOTE = "\n\n… (cut: the full text is longer than GitHub allows)"
SHORT_CUT_NOTE = " …"

_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Other control characters, and the bidirectional controls that make text display in another
# order than it reads ("Trojan Source"): shown as U+FFFD, never passed through.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Markdown punctuation that means something inside a line (GFM tables, emphasis, strikethrough,
# links and images, HTML and autolinks, code spans, math, entities, escapes).
_INLINE = re.compile(r"([\\`*_~\[\]<>|&$])")
# What else means something at the start of a paragraph: headings, lists, thematic breaks,
# setext underlines, ordered lists (quotes and `*` lists are escaped anywhere).
_LEADING = re.compile(r"^(?:([#+\-=])|(\d{1,9})([.)]))")
_MENTION = re.compile(r"@(?=\w)")
# Code points that join with what comes before: a cut before one splits what a reader sees as
# one character (accents, emoji modifiers and sequences, variation selectors).
_JOINERS = re.compile("[\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")


def one_line(text: str) -> str:
    """`text` on one line: line breaks become a visible ⏎, hidden controls U+FFFD, tabs spaces."""
    text = _LINE_BREAKS.sub("⏎", text).replace("\t", " ")
    return _HIDDEN.sub("\ufffd", text)


def md(text: str) -> str:
    """Untrusted text as literal markdown inside one line or table cell: what it says is shown,
    nothing it contains is structure."""
    text = _INLINE.sub(r"\\\1", one_line(text).strip())
    text = _LEADING.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)
    return _MENTION.sub("@\u200b", text)


def md_paragraphs(text: str) -> str:
    """Untrusted multi-paragraph prose: paragraphs kept (blank lines), each one escaped line."""
    paragraphs = re.split(r"(?:\r?\n[ \t]*){2,}", text.strip())
    return "\n\n".join(md(p) for p in paragraphs if p.strip())


def code(text: str) -> str:
    """Untrusted text as inline code, e.g. a file name: one line, fenced by more backticks than
    it contains. For prose and lists only; table cells take `md`."""
    text = one_line(text)
    if not text:
        return "(empty)"
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    # CommonMark strips one space from each end of a code span that is not all spaces.
    pad = " " if (text[0] in "` " or text[-1] in "` ") and text.strip(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, info: str = "") -> str:
    """Untrusted text as a code block whose fence nothing in it can close."""
    longest = max((len(run) for run in re.findall("`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def utf8_len(text: str) -> int:
    return len(text.encode())


def _clean_end(text: str) -> str:
    """Drop joiners and combining marks left dangling at the end of a cut."""
    while text and _joins(text[-1]):
        text = text[:-1]
    return text


def _joins(char: str) -> bool:
    return bool(_JOINERS.match(char) or unicodedata.combining(char))


def _head(text: str, limit: int, *, in_bytes: bool = True) -> str:
    """The longest prefix of `text` within `limit` UTF-8 bytes (or characters), never
    mid-character nor between a character and what joins it."""
    head = text[: max(limit, 0)]  # no more characters than bytes: a cheap first cut
    if in_bytes:
        head = head.encode()[: max(limit, 0)].decode("utf-8", errors="ignore")
    if head and len(head) < len(text) and _joins(text[len(head)]):
        head = head[:-1]  # the base of what follows
    return _clean_end(head)


def fit(text: str, limit: int = MAX_BODY_BYTES, note: str = CUT_NOTE) -> str:
    """`text` within `limit` UTF-8 bytes; if cut, cut at a line end when one is near (so no
    table row or code span is left half-open) and followed by `note`."""
    if utf8_len(text) <= limit:
        return text
    head = _head(text, limit - utf8_len(note))
    line_end = head.rfind("\n")
    if line_end >= 0 and len(head) - line_end <= 2_000:
        head = head[:line_end]
    return head.rstrip() + note


def fit_title(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A plain-text title on one line within `limit` characters, as GitHub counts titles."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    head = _head(text, limit - len(SHORT_CUT_NOTE), in_bytes=False)
    return head.rstrip() + SHORT_CUT_NOTE
