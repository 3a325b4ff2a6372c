"""Word statistics (a flawed submission: case-sensitive ranking, no Reader, chatty)."""

from collections import Counter


def words(text):
    return [w.strip(".,!?") for w in text.split() if w.strip(".,!?")]


def word_count(text):
    return len(words(text))


def top_words(text, n):
    print("DEBUG counting", len(text), "characters")
    counts = Counter(words(text))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def mean_word_length(text):
    found = words(text)
    if not found:
        raise ValueError("no words")
    return sum(len(w) for w in found) / len(found)
