"""One Telegram conversation with LLM answers, end to end: the real `newsdesk telegram` process
against the fake Bot API and the scripted OpenAI-compatible server, both on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from harness import OTHER_USER, SEED_META, USER

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "answering"))
from openai_server import OpenAIServer, Reply  # noqa: E402

KEY = "sk-telegram-test-c0ffee1234"
SEED_QUESTION = "who hosts 650,000 refugees?"
FOLLOW_UP = "who is its army chief?"
SENTENCE = "Jordan hosts more than 650,000 Syrian refugees [1]."


@pytest.fixture(scope="module")
def llm():
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bot(bot_factory, seed_index, llm):
    data_dir, _ = seed_index
    return bot_factory(
        data_dir,
        "--verbose",
        NEWSDESK_ANSWERER="llm",
        NEWSDESK_LLM_BASE_URL=llm.url,
        NEWSDESK_LLM_MODEL="test-model",
        NEWSDESK_LLM_API_KEY=KEY,
        NEWSDESK_LLM_TIMEOUT="4",
    )


def ask(telegram, user: int, text: str):
    return telegram.wait_reply(telegram.message(user, text), timeout=60)


def test_a_conversation_with_llm_answers_cited_sources_and_a_fallback(telegram, bot, llm):
    assert llm.requests == []  # the start-up warm-up asks the reader only
    llm.answer = Reply(text=SENTENCE)
    first = ask(telegram, USER, SEED_QUESTION)
    assert first.text.startswith(f"<b>{SENTENCE}</b>\n\nExtractive reader: <b>Jordan</b>")
    assert f'Source: [1] <a href="{SEED_META["url"]}">' in first.text
    assert "650,000" in first.text.split("<blockquote>")[1]
    assert [b["text"] for b in first.buttons] == ["Sources"]

    llm.rewrite = Reply(text="Who is Jordan's army chief?")
    llm.answer = Reply(text="Jordan's army chief is Gen. Yousef Huneiti [1].")
    second = ask(telegram, USER, FOLLOW_UP)
    assert second.visible.startswith("Jordan's army chief is Gen. Yousef Huneiti [1].")
    assert "(read as: Who is Jordan's army chief?)" in second.visible
    sent = llm.answer_requests()[-1].body["messages"]
    assert sent[1]["content"] == SEED_QUESTION  # the conversation went with it

    llm.answer = Reply(status=500)
    third = ask(telegram, USER, SEED_QUESTION)
    assert third.text.startswith("<b>Jordan</b>\n\n<blockquote>")
    assert "LLM answer unavailable (server error 500)" in third.visible

    log = bot.log()
    assert "LLM answer failed (server error 500)" in log
    assert KEY not in log and all(KEY not in m.text for m in telegram.messages(USER))
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_slow_llm_answer_does_not_hold_up_another_chat(telegram, bot, llm):
    llm.answer = Reply(text=SENTENCE, delay_s=2.5)
    slow = telegram.message(USER, SEED_QUESTION)
    help_reply = ask(telegram, OTHER_USER, "/help")
    answer = telegram.wait_reply(slow, timeout=60)
    assert help_reply.at < answer.at
    assert answer.text.startswith(f"<b>{SENTENCE}</b>")
