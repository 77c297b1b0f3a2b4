"""The LLM answerer: the extractive reader, plus a short cited answer written by an LLM.

It is an `Answerer` like the others (its `answer` is the wrapped reader's, so the reader's short
answer and evidence are always there), and `Newsdesk` also calls its `generate` to add the LLM's
sentence. `condense` rewrites a follow-up into a standalone question, checked against the
rule-based rewrite.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.answering.answerers.base import Answerer, Span
from bot.answering.llm.check import agrees, check_reply
from bot.answering.llm.client import LLMClient, LLMConfig, LLMFailure
from bot.answering.llm.prompt import MAX_PASSAGES, answer_messages, condense_messages
from bot.answering.llm.result import Generated
from index.models import Hit
from index.tokenize import tokenize

log = logging.getLogger("newsdesk.llm")
CONDENSE_MAX_TOKENS = 64


class LLMAnswerer:
    """`reader` answers; an LLM behind `client` writes the sentence shown with it."""

    def __init__(self, reader: Answerer, client: LLMClient) -> None:
        self.reader = reader
        self.client = client
        self.model = client.config.model
        self.name = f"llm+{reader.name}"

    @classmethod
    def from_settings(cls, reader: Answerer, settings: Any) -> LLMAnswerer:
        return cls(reader, LLMClient(LLMConfig.from_settings(settings)))

    def answer(self, question: str, hits: Sequence[Hit]) -> Span | None:
        return self.reader.answer(question, hits)

    def generate(
        self,
        question: str,
        query: str,
        hits: Sequence[Hit],
        reader_answer: str | None,
        history: Sequence[Any] = (),
    ) -> Generated:
        """The LLM's checked answer to `query` from the first passages of `hits`; on any failure
        a `Generated` whose `fallback` says why (the reader's answer then stands alone)."""
        sent = list(hits[:MAX_PASSAGES])
        result = Generated(model=self.model, passages=len(sent))
        try:
            reply = self.client.complete(answer_messages(question, query, sent, history))
        except LLMFailure as exc:
            log.warning("LLM answer failed (%s): showing the reader's answer", exc)
            result.fallback = str(exc)
            return result
        checked = check_reply(reply, sent)
        result.dropped = checked.dropped
        if checked.dropped:
            log.warning("LLM cited passages it was not given: %s (dropped)", checked.dropped)
        if checked.refused:
            result.refused = True
            result.reader_agrees = reader_answer is None
            return result
        if not checked.citations:
            result.fallback = "the LLM's reply cited none of the passages"
            log.warning("LLM reply without a valid citation: showing the reader's answer")
            return result
        result.text, result.citations = checked.text, checked.citations
        if reader_answer is not None and checked.text:
            result.reader_agrees = agrees(reader_answer, checked.text)
        return result

    def condense(self, question: str, rule_rewrite: str, history: Sequence[Any]) -> str:
        """A follow-up as a standalone question: the LLM's rewrite when it keeps every term the
        rules found and adds no term beyond the conversation; else the rules' rewrite."""
        if not history:
            return rule_rewrite
        try:
            reply = self.client.complete(
                condense_messages(question, history), max_tokens=CONDENSE_MAX_TOKENS
            )
        except LLMFailure as exc:
            log.warning("LLM rewrite of a follow-up failed (%s): using the rules'", exc)
            return rule_rewrite
        candidate = " ".join(reply.split()).strip().strip('"“”')
        known = set(tokenize(question))
        for turn in history:
            known |= set(tokenize(f"{turn.question} {turn.query} {turn.answer or ''}"))
        terms = set(tokenize(candidate))
        if not candidate or len(candidate) > 300 or "\n" in reply.strip():
            return rule_rewrite
        if not set(tokenize(rule_rewrite)) <= terms or not terms <= known:
            return rule_rewrite
        return candidate
