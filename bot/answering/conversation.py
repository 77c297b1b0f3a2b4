"""Follow-up questions: turn "who is its army chief?" into a self-contained query, without an LLM.

A `Conversation` remembers the last few turns (question, the query it was searched as, the answer).
`rewrite(question)` resolves, against those turns,

- a pronoun: "its"/"their"/"his"/"her" become "<referent>'s", "it"/"they"/"them"/"he"/"she"/"him"
  become the referent, "there" becomes "in <referent>" (not in "is there", "there are");
- an ellipsis: "and in 2015?", "what about Lebanon?" re-ask the previous query with the year or the
  name swapped (or the fragment added when nothing matches).

The referent is the previous answer when it is a name (not a number or date) and the previous
question did not ask for a person while the pronoun is not personal; otherwise the main name of the
previous query ("who is Jordan's army chief?" -> "Jordan"). A question that names its own antecedent
("when did Obama say he would leave?") or has no pronoun is returned unchanged, so self-contained
questions are never polluted by history. The rules are plain English grammar, nothing corpus-specific.

`unresolved(query)` names a possessive left with nothing to stand for ("who is its army chief?"
asked first): the service asks back instead of guessing.

`record(question, answer)` stores a turn; `reset()` forgets them; `to_dict()`/`from_dict()` let a
front end (the Telegram bot) keep a conversation per chat as small JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_TURNS = 5
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.,-]*[A-Za-z0-9]|[A-Za-z0-9]")
POSSESSIVE = frozenset({"its", "their", "his", "her"})
PERSONAL = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
PLAIN = frozenset({"it", "they", "them", "he", "she", "him"})
QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how is are was were do does did can could will would "
    "should has have had and but so".split()
)
# After these "her" is an object ("did they meet her"), elsewhere a possessive ("her husband").
_OBJECT_CONTEXT = frozenset(
    "meet met see saw tell told ask asked call called elect elected appoint appointed replace "
    "replaced with to for by about from against like".split()
)
_EXISTENTIAL = frozenset({"is", "are", "was", "were", "isn't", "aren't", "wasn't", "weren't"})
# "is it true that ...", "it is likely that ...": "it" refers to nothing.
_DUMMY_IT = frozenset(
    "true false likely unlikely possible clear known said reported expected".split()
)
_ELLIPSIS = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+|^\s*and\s+", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NUMBER_LIKE = re.compile(r"^[\d\s.,%$£€¥:/-]+$|^\d")
# Nouns that make a question ask for a person ("who is Jordan's army chief?").
PERSON_NOUNS = frozenset(
    """person man woman people leader president king queen prince princess chief head minister
    director chairman chairwoman ceo founder commander general officer spokesman spokeswoman
    spokesperson secretary senator governor mayor judge coach captain player author writer singer
    actor actress husband wife son daughter father mother brother sister owner boss premier
    ambassador envoy editor manager winner""".split()
)
_MONTHS_DAYS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)


@dataclass(frozen=True, slots=True)
class Turn:
    question: str  # as the user asked it
    query: str  # what was searched (the rewrite)
    answer: str | None  # the short answer, None when not found


class Conversation:
    """The recent turns of one conversation (one CLI chat, one Telegram chat)."""

    def __init__(self, max_turns: int = MAX_TURNS) -> None:
        self.max_turns = max_turns
        self.turns: list[Turn] = []
        self._persons: set[str] = set()  # names known to be people (answers to "who is the chief")
        self._last_rewrite: tuple[str, str] | None = None

    # --- the contract used by Newsdesk.ask ------------------------------------------------------
    def rewrite(self, question: str) -> str:
        """`question` made self-contained using the previous turns (unchanged when it already is)."""
        question = " ".join(question.split())
        rewritten = question
        if self.turns and question:
            rewritten = self._ellipsis(question) or self._resolve_pronouns(question)
        self._last_rewrite = (question, rewritten)
        return rewritten

    def record(self, question: str, answer: Any) -> None:
        """Remember a turn. `answer` is a `bot.answering.answer.Answer`, a string, or None."""
        question = " ".join(question.split())
        query = getattr(answer, "rewritten_query", None)
        if not query and self._last_rewrite and self._last_rewrite[0] == question:
            query = self._last_rewrite[1]
        text = (
            answer if answer is None or isinstance(answer, str) else getattr(answer, "text", None)
        )
        turn = Turn(question, " ".join((query or question).split()), text)
        if text and _is_name(text) and _asks_person(turn.query):
            self._persons.add(text.strip())
        self.turns.append(turn)
        del self.turns[: -self.max_turns]
        self._last_rewrite = None

    def reset(self) -> None:
        self.turns.clear()
        self._persons.clear()
        self._last_rewrite = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "turns": [
                {"question": t.question, "query": t.query, "answer": t.answer} for t in self.turns
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, max_turns: int = MAX_TURNS) -> Conversation:
        """A conversation from `to_dict()` output; anything malformed is skipped, never raised."""
        conversation = cls(max_turns)
        turns = data.get("turns") if isinstance(data, dict) else None
        for item in turns if isinstance(turns, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                continue
            query = item.get("query") if isinstance(item.get("query"), str) else item["question"]
            answer = item.get("answer") if isinstance(item.get("answer"), str) else None
            conversation.turns.append(Turn(item["question"], query, answer))
        del conversation.turns[: -conversation.max_turns]
        return conversation

    def __len__(self) -> int:
        return len(self.turns)

    # --- ellipsis: "and in 2015?", "what about Lebanon?" ----------------------------------------
    def _ellipsis(self, question: str) -> str | None:
        match = _ELLIPSIS.match(question)
        if not match:
            return None
        fragment = question[match.end() :].strip().rstrip("?.! ").strip()
        words = _WORD.findall(fragment)
        if not words or len(words) > 5 or words[0].casefold() in QUESTION_WORDS - {"and"}:
            return None  # "and who is his deputy?" is a question, not a fragment
        previous = self.turns[-1].query.rstrip("?.! ")
        year = _YEAR.search(fragment)
        if year and _YEAR.search(previous):
            return _YEAR.sub(year.group(), previous, count=1) + "?"
        names = _names(fragment)
        if names:
            old = _names(previous)
            if old:
                return previous.replace(old[0], names[0], 1) + "?"
        return f"{previous} {fragment}?"

    # --- pronouns ------------------------------------------------------------------------------
    def _resolve_pronouns(self, question: str) -> str:
        tokens = re.split(r"(\W+)", question)  # words at even positions, separators at odd
        lowered = [t.casefold() for t in tokens]
        found = [
            i
            for i in range(0, len(tokens), 2)
            if lowered[i] in PLAIN | POSSESSIVE | {"there"} and _refers(lowered, i)
        ]
        if not found:
            return question
        own = _names(question)
        if own and question.find(own[0]) < sum(len(t) for t in tokens[: found[0]]):
            return question  # the antecedent is in the question itself
        for i in found:
            referent = self._referent(personal=lowered[i] in PERSONAL)
            if referent is None:
                continue
            if lowered[i] in PERSONAL:
                self._persons.add(referent)
            word = lowered[i]
            if word in POSSESSIVE and not (word == "her" and _is_object(lowered, i)):
                tokens[i] = referent + "'s"
            elif word == "there":
                tokens[i] = "in " + referent
            else:
                tokens[i] = referent
        return "".join(tokens)

    def _referent(self, *, personal: bool) -> str | None:
        """What a pronoun in the next question most likely stands for."""
        for turn in reversed(self.turns[-3:]):
            answer = turn.answer.strip() if turn.answer else None
            answer_is_name = bool(answer) and _is_name(answer)
            asked_person = _asks_person(turn.query)
            if answer_is_name and personal and (asked_person or _starts_who(turn.query)):
                return answer
            if answer_is_name and not personal and not asked_person:
                return answer
            names = [n for n in _names(turn.query) if not answer or n not in answer]
            if not personal:
                names = [n for n in names if n not in self._persons]
            if names:
                return names[0]
            if answer_is_name:
                return answer
        return None


# --- helpers --------------------------------------------------------------------------------------
_FILLERS = QUESTION_WORDS | {"the", "a", "an", "of", "in", "on", "at", "to", "many", "much", "long", "often"}  # fmt: skip


def unresolved(query: str) -> str | None:
    """The possessive ("its", "their", "his", "her") in `query` that nothing before it can stand
    for, or None. Only the opening words count: "which country raised its taxes?" names its own
    antecedent, "who is its army chief?" does not."""
    tokens = re.split(r"(\W+)", query)
    lowered = [t.casefold() for t in tokens]
    for i in range(0, len(tokens), 2):
        word = lowered[i]
        if word in POSSESSIVE and not (word == "her" and _is_object(lowered, i)):
            return tokens[i]
        if word and word not in _FILLERS:
            return None  # a name or a content word came first: it may be the antecedent
    return None


def _refers(lowered: list[str], i: int) -> bool:
    """False for the non-referring uses: "is there", "there are", "it is likely that"."""
    word = lowered[i]
    prev = lowered[i - 2] if i >= 2 else ""
    nxt = lowered[i + 2] if i + 2 < len(lowered) else ""
    if word == "there":
        return prev not in _EXISTENTIAL and nxt not in _EXISTENTIAL | {"be", "been"}
    if word == "it":
        after = lowered[i + 4] if nxt in {"is", "was"} and i + 4 < len(lowered) else nxt
        return after not in _DUMMY_IT
    return True


def _is_object(lowered: list[str], i: int) -> bool:
    prev = lowered[i - 2] if i >= 2 else ""
    nxt = lowered[i + 2] if i + 2 < len(lowered) else ""
    return prev in _OBJECT_CONTEXT or nxt in {"", "?"} or nxt in QUESTION_WORDS


def _names(text: str) -> list[str]:
    """Capitalised word runs ("Jordan", "Yousef Huneiti", "Bank of England"), first-word question
    words and sentence-initial capitals excluded; a trailing possessive dropped."""
    words = list(re.finditer(r"[A-Za-z][\w’'.-]*", text))
    out: list[str] = []
    run: list[re.Match] = []

    def flush() -> None:
        while run and run[-1].group().casefold() in {"of", "the", "and"}:
            run.pop()
        if run:
            name = text[run[0].start() : run[-1].end()]
            out.append(re.sub(r"['’]s$", "", name).rstrip("."))
        run.clear()

    for n, match in enumerate(words):
        word = match.group()
        capital = word[0].isupper() and word.casefold().rstrip(".") not in _MONTHS_DAYS
        if n == 0 and word.casefold() in QUESTION_WORDS | PLAIN | POSSESSIVE:
            capital = False
        gap = text[run[-1].end() : match.start()] if run else " "
        joins = gap.strip() == "" and (not run or not run[-1].group().endswith(("'s", "’s")))
        extends = run and gap.strip() == "" and word.casefold() in {"of", "the"}
        if capital and joins or extends:
            run.append(match)
        else:
            flush()
            if capital:
                run.append(match)
    flush()
    return [name for name in out if name and name.casefold() not in QUESTION_WORDS]


def _is_name(answer: str) -> bool:
    """A short answer that can stand for a pronoun: a name, not a number, date or long clause."""
    if _NUMBER_LIKE.match(answer) or len(answer.split()) > 6:
        return False
    return any(ch.isupper() for ch in answer)


def _asks_person(query: str) -> bool:
    words = re.findall(r"[a-z]+", query.casefold())
    return any(w in PERSON_NOUNS or w.rstrip("s") in PERSON_NOUNS for w in words[1:])


def _starts_who(query: str) -> bool:
    return bool(re.match(r"\s*(who|whom)\b", query, re.IGNORECASE))
