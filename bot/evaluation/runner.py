"""`newsdesk eval`: retrieval and answer quality, refusals, follow-ups and latency on a question file.

A **question file** is JSONL, one object per line:
`{"id", "question", "answers": [acceptable strings], "article_id"?, "answer_starts"?: [offsets]}`.
An empty `answers` list (or `"answerable": false`) marks a question the articles cannot answer.
A **conversations file** is JSONL with `{"id", "turns": [{"question", "answers"}, ...]}`; the turns of
one line are asked in order through one `bot.answering.conversation.Conversation`.

Every question is asked through `Newsdesk.ask` with `k = max(10, top_k)` passages (the answerers read
only their own first few of them), so what is measured is what a user gets. The metrics:

- article recall@1/5/10: the answer's article is among those of the first 1/5/10 passages; MRR: the
  mean of 1 / rank of the first passage from that article (0 when it is not in the first 10);
- passage recall@5: one of the first 5 passages is from that article and covers an `answer_starts`
  offset;
- EM and F1 (SQuAD normalisation, best over the acceptable answers; a refusal scores 0), over the
  answerable questions, and over those that were answered;
- unanswerable refused (the answer was "not found") and answerable wrongly refused;
- conversation turns right: an answerable turn with F1 >= 0.5, or an unanswerable turn refused;
- latency per question (the wall time of `ask`): p50, p95 and max;
- with an LLM answering (`--answerer llm`), besides EM/F1 (of the reader's short answer, which
  still runs): the share of questions the LLM answered with valid citations, the share it refused,
  the share that fell back to the reader (and why), citations dropped for naming passages it was
  not sent, and how often it agreed with the reader (bot.evaluation.llm_metrics).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.evaluation.llm_metrics import llm_lines, llm_summary
from bot.evaluation.metrics import best_em_f1

RECALL_AT = (1, 5, 10)
PASSAGE_RECALL_AT = 5
TURN_RIGHT_F1 = 0.5


class EvalFileError(ValueError):
    """A question or conversations file that cannot be read: `path:line: reason`."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # empty: the corpus cannot answer it
    article_id: str | None = None
    answer_starts: tuple[int, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True, slots=True)
class EvalConversation:
    id: str
    turns: tuple[EvalQuestion, ...]


