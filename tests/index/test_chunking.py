"""Chunks are sentence-aligned, within the token budget, overlapping, with exact offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import Chunker, split_sentences
from index.models import Article


def words(texts):
    """A stand-in token counter: one token per word (the model's counter is tested below)."""
    return [len(t.split()) for t in texts]


def test_sentences_keep_exact_offsets_and_attach_closing_quotes():
    text = "He said: ``yes.''\nGen. Huneiti met Gen. Habib. It rained."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "He said: ``yes.''",
        "Gen. Huneiti met Gen. Habib.",
        "It rained.",
    ]


def test_chunks_fit_the_budget_overlap_by_one_sentence_and_point_into_the_text():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(12)]
    article = Article("a", "Title here", " ".join(sentences))
    chunks = Chunker(words, max_tokens=30, overlap=1).chunk(article)
    assert len(chunks) > 2
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert words([chunk.text])[0] + 2 + 2 <= 30  # title words and the two special tokens
        assert chunk.embed_text == f"Title here\n{chunk.text}"
    for before, after in zip(chunks, chunks[1:], strict=False):
        last_sentence = before.text.rsplit(". ", 1)[-1]
        assert after.text.startswith(last_sentence)
    assert chunks[0].text.startswith("Sentence number 0") and chunks[-1].text.endswith(
        "11 has exactly seven words."
    )


def test_a_sentence_longer_than_the_budget_is_cut_at_words():
    article = Article("a", "", " ".join(["word"] * 100) + ".")
    chunks = Chunker(words, max_tokens=20, overlap=0).chunk(article)
    assert len(chunks) >= 5
    assert all(words([c.text])[0] <= 18 for c in chunks)
    assert " ".join(c.text for c in chunks) == article.text


def test_budget_is_measured_with_the_models_own_tokenizer(embedder):
    text = " ".join(
        f"Refugee number {i:,} arrived at the Zaatari camp in northern Jordan." for i in range(40)
    )
    chunker = Chunker(embedder.count_tokens, max_tokens=64, overlap=1)
    chunks = chunker.chunk(Article("a", "Camps", text))
    assert all(embedder.count_tokens([c.embed_text])[0] + 2 <= 64 for c in chunks)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600))
def test_any_text_chunks_into_exact_slices(text):
    article = Article("a", "T", text)
    for chunk in Chunker(words, max_tokens=16, overlap=1).chunk(article):
        assert text[chunk.start : chunk.end] == chunk.text and chunk.text.strip()


# --- properties ---------------------------------------------------------------------------------
WORD = st.one_of(
    st.sampled_from(
        "the kingdom hosts refugees Jordan's army chief met Gen. Huneiti in Amman".split()
    ),
    st.integers(0, 10**7).map(lambda n: f"{n:,}"),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzÉü", min_size=1, max_size=12),
)
SENTENCE = st.tuples(
    st.lists(WORD, min_size=1, max_size=30).map(" ".join),
    st.sampled_from([".", "?", "!", ".''", '."', ":", ""]),
).map("".join)
ARTICLE_TEXT = st.tuples(
    st.lists(st.tuples(SENTENCE, st.sampled_from([" ", "  ", "\n", "\n\n", " \n "])), min_size=1, max_size=25),
).map(lambda t: "".join(s + gap for s, gap in t[0]).strip())  # fmt: skip
TITLE = st.lists(WORD, max_size=4).map(" ".join)


def assert_chunks_cover(article: Article, chunks, budget_check) -> None:
    text = article.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text  # offsets map back exactly
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.embed_text == (
            f"{article.title}\n{chunk.text}" if article.title else chunk.text
        )
        budget_check(chunk)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.start < after.start and before.end < after.end  # in order, no repeats
        assert after.start <= before.end or not text[before.end : after.start].strip()  # no gap
    if text.strip():
        assert chunks[0].start == len(text) - len(text.lstrip())
        assert chunks[-1].end == len(text.rstrip())
    for start, end in split_sentences(text):  # every sentence is in the chunks, whole or in parts
        inside = [c for c in chunks if c.start < end and start < c.end]
        assert inside, f"sentence {text[start:end]!r} is in no chunk"
        assert inside[0].start <= start and inside[-1].end >= end


@settings(max_examples=60, deadline=None)
@given(ARTICLE_TEXT, TITLE, st.integers(16, 60), st.integers(0, 2))
def test_chunks_cover_every_sentence_within_the_budget(text, title, max_tokens, overlap):
    article = Article("a", title, text)
    chunks = Chunker(words, max_tokens=max_tokens, overlap=overlap).chunk(article)

    def within_budget(chunk):
        assert words([chunk.text])[0] + words([title])[0] + 2 <= max_tokens

    assert_chunks_cover(article, chunks, within_budget)


MODEL_WORD = st.one_of(
    WORD,
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzQXZ0123456789", min_size=20, max_size=99
    ),  # ids, hashes
    st.sampled_from(
        ["https://example.org/a/b?c=d", "#hashtag", "@handle", "—", "“quoted”", "Zürich", "北京"]
    ),
)
MODEL_TEXT = st.lists(
    st.tuples(st.lists(MODEL_WORD, min_size=1, max_size=40).map(" ".join), st.sampled_from([". ", "? ", "\n", "; "])),
    min_size=1,
    max_size=12,
).map(lambda parts: "".join(a + b for a, b in parts).strip())  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    MODEL_TEXT, st.lists(MODEL_WORD, max_size=6).map(" ".join), st.sampled_from([24, 32, 64, 128])
)
def test_chunks_fit_the_models_budget_whatever_the_words(embedder, text, title, max_tokens):
    article = Article("a", title, text)
    chunks = Chunker(embedder.count_tokens, max_tokens=max_tokens, overlap=1).chunk(article)
    title_tokens = embedder.count_tokens([title])[0] if title else 0

    def within_budget(chunk):
        if title_tokens + 2 + 8 <= max_tokens:  # else the budget is 8 tokens after the title
            assert embedder.count_tokens([chunk.embed_text])[0] + 2 <= max_tokens, chunk.text

    assert_chunks_cover(article, chunks, within_budget)
