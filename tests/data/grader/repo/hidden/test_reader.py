import pytest


@pytest.fixture
def reader(textstats, tmp_path):
    path = tmp_path / "essay.txt"
    path.write_text("one two two three three three\n", encoding="utf-8")
    return textstats.Reader(path)


def test_reader_counts_a_file(reader):
    assert reader.word_count() == 6
