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
