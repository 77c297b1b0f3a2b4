"""The shipped reader: short answers from passages, offsets into the article, honest refusals."""

from __future__ import annotations

import pytest

from bot.answering.answerers import load_answerer
from bot.answering.answerers.reader import article_ranks, load_reader
from bot.answering.service import Newsdesk
from bot.evaluation.metrics import normalize_answer
from index.models import Hit
from index.settings import Settings

SHIPPED = Settings().reader_model


def test_the_repository_ships_a_reader_that_loads_offline():
    reader = load_reader(SHIPPED)  # the model is part of the product: missing is a failure
    assert reader is not None, f"no reader model in {SHIPPED}"
    assert reader.read("Who hosts the refugees?", ["Jordan hosts the refugees."])[0] == 0


def test_without_a_model_folder_there_is_no_reader_and_auto_falls_back(tmp_path):
    assert load_reader(tmp_path) is None
    settings = Settings(data_dir=tmp_path, reader_model=tmp_path / "missing")
    fallback = load_answerer(settings)
    assert fallback is not None and fallback.name != "reader"


def test_auto_picks_the_shipped_reader(tmp_path):
    assert load_answerer(Settings(data_dir=tmp_path)).name == "reader"


def test_without_the_model_the_service_answers_with_the_heuristic(
    seed_and_quail, embedder, tmp_path
):
    settings = Settings(data_dir=seed_and_quail, reader_model=tmp_path / "no-model-here")
    answer = Newsdesk(settings, embedder=embedder).ask("who hosts 650,000 refugees?")
    assert answer.answerer == "heuristic"
    assert answer.found and normalize_answer(answer.text) == "jordan"
    assert answer.source.article_id == "seed"


@pytest.fixture(scope="module")
def desk(seed_and_quail, embedder):
    return Newsdesk(Settings(data_dir=seed_and_quail, answerer="reader"), embedder=embedder)


def test_the_seed_question_is_answered_with_jordan_and_its_evidence(desk):
    answer = desk.ask("who hosts 650,000 refugees?")
    assert answer.answerer == "reader" and answer.found
    assert normalize_answer(answer.text) == "jordan"
    hit = answer.source
    assert hit.article_id == "seed"
    # the offsets are the article's: they mark the answer, in the passage or (a reference at the
    # start of a passage resolved) in the article just before it
    base = hit.start - len(hit.before)
    read = (hit.before + hit.text)[answer.answer_start - base : answer.answer_end - base]
    assert read == answer.text
    assert "650,000" in answer.evidence and "Jordan" in answer.evidence
    assert 0.0 <= answer.confidence <= 1.0


@pytest.fixture(scope="module")
def samples(sample_data, embedder):
    """The bundled sample corpus, what `make chat` opens."""
    return Newsdesk(Settings(data_dir=sample_data, answerer="reader"), embedder=embedder)


def test_on_the_samples_the_follow_up_is_read_in_the_context_of_the_first_answer(samples):
    from bot.answering.conversation import Conversation

    chat = Conversation()
    first = samples.ask("who hosts 650,000 refugees?", conversation=chat)
    assert normalize_answer(first.text) == "jordan"  # "The kingdom hosts ..." resolved
    follow_up = samples.ask("who is its army chief?", conversation=chat)
    assert "Jordan" in follow_up.rewritten_query
    assert follow_up.found and "huneiti" in normalize_answer(follow_up.text)
    assert follow_up.source.article_id == "sample-jordan-refugees"


def test_a_question_the_articles_cannot_answer_is_refused(desk):
    answer = desk.ask("what is the melting point of tungsten in kelvin?")
    assert not answer.found and answer.text is None
    assert answer.sources  # the closest passages are still shown


def test_confidence_separates_a_right_passage_from_an_unrelated_one():
    reader = load_reader(SHIPPED)
    question = "Which city hosted the meeting of the two generals?"
    right = "The two generals met on Sunday in Amman, the Jordanian capital, to discuss the border."
    wrong = "Wheat prices rose sharply in Chicago after a dry summer cut the expected harvest."
    index, start, end, sure = reader.read(question, [right])
    assert right[start:end] == "Amman"
    _, _, _, unsure = reader.read(question, [wrong])
    assert sure > 0.5 > unsure


def test_passages_of_one_article_share_its_rank():
    hits = [Hit(i, article, "text", 0, 4, "title") for i, article in enumerate("aaba")]
    assert article_ranks(hits) == [1, 1, 2, 1]


def test_a_reference_at_the_start_of_a_passage_is_resolved_from_the_article_before_it():
    reader = load_reader(SHIPPED)
    before = "Jordan reopened its main border crossing with Syria on Friday after three years. "
    text = "The kingdom hosts more than 650,000 Syrian refugees, according to the United Nations."
    hit = Hit(7, "a", text, len(before), len(before) + len(text), "Border reopens", before=before)
    span = reader.answer("who hosts more than 650,000 Syrian refugees?", [hit])
    assert span is not None and span.text == "Jordan"
    # the answer's offsets point at the name, and the evidence quoted runs from the sentence that
    # names it to the one that says it
    assert (before + text)[span.start : span.end] == "Jordan"
    evidence = (before + text)[span.evidence_start : span.evidence_end]
    assert evidence.startswith("Jordan reopened") and "650,000" in evidence
    no_context = Hit(7, "a", text, len(before), len(before) + len(text), "Border reopens")
    assert reader.answer("who hosts more than 650,000 Syrian refugees?", [no_context]).text == (
        "The kingdom"
    )


def test_on_the_raw_seed_article_the_kingdom_is_jordan(seed_and_quail, embedder):
    # The seed article's chunk that says "The kingdom hosts ..." does not name Jordan; the chunk
    # before it does.
    desk = Newsdesk(Settings(data_dir=seed_and_quail, answerer="reader"), embedder=embedder)
    answer = desk.ask("Who hosts more than 650,000 Syrian refugees?")
    assert answer.found and normalize_answer(answer.text) == "jordan"
