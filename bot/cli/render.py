"""Terminal formatting of answers, sources, stats and index summaries."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from typing import Any, TextIO

from bot.answering.answer import NOT_FOUND, Answer
from bot.answering.scope import scope_lines
from index.chunking import split_sentences
from index.indexer import IndexReport
from index.models import Hit
from index.text import one_line
from index.tokenize import tokenize


class Style:
    """ANSI styling, on only for a terminal that has not asked for NO_COLOR."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def mark(self, text: str) -> str:
        return self._wrap("1;33", text) if self.on else f"**{text}**"

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def emph(self, text: str) -> str:
        """The sentence that best matches the question: underlined, or _like this_ in plain text."""
        return self._wrap("4", text) if self.on else f"_{text}_"


def source_line(hit: Hit) -> str:
    """Headline — date · outlet · url [article id]."""
    parts = [p for p in (hit.published, hit.source, hit.url) if p]
    meta = " · ".join(parts)
    return f"{hit.title}" + (f" — {meta}" if meta else "") + f"  [{hit.article_id}]"


def highlight(hit: Hit, start: int | None, end: int | None, style: Style) -> str:
    """The passage with article offsets [start, end) marked."""
    if start is None or end is None or not (hit.start <= start < end <= hit.end):
        return one_line(hit.text)
    return mark_span(hit.text, start - hit.start, end - hit.start, style)


def best_sentence(query: str, text: str) -> tuple[int, int] | None:
    """Offsets in `text` of the sentence sharing most of the query's terms (None when none shares
    two of them, or one for a one-term query, or the passage is a single sentence)."""
    wanted = set(tokenize(query))
    sentences = split_sentences(text)
    if not wanted or len(sentences) < 2:
        return None
    score, a, b = max(((len(wanted & set(tokenize(text[a:b]))), a, b) for a, b in sentences),
                      key=lambda t: t[0])  # fmt: skip
    return (a, b) if score >= min(2, len(wanted)) else None  # one shared word is not a match


def passage_text(hit: Hit, query: str, style: Style) -> str:
    """A passage on one line with its best-matching sentence emphasised."""
    found = best_sentence(query, hit.text)
    if found is None:
        return one_line(hit.text)
    a, b = found
    squash = lambda piece: re.sub(r"\s+", " ", piece)  # noqa: E731
    return (
        squash(hit.text[:a]) + style.emph(one_line(hit.text[a:b])) + squash(hit.text[b:])
    ).strip()


def mark_span(text: str, a: int, b: int, style: Style) -> str:
    """`text` on one line with [a, b) marked, keeping the spacing (and its absence) around it."""
    squash = lambda piece: re.sub(r"\s+", " ", piece)  # noqa: E731
    return (squash(text[:a]) + style.mark(one_line(text[a:b])) + squash(text[b:])).strip()


def evidence_lines(answer: Answer, style: Style, width: int) -> list[str]:
    """The sentence the short answer was read in, quoted with the answer marked, and its source."""
    hit = answer.source
    evidence = answer.evidence
    if hit is None or not evidence or answer.answer_start is None:
        return []
    a = answer.answer_start - answer.evidence_start
    b = answer.answer_end - answer.evidence_start
    quote = mark_span(evidence, a, b, style)
    lines = textwrap.wrap(f"“{quote.strip()}”", width, initial_indent="  ", subsequent_indent="  ")
    return [*lines, "  — " + source_line(hit)]


def format_reader_answer(
    answer: Answer, style: Style, *, width: int = 100, passages: int = 3
) -> str:
    lines: list[str] = []
    if answer.found:
        lines.append(style.bold(answer.dated_text or answer.text or ""))
        if answer.as_of:
            lines.append(style.dim(f"as of {answer.as_of}"))
        lines += [style.dim(line) for line in scope_lines(answer)]
        lines += evidence_lines(answer, style, width)
    else:
        lines.append(style.bold(answer.note or NOT_FOUND))
        lines += [style.dim(line) for line in scope_lines(answer)]
        if answer.sources:
            lines.append("The closest passages:")
    lines += read_as_and_sources(answer, style, width=width, passages=passages)
    return "\n".join(lines or [NOT_FOUND])


def read_as_and_sources(
    answer: Answer, style: Style, *, width: int, passages: int, cited: frozenset[int] = frozenset()
) -> list[str]:
    """The "(read as: ...)" line of a rewritten follow-up, then the first `passages` passages (those in
    `cited`, 1-based, are marked as cited by the LLM)."""
    lines: list[str] = []
    if one_line(answer.rewritten_query).casefold() != one_line(answer.question).casefold():
        lines.append(style.dim(f"(read as: {answer.rewritten_query})"))
    if not answer.sources:
        return lines
    lines.append("")
    lines.append(style.dim("Sources:"))
    for i, hit in enumerate(answer.sources[:passages], start=1):
        is_source = i - 1 == answer.source_index
        text = (
            highlight(hit, answer.answer_start, answer.answer_end, style)
            if is_source
            else passage_text(hit, answer.rewritten_query, style)
        )
        mark = style.dim("  (cited)") if i in cited else ""
        lines.append(f"[{i}] " + style.bold(source_line(hit)) + mark)
        lines += textwrap.wrap(
            text,
            width,
            initial_indent="    ",
            subsequent_indent="    ",
            max_lines=4,
            placeholder=" …",
        )
    return lines