# --- reading the files ----------------------------------------------------------------------------
def _lines(path: str | Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """(location, object) for each non-blank line; EvalFileError for anything unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EvalFileError(f"{path}: is a directory, not a JSONL file") from None
    except UnicodeDecodeError:
        raise EvalFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise EvalFileError(f"{path}: {exc.strerror or exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise EvalFileError(f"{where}: expected a JSON object")
        yield where, item


def _question(where: str, item: dict[str, Any], fallback_id: str) -> EvalQuestion:
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalFileError(f"{where}: 'question' must be a non-empty string")
    answers = item.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise EvalFileError(f"{where}: 'answers' must be a list of strings (empty: unanswerable)")
    if item.get("answerable") is False:
        answers = []
    article_id = item.get("article_id")
    if article_id is not None and not isinstance(article_id, str):
        raise EvalFileError(f"{where}: 'article_id' must be a string")
    starts = item.get("answer_starts") or []
    if not isinstance(starts, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in starts
    ):
        raise EvalFileError(f"{where}: 'answer_starts' must be a list of character offsets")
    qid = item.get("id", fallback_id)
    return EvalQuestion(
        str(qid),
        question.strip(),
        tuple(a for a in answers if a.strip()),
        article_id,
        tuple(starts) if answers else (),
    )


def load_questions(path: str | Path, limit: int | None = None) -> list[EvalQuestion]:
    """The questions of a JSONL question file (the first `limit` of them)."""
    out: list[EvalQuestion] = []
    for where, item in _lines(path):
        if limit is not None and len(out) >= limit:
            break
        out.append(_question(where, item, where))
    if not out:
        raise EvalFileError(f"{path}: no questions in the file")
    return out


def load_conversations(path: str | Path, limit: int | None = None) -> list[EvalConversation]:
    """The conversations of a JSONL conversations file (the first `limit` of them)."""
    out: list[EvalConversation] = []
    for where, item in _lines(path):
        if limit is not None and len(out) >= limit:
            break
        turns = item.get("turns")
        if not isinstance(turns, list) or not turns:
            raise EvalFileError(
                f"{where}: 'turns' must be a non-empty list of {{question, answers}}"
            )
        cid = str(item.get("id", where))
        parsed = []
        for n, turn in enumerate(turns, 1):
            if not isinstance(turn, dict):
                raise EvalFileError(f"{where}: turn {n} must be an object")
            parsed.append(_question(f"{where}: turn {n}", turn, f"{cid}/{n}"))
        out.append(EvalConversation(cid, tuple(parsed)))
    if not out:
        raise EvalFileError(f"{path}: no conversations in the file")
    return out


# --- scoring one question -------------------------------------------------------------------------
@dataclass(slots=True)
class Scored:
    """What one asked question scored."""

    id: str
    answerable: bool
    prediction: str | None
    em: float
    f1: float
    latency_ms: float
    has_article: bool = False  # the question names the article that holds its answer
    article_rank: int | None = None  # 1-based rank of the first passage from the gold article
    passage_hit: bool | None = None  # a top-5 passage covers an answer offset (None: no offsets)
    confidence: float = 0.0
    rewritten_query: str | None = None
    generated: Any = None  # the LLM's part (bot.answering.llm.result.Generated), when one ran
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.prediction is None


def score(question: EvalQuestion, answer: Any, latency_ms: float) -> Scored:
    """Score an `Answer` (anything with `.text`, `.sources` of hits, `.confidence`)."""
    prediction = answer.text
    em = f1 = 0.0
    if question.answerable and prediction is not None:
        em, f1 = best_em_f1(prediction, question.answers)
    row = Scored(
        question.id,
        question.answerable,
        prediction,
        em,
        f1,
        latency_ms,
        confidence=float(answer.confidence or 0.0),
        rewritten_query=getattr(answer, "rewritten_query", None),
        generated=getattr(answer, "generated", None),
    )
    if question.article_id is not None:
        row.has_article = True
        sources = answer.sources
        row.article_rank = next(
            (i for i, hit in enumerate(sources, 1) if hit.article_id == question.article_id), None
        )
        if question.answer_starts:
            row.passage_hit = any(
                hit.article_id == question.article_id
                and any(hit.start <= s < hit.end for s in question.answer_starts)
                for hit in sources[:PASSAGE_RECALL_AT]
            )
    return row


# --- summaries ------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def summarize(rows: Sequence[Scored], turns: Sequence[Scored] = ()) -> dict[str, Any]:
    """The report's numbers from scored questions and scored conversation turns."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    answered = [r for r in answerable if not r.refused]
    located = [r for r in rows if r.has_article]
    with_offsets = [r for r in rows if r.passage_hit is not None]
    retrieval: dict[str, Any] = {"questions_with_article": len(located)}
    for k in RECALL_AT:
        retrieval[f"article_recall@{k}"] = _mean(
            float(r.article_rank is not None and r.article_rank <= k) for r in located
        )
    retrieval["mrr@10"] = _mean(
        1.0 / r.article_rank if r.article_rank and r.article_rank <= 10 else 0.0 for r in located
    )
    retrieval["questions_with_offsets"] = len(with_offsets)
    retrieval[f"passage_recall@{PASSAGE_RECALL_AT}"] = _mean(
        float(bool(r.passage_hit)) for r in with_offsets
    )
    latencies = [r.latency_ms for r in rows] + [t.latency_ms for t in turns]
    report: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval": retrieval,
        "answers": {
            "em": _mean(r.em for r in answerable),
            "f1": _mean(r.f1 for r in answerable),
            "answered": len(answered),
            "em_answered": _mean(r.em for r in answered),
            "f1_answered": _mean(r.f1 for r in answered),
            "answerable_wrongly_refused": _mean(float(r.refused) for r in answerable),
            "unanswerable_refused": _mean(float(r.refused) for r in unanswerable),
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "max": max(latencies, default=0.0),
        },
    }
    llm = llm_summary([*rows, *turns])
    if llm is not None:
        report["llm"] = llm
    if turns:
        right = [turn_right(t) for t in turns]
        report["conversations"] = {
            "conversations": len({t.extra.get("conversation") for t in turns}),
            "turns": len(turns),
            "turns_right": sum(right),
            "rate": sum(right) / len(turns),
            "f1": _mean(t.f1 for t in turns if t.answerable),
        }
    return report


