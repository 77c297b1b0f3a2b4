"""Load: 50 chats ask 10 questions each at once through the fake Bot API server, against the real
`newsdesk telegram` process (default logging, Telegram's rate limits on). Every question gets one
reply, in its own chat, in order, with the right answer; no request fails; the bot's RSS is
about the same afterwards. The numbers are printed (run with -s to see them)."""

from __future__ import annotations

import json

import pytest
from harness import ADMIN, run_load

from bot.answering.service import Newsdesk
from bot.telegram import format as fmt
from index.settings import Settings

QUESTIONS = [
    "who hosts 650,000 refugees?",
    "when was the crossing with Jordan reopened?",
    "who won the 2022 world cup?",
    "where did Syria's defence minister meet Jordan's army chief?",
]


@pytest.mark.slow
def test_load_50_chats_10_questions_each(telegram, bot_factory, seed_index, embedder):
    data_dir = seed_index[0]
    local = Newsdesk(Settings.load({"NEWSDESK_DATA_DIR": str(data_dir)}, None), embedder=embedder)
    expected = {}
    for question in QUESTIONS:
        answer = local.ask(question)
        expected[question] = answer.text if answer.found else fmt.NOT_FOUND
    bot = bot_factory(data_dir)
    first = run_load(telegram, bot, QUESTIONS, expected, chats=50, per_chat=10, help_from=ADMIN)
    print(f"\nload, round 1: {json.dumps(first)}")
    second = run_load(telegram, bot, QUESTIONS, expected, chats=50, per_chat=10, help_from=ADMIN)
    print(f"load, round 2: {json.dumps(second)}")
    for numbers in (first, second):
        assert numbers["questions"] == 500
        # Telegram allows 30 messages a second, so replies queue; /help waits its turn too
        assert numbers["help_reply_s"] < numbers["p95_s"]
    # memory: a little growth in the first round (threads, caches), none in the second
    assert first["rss_after_mb"] < first["rss_before_mb"] * 1.15 + 20
    assert second["rss_after_mb"] < second["rss_before_mb"] * 1.05 + 10
    log = bot.log()
    assert "ERROR" not in log and "Traceback" not in log
    assert bot.stop() == 0
