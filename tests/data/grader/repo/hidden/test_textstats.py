import pytest

TEXT = "The cat sat. The cat ran! A dog sat, the end."


def test_counts_words(textstats):
    assert textstats.word_count(TEXT) == 11


def test_punctuation_is_not_a_word(textstats):
    assert textstats.word_count("Hello , world !") == 2


def test_top_words_by_count_then_alphabetically(textstats):
    assert textstats.top_words("b a b a c", 2) == [("a", 2), ("b", 2)]


def test_top_words_ignore_case(textstats):
    assert textstats.top_words(TEXT, 2) == [("the", 3), ("cat", 2)]


def test_mean_word_length(textstats):
    assert textstats.mean_word_length("ab abcd") == pytest.approx(3.0)


def test_mean_word_length_of_no_words_is_refused(textstats):
    with pytest.raises(ValueError):
        textstats.mean_word_length(" ... ")


@pytest.mark.skip(reason="unicode word boundaries are graded in part two")
def test_unicode_words(textstats):
    assert textstats.word_count("naïve café") == 2
