"""The BM25 tokenizer folds case, keeps numbers whole and drops stopwords."""

import unicodedata

from hypothesis import example, given, settings
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


def test_words_with_combining_marks_are_one_term():
    """Python's \\w has no combining marks: vowel signs cut Hindi and vowelled Arabic words apart,
    and the dotted capital I (which folds to 'i' and a combining dot) lost its letter."""
    assert tokenize("हिन्दी समाचार") == ["हिन्दी", "समाचार"]
    assert tokenize("العَرَبِيَّة") == ["العَرَبِيَّة"]
    assert tokenize("İstanbul") == tokenize("ISTANBUL") == ["istanbul"]


def test_a_plural_whose_singular_is_a_stopword_is_kept_whole():
    """'wills' and 'cans' are words of their own; folding them to 'will' and 'can' put stopwords
    into the index that no query could match (a query drops them)."""
    assert tokenize("Wills, cans and doings") == ["wills", "cans", "doings"]
    assert tokenize("refugees") == ["refugee"]


# --- properties ---------------------------------------------------------------------------------
WORDS = sorted(STOPWORDS) + ["Jordan", "refugees", "Amman", "camps", "series", "class", "bus"]
word_soup = st.lists(
    st.one_of(
        st.sampled_from(WORDS),
        st.sampled_from(WORDS).map(lambda w: w + "s"),  # plurals of stopwords too: "wills"
        st.sampled_from(WORDS).map(lambda w: w + "'s"),
        st.integers(0, 10**12).map(lambda n: f"{n:,}"),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzÉéüß", min_size=1, max_size=9),
    ),
    max_size=40,
).map(" ".join)
separators = st.sampled_from([" ", "  ", "\n", ", ", ". ", " - ", "; ", "(", ")", "?"])
mixed = st.one_of(
    word_soup,
    st.lists(st.tuples(word_soup, separators), max_size=6).map(
        lambda parts: "".join(a + b for a, b in parts)
    ),
    st.text(max_size=200),
)


@settings(max_examples=150, deadline=None)
@given(mixed)
@example("doings wills cans thems")
def test_terms_are_clean_and_contain_no_stopwords(text):
    for term in tokenize(text):
        assert term and term == term.strip() and " " not in term
        assert term not in STOPWORDS, f"stopword {term!r} from {text!r}"
        assert term == unicodedata.normalize("NFKC", term.casefold())  # case folded


@settings(max_examples=150, deadline=None)
@given(mixed)
@example("doings wills cans")
def test_tokenizing_its_own_output_changes_nothing(text):
    terms = tokenize(text)
    assert tokenize(" ".join(terms)) == terms


ascii_text = st.one_of(
    word_soup,
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
)


@settings(max_examples=150, deadline=None)
@given(ascii_text)
def test_case_does_not_matter(text):
    assert tokenize(text.upper()) == tokenize(text.lower()) == tokenize(text.swapcase())


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüéèçñ", min_size=1, max_size=12))
def test_case_does_not_matter_for_accented_latin_words(word):
    assert tokenize(word.upper()) == tokenize(word) == tokenize(word.title())


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 10**15),
    st.sampled_from(["", "0", "00", "5", "25", "75", "125"]),
    word_soup,
    word_soup,
)
def test_a_number_is_one_term_with_or_without_thousands_separators(n, decimals, before, after):
    plain = f"{n}.{decimals}" if decimals else str(n)
    grouped = f"{n:,}.{decimals}" if decimals else f"{n:,}"
    expected = [str(n)] if not decimals.strip("0") else [f"{n}.{decimals}".rstrip("0")]
    assert tokenize(grouped) == tokenize(plain) == expected
    # in a sentence, the number is the same term however it is written
    assert tokenize(f"{before} {grouped} {after}") == tokenize(f"{before} {plain} {after}")


LETTERS = "abcdefghijklmnopqrstuvwxyzßøæİЖжΣσςαβγκमनसकअابتجح"
MARKS = ["", "", "", "\u0301", "\u0308", "\u0307", "\u093f", "\u094d", "\u0940", "\u064e", "\u0651"]
marked_word = st.lists(st.tuples(st.sampled_from(LETTERS), st.sampled_from(MARKS)), min_size=1, max_size=10).map(
    lambda pairs: "".join(a + b for a, b in pairs)
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(marked_word)
def test_a_word_of_letters_and_marks_is_exactly_one_term_whatever_its_case(word):
    terms = tokenize(word)
    folded = tokenize(word.upper())
    assert terms == folded
    if terms:  # else: a stopword ('i', 'a', ...)
        assert len(terms) == 1, f"{word!r} was cut into {terms}"
        assert tokenize(terms[0]) == terms