def turn_right(turn: Scored) -> bool:
    return turn.f1 >= TURN_RIGHT_F1 if turn.answerable else turn.refused


# --- running --------------------------------------------------------------------------------------
def evaluate(
    service: Any,
    questions: Sequence[EvalQuestion] = (),
    conversations: Sequence[EvalConversation] = (),
    *,
    mode: Any = None,
    k: int | None = None,
    details: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question (and every conversation's turns, in order) and summarise."""
    from bot.answering.conversation import Conversation

    k = k or max(max(RECALL_AT), service.settings.top_k)
    rows = [
        _ask(service, q, mode=mode, k=k, progress=progress, conversation=None) for q in questions
    ]
    turns: list[Scored] = []
    for conv in conversations:
        state = Conversation()
        for turn in conv.turns:
            row = _ask(service, turn, mode=mode, k=k, progress=progress, conversation=state)
            row.extra["conversation"] = conv.id
            turns.append(row)
    report = summarize(rows, turns)
    answerer = service.answerer
    report = {
        "mode": str(mode or service.settings.search_mode),
        "answerer": answerer.name if answerer is not None else "none",
        "passages": k,
        "min_confidence": service.settings.min_confidence,
        **report,
    }
    if details:
        report["details"] = [_detail(r) for r in rows + turns]
    return report


def _ask(service, question: EvalQuestion, *, mode, k, progress, conversation) -> Scored:
    started = time.perf_counter()
    answer = service.ask(question.question, k=k, mode=mode, conversation=conversation)
    latency = (time.perf_counter() - started) * 1000
    row = score(question, answer, latency)
    if progress is not None:
        progress(1)
    return row


def _detail(row: Scored) -> dict[str, Any]:
    return {
        "id": row.id,
        "answerable": row.answerable,
        "prediction": row.prediction,
        "confidence": round(row.confidence, 4),
        "em": row.em,
        "f1": round(row.f1, 4),
        "article_rank": row.article_rank,
        "passage_hit": row.passage_hit,
        "rewritten_query": row.rewritten_query,
        "latency_ms": round(row.latency_ms, 1),
        **({"generated": row.generated.as_dict()} if row.generated is not None else {}),
    }


# --- the readable table ---------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:5.1f}%"


def format_report(report: dict[str, Any]) -> str:
    """A short human-readable summary of `evaluate`'s report."""
    r, a, lat = report["retrieval"], report["answers"], report["latency_ms"]
    lines = [
        f"mode {report['mode']} · answerer {report['answerer']} · {report['passages']} passages"
        f" · min confidence {report['min_confidence']}",
        f"questions            {report['questions']:>6}  "
        f"({report['answerable']} answerable, {report['unanswerable']} unanswerable)",
    ]
    if r["questions_with_article"]:
        lines += [
            f"article recall@1     {_pct(r['article_recall@1'])}",
            f"article recall@5     {_pct(r['article_recall@5'])}",
            f"article recall@10    {_pct(r['article_recall@10'])}",
            f"MRR@10               {r['mrr@10']:6.3f}",
        ]
    if r["questions_with_offsets"]:
        lines.append(f"passage recall@5     {_pct(r['passage_recall@5'])}")
    if report["answerable"]:
        lines += [
            f"exact match          {_pct(a['em'])}",
            f"F1                   {_pct(a['f1'])}",
            f"answered             {a['answered']:>6}  (F1 on those {_pct(a['f1_answered'])})",
            f"wrongly refused      {_pct(a['answerable_wrongly_refused'])}  of answerable",
        ]
    if report["unanswerable"]:
        lines.append(f"unanswerable refused {_pct(a['unanswerable_refused'])}")
    conv = report.get("conversations")
    if conv:
        lines.append(
            f"conversation turns   {conv['turns_right']}/{conv['turns']} right ({_pct(conv['rate'])})"
            f" in {conv['conversations']} conversations"
        )
    lines += llm_lines(report.get("llm"))
    lines.append(
        f"latency per question p50 {lat['p50']:.0f} ms · p95 {lat['p95']:.0f} ms"
        f" · max {lat['max']:.0f} ms"
    )
    return "\n".join(lines)
