"""Holding an LLM's reply to the passages it was sent, and the prompt it is sent."""

from __future__ import annotations

import pytest

from bot.answering.conversation import Turn
from bot.answering.llm.check import agrees, check_reply, is_refusal
from bot.answering.llm.prompt import REFUSAL_PHRASE, answer_messages
from index.models import Hit


def hit(n: int, **fields) -> Hit:
    values = dict(
        chunk_id=n, article_id=f"a{n}", text=f"passage {n}", start=0, end=9, title=f"T{n}"
    )
    values.update(fields)
    return Hit(**values)


HITS = [hit(1, url="https://example.org/1"), hit(2), hit(3)]


def test_valid_citations_are_kept_in_order_and_map_to_the_passages_sent():
    checked = check_reply("Jordan hosts them [2], says the army [1][3].", HITS)
    assert checked.text == "Jordan hosts them [2], says the army [1][3]."
    assert [(c.n, c.hit_index, c.article_id) for c in checked.citations] == [
        (2, 1, "a2"), (1, 0, "a1"), (3, 2, "a3"),
    ]  # fmt: skip
    assert checked.citations[1].url == "https://example.org/1" and checked.dropped == []


@pytest.mark.parametrize(
    ("reply", "text", "cited", "dropped"),
    [
        ("Jordan [1][4].", "Jordan [1].", [1], [4]),
        ("Jordan [1, 4, 2].", "Jordan [1][2].", [1, 2], [4]),
        ("Jordan [0] and [99].", "Jordan and.", [], [0, 99]),
        ("Jordan hosts them.", "Jordan hosts them.", [], []),
    ],
)
def test_citations_of_passages_never_sent_are_removed_and_reported(reply, text, cited, dropped):
    checked = check_reply(reply, HITS)
    assert checked.text == text and [c.n for c in checked.citations] == cited
    assert checked.dropped == dropped


@pytest.mark.parametrize(
    "reply",
    [REFUSAL_PHRASE, "not in the articles.", "NOT IN THE ARTICLES [1]", "  Not in the articles"],
)
def test_the_fixed_phrase_is_a_refusal(reply):
    assert is_refusal(reply) and check_reply(reply, HITS).refused


def test_a_sentence_merely_mentioning_articles_is_not_a_refusal():
    assert not is_refusal("The articles say Jordan [1].")
    assert check_reply("", HITS).text is None and not check_reply("", HITS).refused


def test_agreement_is_the_readers_terms_inside_the_llms_sentence():
    assert agrees("Jordan", "Jordan hosts more than 650,000 refugees [1].")
    assert agrees("650000", "more than 650,000 refugees [1]")
    assert not agrees("Lebanon", "Jordan hosts more than 650,000 refugees [1].")
    assert not agrees("Gen. Yousef Huneiti", "Yousef Habib [1]")


def test_the_prompt_numbers_the_passages_with_headline_outlet_and_date_and_carries_the_talk():
    passages = [hit(1, title="Army chiefs meet", source="Example Wire", published="2021-09-19")]
    history = [Turn("who hosts 650,000 refugees?", "who hosts 650,000 refugees?", None)]
    messages = answer_messages(
        "who is its army chief?", "who is Jordan's army chief?", passages, history
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert REFUSAL_PHRASE in messages[0]["content"] and "[n]" in messages[0]["content"]
    assert messages[2]["content"] == REFUSAL_PHRASE  # the turn Newsdesk could not answer
    last = messages[-1]["content"]
    assert "[1] Army chiefs meet — Example Wire, 2021-09-19\npassage 1" in last
    assert last.endswith(
        "Question: who is its army chief?\n"
        "(Standalone form of the question: who is Jordan's army chief?)"
    )
