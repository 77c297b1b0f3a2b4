"""The one object every front end talks to: ask questions, index articles, read stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from bot.answering.answer import Answer, unclear_reference
from bot.answering.answerers import Answerer, load_answerer
from bot.answering.answerers.qtype import asks_latest
from bot.answering.answerers.recency import as_of_date
from bot.answering.conversation import unresolved
from bot.answering.digest import latest, overview
from bot.answering.grounding import grounded, ungrounded_note
from bot.answering.scope import answer_in_scope, checked_filter, clock_date
from index.backend import is_milvus, milvus_stats, open_indexer, open_searcher
from index.embedding import Embedder
from index.indexer import IndexReport
from index.ingest.files import IngestError, read_paths
from index.models import Article
from index.search.catalog import Catalog
from index.search.filters import Filter
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.store.database import DB_NAME, Store
from index.store.snapshot import Snapshot, SnapshotError
from index.text import normalize, one_line


class QuestionError(ValueError):
    """The question is empty or too long."""


class Rewriter(Protocol):
    """A conversation: turns a follow-up into a self-contained query and remembers answers."""

    def rewrite(self, question: str) -> str: ...

    def record(self, question: str, answer: Answer) -> None: ...


class Newsdesk:
    """Question answering over one data directory. Thread-safe; models load once, lazily."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        answerer: Answerer | None | str = "settings",
    ) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(
            settings.embedding_model, settings.device, settings.batch_size
        )
        self._answerer = answerer
        self._write_lock = threading.Lock()

    @cached_property
    def searcher(self) -> Searcher:
        return open_searcher(self.settings, self.embedder)

    @cached_property
    def answerer(self) -> Answerer | None:
        if self._answerer == "settings":
            return load_answerer(self.settings)
        return self._answerer  # type: ignore[return-value]

    def check_question(self, question: str) -> str:
        question = one_line(normalize(question))
        if not question or not any(ch.isalnum() for ch in question):
            raise QuestionError("the question is empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(
                f"the question is too long ({len(question):,} characters; limit {limit:,})"
            )
        return question

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        conversation: Rewriter | None = None,
        flt: Filter | None = None,
        generate: bool = True,
    ) -> Answer:
        """Retrieve passages for the question and extract a short answer from them (within the
        filter and the dates the question names: see `bot.answering.scope`; with an LLM
        configured and `generate`, also the LLM's cited sentence)."""
        started = time.perf_counter()
        question = self.check_question(question)
        query = conversation.rewrite(question) if conversation else question
        timings: dict[str, float] = {}
        history = list(getattr(conversation, "turns", ()))
        llm = self.answerer if generate and hasattr(self.answerer, "generate") else None
        if llm is not None and history and (query != question or unresolved(query)):
            query = llm.condense(question, query, history)  # type: ignore[union-attr]
        pronoun = unresolved(query)
        if pronoun is None:
            answer = answer_in_scope(self, question, query, k, mode, timings, flt)
            if llm is not None and answer.sources:
                t0 = time.perf_counter()
                answer.generated = llm.generate(  # type: ignore[union-attr]
                    question, query, answer.sources, answer.text, history
                )
                timings["llm_ms"] = (time.perf_counter() - t0) * 1000
        else:  # "its" with nothing to stand for: ask back rather than guess
            answer = Answer(question, query, None, 0.0, [], note=unclear_reference(pronoun))
            answer.timings_ms = timings
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        if conversation is not None:
            conversation.record(question, answer)
        return answer

    def today(self) -> date:
        return clock_date(self.settings.today)

    def catalog(self) -> Catalog:
        """Every article's day and outlet (for filters, stats and the latest headlines)."""
        return self.searcher.catalogs.get(self.searcher.store)

    def latest(self, n: int = 10, flt: Filter | None = None) -> list[dict[str, Any]]:
        """The n newest headlines (within the filter): date, outlet, link."""
        return latest(self.catalog(), n, flt)

    def check_filter(self, flt: Filter) -> Filter:
        """The filter, its outlets checked against the index (FilterError when unknown)."""
        return checked_filter(self, flt)

    def _answer(
        self,
        question: str,
        query: str,
        k: int | None,
        mode: SearchMode | None,
        timings: dict,
        flt: Filter | None = None,
    ) -> Answer:
        """Search for `query` (within `flt`) and read the best span from the passages."""
        hits = self.searcher.search(query, k or self.settings.top_k, mode, timings, flt)
        answer = Answer(question, query, None, 0.0, hits, timings_ms=timings)
        answerer = self.answerer
        if answerer is None or not hits:
            return answer
        answer.answerer = answerer.name
        # "who won the 2030 World Cup?" is not read from a report of the 2022 final
        readable, years = grounded(query, hits, self.settings.reader_passages, self._body)
        if not readable:
            answer.note = ungrounded_note(years)
            return answer
        t0 = time.perf_counter()
        span = answerer.answer(query, [hits[i] for i in readable])
        timings["answer_ms"] = (time.perf_counter() - t0) * 1000
        if span is None:
            return answer
        answer.confidence = span.confidence
        if span.confidence >= self.settings.min_confidence:
            answer.text = span.text
            answer.source_index = readable[span.hit_index]
            answer.answer_start, answer.answer_end = span.start, span.end
            answer.evidence_start, answer.evidence_end = span.evidence_start, span.evidence_end
            if asks_latest(query):  # say how recent "the latest" figure is
                answer.as_of = as_of_date(hits[answer.source_index].published)
        return answer

    def _body(self, article_id: str) -> str | None:
        """An article's whole text, where the backend's store can give it."""
        article = getattr(self.searcher.store, "article", None)
        found = article(article_id) if article is not None else None
        return found.text if found is not None else None

    def index_paths(
        self, paths: Iterable[str], *, prune: bool = False, on_progress=None
    ) -> IndexReport:
        """Index files, folders and globs (only new or changed articles are embedded)."""
        paths = list(paths)
        return self.index_articles(
            read_paths(paths), prune=paths if prune else (), on_progress=on_progress
        )

    def index_articles(
        self, items: Iterable[Article | IngestError], *, prune: Iterable[str] = (), on_progress=None
    ) -> IndexReport:
        with self._write_lock:
            report = open_indexer(self.settings, self.embedder).index(
                items, prune=prune, on_progress=on_progress
            )
        self._refresh()
        return report

    def remove(self, article_ids: Iterable[str]) -> int:
        with self._write_lock:
            removed = open_indexer(self.settings, self.embedder).remove(article_ids)
        self._refresh()
        return removed

    def _refresh(self) -> None:
        if "searcher" in self.__dict__:
            self.searcher.refresh()

    def stats(self, *, verify: bool = False) -> dict[str, Any]:
        """Counts, model, index type and sizes on disk; with `verify`, also the entries held by
        the FAISS and BM25 files, checked against the database's chunk count."""
        if is_milvus(self.settings):
            return milvus_stats(self.settings, verify=verify)
        data_dir = Path(self.settings.data_dir)
        if not (data_dir / DB_NAME).is_file():
            return {"data_dir": str(data_dir), "articles": 0, "chunks": 0, "indexed": False}
        store = Store.for_reading(data_dir)
        try:
            articles, chunks = store.counts()
            generation = store.generation
            info = {
                "data_dir": str(data_dir),
                "indexed": True,
                "articles": articles,
                "chunks": chunks,
                "newest_published": store.newest_published(),
                "embedding_model": store.meta("embedding_model") or self.settings.embedding_model,
                "dimension": int(store.meta("dimension") or 0),
                "generation": generation,
                "dense_index": store.meta("dense_index") or "none",
            }
            info.update(overview(Catalog.load(store, chunks=False)))  # outlets and dates
        finally:
            store.close()
        files = {p.name: p.stat().st_size for p in data_dir.iterdir() if p.is_file()}
        dense_file = f"dense.{generation}.faiss"
        info["index_type"] = (
            f"FAISS {info.pop('dense_index')} + BM25 (rank-bm25 over an inverted index)"
        )
        info["bytes"] = {
            "sqlite": sum(v for k, v in files.items() if k.startswith(DB_NAME)),
            "faiss": files.get(dense_file, 0),
            "bm25": files.get(f"lexical.{generation}.npz", 0),
        }
        info["bytes"]["total"] = sum(info["bytes"].values())
        if verify:
            info.update(self._derived_counts(generation, info["chunks"]))
        return info

    def _derived_counts(self, generation: int, chunks: int) -> dict[str, Any]:
        """How many chunks the FAISS and BM25 files of `generation` hold, and whether they agree."""
        try:
            snapshot = None
            if "searcher" in self.__dict__:  # a running bot already holds the files in memory
                self.searcher.refresh()  # (raises when the newest files cannot be loaded)
                if self.searcher.snapshot.generation == generation:
                    snapshot = self.searcher.snapshot
            snapshot = snapshot or Snapshot.load(Path(self.settings.data_dir), generation)
        except SnapshotError as exc:
            return {
                "faiss_vectors": None,
                "bm25_chunks": None,
                "consistent": False,
                "problem": exc.problem,
            }
        vectors = len(snapshot.dense) if snapshot.dense is not None else 0
        entries = len(snapshot.lexical)
        return {
            "faiss_vectors": vectors,
            "bm25_chunks": entries,
            "consistent": vectors == entries == chunks,
        }
