"""Answering within a scope: the person's filter, the dates the question names, dated answers.

`answer_in_scope` is what `Newsdesk.ask` runs for a question that can be searched:

1. The filter the front end passes (`--since/--until/--source`, `/since` in a chat) is hard.
2. When that filter sets no dates, the question's own dates (`question_dates`) apply: anchored
   ones ("last week") as a hard filter, calendar ones ("in 2018") as a preference that falls back
   to every date when nothing in the window answers confidently. The reply says what it assumed.
   An index with no dated article ignores them (XQuAD, QuAIL: eval numbers do not move).
3. A filter that lets no article through says so ("No indexed article matches ...") rather than
   "not found".
4. A relative date in the answer is made absolute against the article's publication date
   (`answer_dates`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bot.answering.answer import Answer
from bot.answering.answer_dates import date_answer
from bot.answering.question_dates import dates_in_question
from index.search.filters import Filter
from index.settings import SearchMode, SettingsError

if TYPE_CHECKING:
    from bot.answering.service import Newsdesk


def clock_date(fixed: str) -> date:
    """Today, or the fixed day of NEWSDESK_TODAY (for tests and replays)."""
    if not fixed:
        return date.today()
    try:
        return date.fromisoformat(fixed.strip())
    except ValueError:
        raise SettingsError(
            f"NEWSDESK_TODAY={fixed!r} is not a valid value for today (YYYY-MM-DD)"
        ) from None


def no_match_note(flt: Filter) -> str:
    return f"No indexed article matches the filter ({flt.describe()})."


def answer_in_scope(
    service: Newsdesk,
    question: str,
    query: str,
    k: int | None,
    mode: SearchMode | None,
    timings: dict,
    flt: Filter | None,
) -> Answer:
    """Search and read within the filter and the question's dates (see the module docstring)."""
    base = flt if flt is not None and flt.active else None
    found = None
    if (base is None or not (base.since or base.until)) and service.catalog().date_range()[0]:
        found = dates_in_question(query, service.today())  # (an undated index: nothing to filter)
    applied, assumed = base, None
    if found is not None:
        windowed = found.as_filter(base)
        if found.hard:
            applied, assumed = windowed, f"searched articles {found.describe()}"
        elif service.catalog().article_count(windowed):
            answer = service._answer(question, query, k, mode, timings, windowed)
            if answer.found:
                return _finish(service, answer, windowed, f"searched articles {found.describe()}")
            assumed = f"nothing {found.describe()} answered it, so all dates were searched"
        else:
            assumed = f"no article is dated {found.describe()}, so all dates were searched"
    answer = service._answer(question, query, k, mode, timings, applied)
    return _finish(service, answer, applied, assumed)


def _finish(service: Newsdesk, answer: Answer, applied: Filter | None, assumed: str | None):
    answer.assumed = assumed
    if applied is not None and applied.active:
        answer.filter = applied.as_dict()
        answer.filter_articles = service.catalog().article_count(applied)
        if not answer.filter_articles:
            answer.note = no_match_note(applied)
    hit = answer.source
    if answer.found and hit is not None:
        dated = date_answer(answer.question, answer.text or "", answer.evidence, hit.published)
        if dated is not None:
            answer.dated_text, answer.resolved_date = dated.text, dated.resolved
    return answer


def checked_filter(service: Newsdesk, flt: Filter) -> Filter:
    """The filter with its outlets spelled as the index spells them; FilterError for an outlet
    the index does not hold."""
    if not flt.sources:
        return flt
    return flt.with_changes(sources=service.catalog().known_outlets(flt.sources))


def scope_lines(answer: Answer) -> list[str]:
    """What narrowed the search, for the reply: "filtered: Reuters, since 2024-01-01" and what the
    question's dates were taken to mean (front ends style them)."""
    lines = []
    flt = Filter.from_dict(answer.filter) if answer.filter else None
    from_question = bool(answer.assumed and answer.assumed.startswith("searched articles"))
    if flt is not None and flt.active and answer.filter_articles != 0:
        shown = Filter(sources=flt.sources) if from_question else flt
        if shown.active:
            lines.append(f"filtered: {shown.describe()}")
    if answer.assumed:
        lines.append(f"({answer.assumed})")
    return lines
