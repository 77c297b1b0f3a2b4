"""LLM answers through Newsdesk, end to end on a real index of the seed and QuAIL articles: the real
reader, the real `openai` client, and the scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import time

import pytest
from openai_server import OpenAIServer, Reply

from bot.answering.answer import NOT_FOUND
from bot.answering.conversation import Conversation
from bot.answering.llm.prompt import REFUSAL_PHRASE
from bot.answering.service import Newsdesk
from bot.cli.render import Style
from bot.cli.reply import format_answer
from bot.telegram import format as tg
from index.settings import Settings

SEED_QUESTION = "who hosts 650,000 refugees?"
SENTENCE = "Jordan hosts more than 650,000 Syrian refugees [1]."
KEY = "sk-newsdesk-test-7f3a9c2e51"
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server():
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh(server):
    server.requests.clear()
    server.answer = Reply(text=REFUSAL_PHRASE)
    server.rewrite = Reply(status=500)


def llm_settings(data_dir, url: str, **changes) -> Settings:
    values = dict(
        data_dir=data_dir,
        answerer="llm",
        llm_base_url=url,
        llm_model="test-model",
        llm_api_key=KEY,
        llm_timeout=TIMEOUT,
    )
    values.update(changes)
    return Settings(**values)


@pytest.fixture(scope="module")
def desk(seed_and_quail, embedder, server) -> Newsdesk:
    return Newsdesk(llm_settings(seed_and_quail, server.url), embedder=embedder)


def plain(answer) -> str:
    return format_answer(answer, Style(open("/dev/null")))  # noqa: SIM115 - not a terminal


def test_a_cited_answer_is_shown_with_the_seed_article_as_its_source(desk, server):
    server.answer = Reply(text=SENTENCE, pieces=6)
    answer = desk.ask(SEED_QUESTION)
    generated = answer.generated
    assert generated.text == SENTENCE and generated.fallback is None
    assert [(c.n, c.article_id) for c in generated.citations] == [(1, "seed")]
    assert answer.sources[0].article_id == "seed"
    assert answer.text == "Jordan" and generated.reader_agrees is True  # the reader still runs
    sent = server.answer_requests()[0].last_user
    assert "[1] Syria's defense minister meets Jordan's army chief in Amman" in sent
    assert "650,000 Syrian refugees" in sent and sent.endswith(f"Question: {SEED_QUESTION}")
    data = json.loads(json.dumps(answer.as_dict()))
    assert data["answer"] == "Jordan"
    assert data["generated"]["text"] == SENTENCE and data["generated"]["model"] == "test-model"
    assert data["generated"]["citations"] == [{"n": 1, "article_id": "seed", "url": None}]
    assert data["generated"]["fallback"] is None
    text = plain(answer)
    assert text.splitlines()[0] == SENTENCE and "Extractive reader: Jordan" in text
    assert "[1] Syria's defense minister meets Jordan's army chief in Amman" in text
    html = tg.format_answer(answer)
    assert html.startswith(f"<b>{SENTENCE}</b>\n\nExtractive reader: <b>Jordan</b>")
    assert "Source: [1] Syria" in html and "<blockquote>" in html


def test_a_citation_of_a_passage_never_sent_is_dropped_and_reported(desk, server):
    server.answer = Reply(text="Jordan hosts the refugees [1][9].")
    generated = desk.ask(SEED_QUESTION).generated
    assert generated.text == "Jordan hosts the refugees [1]." and generated.dropped == [9]
    assert [c.n for c in generated.citations] == [1]


def test_an_answer_citing_only_passages_never_sent_is_not_shown(desk, server):
    server.answer = Reply(text="Narnia hosts them [7].")
    answer = desk.ask(SEED_QUESTION)
    assert answer.generated.text is None and answer.generated.dropped == [7]
    assert answer.generated.fallback == "the LLM's reply cited none of the passages"
    for reply in (plain(answer), tg.format_answer(answer)):
        assert "Narnia" not in reply and "[7]" not in reply
        assert "cited none of the passages" in reply and "Jordan" in reply


def test_not_in_the_articles_becomes_the_honest_refusal_and_the_reader_is_said_to_differ(
    desk, server
):
    server.answer = Reply(text="Not in the articles.")
    answer = desk.ask(SEED_QUESTION)
    assert answer.generated.refused and answer.generated.text is None
    text = plain(answer)
    assert text.splitlines()[0] == NOT_FOUND
    assert "The extractive reader suggests “Jordan”, but the LLM found no answer" in text
    assert tg.format_answer(answer).startswith(f"<b>{NOT_FOUND}</b>")


def test_when_the_llm_and_the_reader_disagree_the_reply_says_so(desk, server):
    server.answer = Reply(text="Lebanon hosts more than 650,000 refugees [1].")
    answer = desk.ask(SEED_QUESTION)
    assert answer.generated.reader_agrees is False
    assert "The extractive reader disagrees: “Jordan”." in plain(answer)
    assert "The extractive reader disagrees: <b>Jordan</b>" in tg.format_answer(answer)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "server error 500"),
        (Reply(status=429), "rate-limiting requests (429)"),
        (Reply(raw="{definitely not json"), "malformed reply"),
        (Reply(text="Jordan hosts", cut_after=1), "broke off in the middle"),
        (Reply(text=SENTENCE, delay_s=TIMEOUT + 3), f"no reply within {TIMEOUT:g} s"),
    ],
    ids=["500", "429", "invalid-json", "stream-cut", "slow"],
)
def test_a_failing_llm_falls_back_to_the_readers_answer_within_the_time_out(
    desk, server, reply, reason
):
    server.answer = reply
    answer = desk.ask(SEED_QUESTION)
    assert answer.text == "Jordan"
    assert reason in answer.generated.fallback
    assert answer.timings_ms["llm_ms"] < TIMEOUT * 1000 + 300
    assert answer.as_dict()["generated"]["fallback"] == answer.generated.fallback
    text = plain(answer)
    [line] = [t for t in text.splitlines() if "LLM answer unavailable" in t]
    assert reason in line and "Jordan" in text.splitlines()[1]
    assert "LLM answer unavailable" in tg.format_answer(answer)
    assert tg.format_answer(answer).startswith("<b>Jordan</b>")


def test_with_the_server_stopped_the_reader_answers_jordan_within_the_time_out(
    seed_and_quail, embedder
):
    gone = OpenAIServer().start()
    url = gone.url
    gone.stop()
    desk = Newsdesk(llm_settings(seed_and_quail, url), embedder=embedder)
    started = time.monotonic()
    answer = desk.ask(SEED_QUESTION)
    assert time.monotonic() - started < TIMEOUT + 5  # the reader's own time included
    assert answer.text == "Jordan" and answer.generated.fallback is not None
    assert answer.timings_ms["llm_ms"] < TIMEOUT * 1000


def test_the_key_is_in_no_log_line_and_no_reply(desk, server, caplog):
    caplog.set_level(logging.DEBUG)
    server.answer = Reply(status=400, raw=json.dumps({"error": {"message": f"bad key {KEY}"}}))
    failed = desk.ask(SEED_QUESTION)
    server.answer = Reply(text=SENTENCE)
    answered = desk.ask(SEED_QUESTION)
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    assert "LLM answer failed" in caplog.text
    for text in (caplog.text, json.dumps(failed.as_dict()), json.dumps(answered.as_dict())):
        assert KEY not in text
    for answer in (failed, answered):
        assert KEY not in plain(answer) and KEY not in tg.format_answer(answer)
    assert KEY not in repr(desk.settings) and KEY not in repr(desk.answerer.client.config)


def test_without_an_llm_configured_replies_are_the_readers_alone(seed_and_quail, embedder, server):
    reader_only = Newsdesk(Settings(data_dir=seed_and_quail), embedder=embedder)
    named = Newsdesk(Settings(data_dir=seed_and_quail, answerer="reader"), embedder=embedder)
    answer = reader_only.ask(SEED_QUESTION)
    assert answer.generated is None and "generated" not in answer.as_dict()
    assert answer.answerer == "reader" and answer.text == "Jordan"
    expected = named.ask(SEED_QUESTION)
    assert plain(answer) == plain(expected)
    assert tg.format_answer(answer) == tg.format_answer(expected)
    assert server.requests == []


def test_auto_uses_the_llm_when_a_base_url_is_set(seed_and_quail, embedder, server):
    server.answer = Reply(text=SENTENCE)
    desk = Newsdesk(llm_settings(seed_and_quail, server.url, answerer="auto"), embedder=embedder)
    answer = desk.ask(SEED_QUESTION)
    assert answer.answerer == "llm+reader" and answer.generated.text == SENTENCE


def test_a_follow_up_sends_the_conversation_and_is_condensed_when_the_rewrite_checks_out(
    desk, server
):
    conversation = Conversation()
    server.answer = Reply(text=SENTENCE)
    desk.ask(SEED_QUESTION, conversation=conversation)
    server.rewrite = Reply(text="Who is the army chief of Jordan?")
    server.answer = Reply(text="Jordan's army chief is Gen. Yousef Huneiti [1].")
    answer = desk.ask("who is its army chief?", conversation=conversation)
    assert answer.rewritten_query == "Who is the army chief of Jordan?"
    assert "Huneiti" in answer.generated.text
    request = server.answer_requests()[-1]
    roles = [m["role"] for m in request.body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert request.body["messages"][1]["content"] == SEED_QUESTION
    assert request.body["messages"][2]["content"] == "Jordan"
    assert "who is its army chief?" in server.rewrite_requests()[-1].last_user


def test_a_condensed_question_that_adds_words_from_nowhere_is_not_used(desk, server):
    conversation = Conversation()
    desk.ask(SEED_QUESTION, conversation=conversation)
    rules = Conversation.from_dict(conversation.to_dict()).rewrite("who is its army chief?")
    server.rewrite = Reply(text="Who is Egypt's army chief?")
    answer = desk.ask("who is its army chief?", conversation=conversation)
    assert answer.rewritten_query == rules and "Egypt" not in answer.rewritten_query
