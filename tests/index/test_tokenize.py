"""The BM25 tokenizer folds case, keeps numbers whole and drops stopwords."""

from hypothesis import given
from hypothesis import strategies as st

from index.tokenize import STOPWORDS, tokenize


def test_numbers_are_equal_across_formats():
    assert tokenize("650,000") == tokenize("650000") == ["650000"]
    assert tokenize("1,234,567.50") == ["1234567.5"]
    assert tokenize("3.14 and 2018") == ["3.14", "2018"]


def test_case_possessives_plurals_and_stopwords():
    assert tokenize("Who hosts the Refugees in Jordan's camps?") == [
        "host",
        "refugee",
        "jordan",
        "camp",
    ]


def test_words_in_other_scripts_are_kept():
    assert tokenize("Zürich café naïve") == ["zürich", "café", "naïve"]


@given(st.text(max_size=300))
def test_any_text_gives_clean_terms(text):
    terms = tokenize(text)
    assert all(term and term == term.strip() and term not in STOPWORDS for term in terms)
    assert tokenize(" ".join(terms)) is not None
