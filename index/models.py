"""The records that flow through Newsdesk: articles, chunks and search hits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, normalised. `text` is the body the chunks' offsets point into."""

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO 8601 date or datetime, as given by the source
    source: str | None = None  # outlet or feed name
    origin: str | None = None  # file path or URL the article was read from

    @property
    def content_hash(self) -> str:
        """A digest of what is indexed (title and body); equal hashes mean identical content."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(self.title.encode())
        digest.update(b"\x00")
        digest.update(self.text.encode())
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A sentence-aligned slice `article.text[start:end]` of one article."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    title: str

    @property
    def embed_text(self) -> str:
        """What the embedding model and BM25 see: the headline, then the passage."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(slots=True)
class Hit:
    """A retrieved chunk with its article's metadata and its retrieval score."""

    chunk_id: int
    article_id: str
    text: str
    start: int  # offset of `text` in the article's body
    end: int
    title: str
    published: str | None = None
    url: str | None = None
    source: str | None = None
    score: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based rank per retriever
    before: str = ""  # the article's text just before this chunk (what "the kingdom" refers to)