def format_sources(answer: Answer, style: Style, width: int = 100) -> str:
    if not answer.sources:
        return "No sources."
    lines = []
    for i, hit in enumerate(answer.sources, start=1):
        lines.append(
            f"[{i}] " + style.bold(source_line(hit)) + style.dim(f"  score {hit.score:.4f}")
        )
        lines += textwrap.wrap(
            one_line(hit.text), width, initial_indent="    ", subsequent_indent="    "
        )
    return "\n".join(lines)


def format_report(report: IndexReport) -> str:
    lines = [
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.duplicates)} duplicates, {len(report.failed)} failed",
        f"{report.chunks} chunks embedded in {report.seconds:.1f} s ({report.chunks_per_second:.1f} chunks/s)",
    ]
    for dup, original in report.duplicates[:20]:
        lines.append(f"  duplicate: {dup} is a copy of {original} (stored once)")
    if len(report.duplicates) > 20:
        lines.append(f"  … and {len(report.duplicates) - 20} more duplicates")
    for error in report.failed:
        lines.append(f"  failed: {error}")
    return "\n".join(lines)


def format_stats(stats: dict[str, Any]) -> str:
    if not stats.get("indexed"):
        return f"Nothing indexed in {stats['data_dir']} yet."
    if stats.get("backend") == "milvus":
        return _milvus_stats(stats)
    size = stats["bytes"]
    checked = [f"index files      {_files_line(stats)}"] if "consistent" in stats else []
    return "\n".join(
        [
            f"data directory   {stats['data_dir']}",
            f"articles         {stats['articles']:,}",
            f"chunks           {stats['chunks']:,}",
            f"newest article   {stats.get('newest_published') or 'unknown'}",
            *overview_lines(stats),
            f"embedding model  {stats['embedding_model']} ({stats['dimension']} dimensions)",
            f"index            {stats['index_type']}",
            f"on disk          {size['total'] / 2**20:.1f} MB (SQLite {size['sqlite'] / 2**20:.1f},"
            f" FAISS {size['faiss'] / 2**20:.1f}, BM25 {size['bm25'] / 2**20:.1f})",
            *checked,
        ]
    )


def overview_lines(stats: dict[str, Any], shown: int = 10) -> list[str]:
    """The date range and the outlets with their article counts."""
    lines = []
    if stats.get("oldest_day"):
        undated = stats.get("undated_articles") or 0
        lines.append(
            f"dates            {stats['oldest_day']} to {stats['newest_day']}"
            + (f" ({undated:,} undated)" if undated else "")
        )
    outlets = stats.get("outlets") or []
    if outlets:
        listed = ", ".join(f"{o['name']} ({o['articles']:,})" for o in outlets[:shown])
        more = f", and {len(outlets) - shown:,} more" if len(outlets) > shown else ""
        lines.append(f"outlets          {len(outlets):,}: {listed}{more}")
    return lines


def _milvus_stats(stats: dict[str, Any]) -> str:
    """`format_stats` on the Milvus backend: where the collections are, not files."""
    lines = [
        f"data directory   {stats['data_dir']}",
        f"milvus           {stats['milvus']}",
        f"articles         {stats['articles']:,}",
        f"chunks           {stats['chunks']:,}",
        f"newest article   {stats.get('newest_published') or 'unknown'}",
        *overview_lines(stats),
        f"embedding model  {stats['embedding_model']} ({stats['dimension']} dimensions)",
        f"index            {stats['index_type']}",
    ]
    if stats["bytes"]["total"]:
        lines.append(f"on disk          {stats['bytes']['total'] / 2**20:.1f} MB (Milvus Lite)")
    if "consistent" in stats:
        state = "every chunk belongs to its article"
        if not stats["consistent"]:
            state = (
                f"{stats['stray_chunks']:,} chunks belong to no article"
                " (run `newsdesk doctor --repair`)"
            )
        lines.append(f"index check      {state}")
    return "\n".join(lines)


def _files_line(stats: dict[str, Any]) -> str:
    """What `stats(verify=True)` found in the FAISS and BM25 files."""
    if stats.get("faiss_vectors") is None:
        return f"DAMAGED: {stats.get('problem')} (run `newsdesk doctor --repair`)"
    held = f"FAISS {stats['faiss_vectors']:,} vectors, BM25 {stats['bm25_chunks']:,} chunks"
    if stats["consistent"]:
        return f"{held}, in step with the database"
    return f"{held}: NOT in step with the database (run `newsdesk doctor --repair`)"
