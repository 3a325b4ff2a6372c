"""Word statistics (a correct submission)."""

import re
from collections import Counter
from pathlib import Path

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def words(text: str) -> list[str]:
    return WORD.findall(text)


def word_count(text: str) -> int:
    return len(words(text))


def top_words(text: str, n: int) -> list[tuple[str, int]]:
    counts = Counter(word.lower() for word in words(text))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def mean_word_length(text: str) -> float:
    found = words(text)
    if not found:
        raise ValueError("no words")
    return sum(map(len, found)) / len(found)


class Reader:
    def __init__(self, path: Path) -> None:
        self.text = Path(path).read_text(encoding="utf-8")

    def word_count(self) -> int:
        return word_count(self.text)
