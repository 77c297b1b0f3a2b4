"""End to end over real HTTP: a chat's filter (/since, /until, /source, /filters) narrows its
questions, shows in the footer and in /help, survives a restart; /latest lists the newest headlines.
The index holds one story told by two outlets on different dates."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import OTHER_USER, USER

from bot.answering.service import Newsdesk
from index.settings import Settings

TWO_OUTLETS = Path(__file__).resolve().parents[2] / "data" / "two_outlets.jsonl"
QUESTION = "what did the central bank of Freedonia raise its interest rate to?"
TODAY = "2024-03-18"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder) -> Path:
    data_dir = tmp_path_factory.mktemp("telegram-filters") / "data"
    desk = Newsdesk(Settings(data_dir=data_dir), embedder=embedder, answerer=None)
    assert desk.index_paths([str(TWO_OUTLETS)]).ok
    return data_dir


@pytest.fixture(scope="module")
def bot(bot_factory, data_dir):
    return bot_factory(data_dir, NEWSDESK_TODAY=TODAY)


def ask(telegram, user: int, text: str):
    return telegram.wait_reply(telegram.message(user, text), timeout=60)


def test_help_says_which_outlets_and_dates_are_indexed(telegram, bot):
    reply = ask(telegram, USER, "/start").visible
    assert "They date from 2023-06-02 to 2024-08-20." in reply
    assert "Outlets: Reuters (2), City Desk (1), dailyplanet.example (1)." in reply
    assert "/since — only articles from DATE on" in reply
    assert "No filter: every article is searched." in reply


def test_a_chats_filter_narrows_its_questions_and_shows_in_the_footer(telegram, bot):
    assert ask(telegram, USER, "/source reuters").visible == "Filter: Reuters."
    reply = ask(telegram, USER, QUESTION)
    assert reply.text.startswith("<b>5.25%</b>")
    assert "dailyplanet" not in reply.text
    assert reply.text.endswith("<i>filtered: Reuters</i>")
    assert ask(telegram, USER, "/since 2024-01-01").visible == "Filter: Reuters, since 2024-01-01."
    assert ask(telegram, USER, "/filters").visible == "Filter: Reuters, since 2024-01-01."
    assert "This chat's filter: Reuters, since 2024-01-01." in ask(telegram, USER, "/help").visible
    # another chat is not narrowed, and asks for the other version
    assert ask(telegram, OTHER_USER, "/until 2023").visible == "Filter: until 2023-12-31."
    other = ask(telegram, OTHER_USER, QUESTION)
    assert other.text.startswith("<b>4.75%</b>") and "reuters.com" not in other.text
    assert "filtered: until 2023-12-31" in other.visible


def test_bad_filters_get_a_short_reply_and_change_nothing(telegram, bot):
    reply = ask(telegram, OTHER_USER, "/since someday soon")
    assert reply.visible.startswith("Sorry: cannot read 'someday soon' as a date")
    assert ask(telegram, OTHER_USER, "/since 2024").visible.startswith(
        "Sorry: until 2023-12-31 is before since 2024-01-01"
    )
    assert ask(telegram, OTHER_USER, "/source AP").visible.startswith(
        "Sorry: no articles from the outlet 'AP'"
    )
    assert ask(telegram, OTHER_USER, "/filters").visible == "Filter: until 2023-12-31."


def test_a_filter_matching_nothing_says_so(telegram, bot):
    ask(telegram, OTHER_USER, "/source City Desk")
    reply = ask(telegram, OTHER_USER, QUESTION)
    assert reply.visible.startswith("No indexed article matches the filter (City Desk, until")
    cleared = ask(telegram, OTHER_USER, "/filters off")
    assert cleared.visible == "Filter cleared: every article is searched."
    assert "filtered" not in ask(telegram, OTHER_USER, QUESTION).visible


def test_latest_lists_the_newest_headlines_within_the_chats_filter(telegram, bot):
    reply = ask(telegram, USER, "/latest")  # USER: Reuters, since 2024-01-01
    lines = reply.visible.splitlines()
    assert lines[0] == "Latest headlines (Reuters, since 2024-01-01)"
    assert lines[1:] == [
        "1. Record wheat harvest in Sylvania — Reuters, 2024-08-20",
        "2. Central bank of Freedonia raises its main rate — Reuters, 2024-03-14",
    ]
    assert '<a href="https://www.reuters.com/world/sylvania-wheat">' in reply.text


def test_the_filter_survives_reset_and_a_restart(telegram, bot, bot_factory, data_dir):
    ask(telegram, USER, "/reset")
    assert ask(telegram, USER, "/filters").visible == "Filter: Reuters, since 2024-01-01."
    assert bot.stop() == 0
    again = bot_factory(data_dir, NEWSDESK_TODAY=TODAY)
    assert ask(telegram, USER, "/filters").visible == "Filter: Reuters, since 2024-01-01."
    assert ask(telegram, USER, QUESTION).text.endswith("<i>filtered: Reuters, since 2024-01-01</i>")
    assert again.stop() == 0
