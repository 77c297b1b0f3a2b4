"""Each article's day and outlet, and each chunk's article, in arrays: filters become chunk ids.

A `Catalog` is read from SQLite once per index generation (two narrow queries; ~0.1 s at 100k
chunks) and answers `select(filter)` with the sorted ids of the chunks that pass, from a vectorised
mask over articles. The last few selections are kept, with the BM25 row mask of each, so a chat
that keeps its filter pays for it once.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from index.search.filters import Filter, FilterError, outlet_key, outlet_of, published_day
from index.store.database import Store

SELECTIONS_KEPT = 32
NO_DAY = 0  # date ordinals start at 1


@dataclass
class Selection:
    """The chunks one filter lets through (sorted ids), and the rows of a BM25 index they hold."""

    chunk_ids: np.ndarray
    _rows: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def row_mask(self, lexical_chunk_ids: np.ndarray) -> np.ndarray:
        """A boolean mask over a BM25 index's rows (kept per index, by identity)."""
        key = id(lexical_chunk_ids)
        mask = self._rows.get(key)
        if mask is None:
            mask = np.isin(lexical_chunk_ids, self.chunk_ids)
            self._rows = {key: mask}  # one BM25 generation at a time
        return mask


class Catalog:
    """Articles' days and outlets and chunks' articles, for one generation of the index."""

    def __init__(
        self,
        generation: int,
        article_ids: list[str],
        days: np.ndarray,
        outlets: list[str],
        article_outlet: np.ndarray,
        chunk_ids: np.ndarray,
        chunk_article: np.ndarray,
        titles: list[str] | None = None,
        urls: list[str | None] | None = None,
        published: list[str | None] | None = None,
    ) -> None:
        self.generation = generation
        self.article_ids, self.days = article_ids, days
        self.outlets, self.article_outlet = outlets, article_outlet
        self.chunk_ids, self.chunk_article = chunk_ids, chunk_article
        self.titles = titles or [""] * len(article_ids)
        self.urls = urls or [None] * len(article_ids)
        self.published = published or [None] * len(article_ids)
        self._keys = {outlet_key(name): i for i, name in enumerate(outlets)}
        self._selections: OrderedDict[Filter, Selection] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: Store, *, chunks: bool = True) -> Catalog:
        """The catalog of what the store holds now (`chunks=False`: articles only, for stats)."""
        rows = store.db.execute("SELECT id, published, source, url, title FROM articles").fetchall()
        query = "SELECT id, article_id FROM chunks ORDER BY id"
        pairs = store.db.execute(query).fetchall() if chunks else []
        return cls.from_rows(store.generation, rows, pairs)

    @classmethod
    def from_rows(cls, generation: int, rows: list[tuple], pairs: list[tuple[int, str]]) -> Catalog:
        """The catalog of articles given as (id, published, source, url, title) rows and chunks
        as (chunk id, article id) pairs (sorted by chunk id; none for an articles-only one)."""
        index_of: dict[str, int] = {}
        outlets: list[str] = []
        outlet_ids: dict[str, int] = {}
        days = np.zeros(len(rows), dtype=np.int32)
        article_outlet = np.full(len(rows), -1, dtype=np.int32)
        parsed: dict[str, date | None] = {}
        for i, (article_id, published, source, url, _title) in enumerate(rows):
            index_of[article_id] = i
            if published:
                if published not in parsed:
                    parsed[published] = published_day(published)
                day = parsed[published]
                days[i] = day.toordinal() if day else NO_DAY
            name = outlet_of(source, url)
            if name is not None:
                key = outlet_key(name)
                if key not in outlet_ids:
                    outlet_ids[key] = len(outlets)
                    outlets.append(name)
                article_outlet[i] = outlet_ids[key]
        chunk_ids = np.fromiter((c for c, _ in pairs), dtype=np.int64, count=len(pairs))
        chunk_article = np.fromiter(
            (index_of.get(a, -1) for _, a in pairs), dtype=np.int32, count=len(pairs)
        )
        return cls(
            generation, [r[0] for r in rows], days, outlets, article_outlet, chunk_ids,
            chunk_article, [r[4] for r in rows], [r[3] for r in rows], [r[1] for r in rows],
        )  # fmt: skip

    # --- checking a filter ----------------------------------------------------------------------
    def known_outlets(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The outlets' names as the index spells them; FilterError for one it does not hold."""
        resolved = []
        for name in names:
            i = self._keys.get(outlet_key(name))
            if i is None:
                known = ", ".join(sorted(self.outlets, key=str.casefold)[:12]) or "none"
                more = " …" if len(self.outlets) > 12 else ""
                raise FilterError(f"no articles from the outlet {name!r} (outlets: {known}{more})")
            resolved.append(self.outlets[i])
        return tuple(resolved)

    # --- selecting ------------------------------------------------------------------------------
    def article_mask(self, flt: Filter) -> np.ndarray:
        mask = np.ones(len(self.article_ids), dtype=bool)
        if flt.sources:
            wanted = [self._keys[k] for k in flt.source_keys if k in self._keys]
            mask &= np.isin(self.article_outlet, np.array(wanted, dtype=np.int32))
        if flt.since or flt.until:
            mask &= self.days != NO_DAY
            if flt.since:
                mask &= self.days >= flt.since.toordinal()
            if flt.until:
                mask &= self.days <= flt.until.toordinal()
        return mask

    def select(self, flt: Filter) -> Selection:
        """The chunks of the articles that pass the filter (cached for the last few filters)."""
        with self._lock:
            found = self._selections.get(flt)
            if found is not None:
                self._selections.move_to_end(flt)
                return found
        articles = self.article_mask(flt)
        inside = self.chunk_article >= 0
        keep = np.zeros(len(self.chunk_ids), dtype=bool)
        keep[inside] = articles[self.chunk_article[inside]]
        selection = Selection(self.chunk_ids[keep])
        with self._lock:
            self._selections[flt] = selection
            while len(self._selections) > SELECTIONS_KEPT:
                self._selections.popitem(last=False)
        return selection

    def article_count(self, flt: Filter) -> int:
        return int(self.article_mask(flt).sum())

    # --- what is there --------------------------------------------------------------------------
    def outlet_counts(self) -> list[tuple[str, int]]:
        """(outlet, articles), most articles first; articles with no outlet are not listed."""
        counts = Counter(self.article_outlet[self.article_outlet >= 0].tolist())
        return sorted(
            ((self.outlets[i], n) for i, n in counts.items()), key=lambda t: (-t[1], t[0].lower())
        )

    def date_range(self) -> tuple[date | None, date | None]:
        """The oldest and newest publication day (None, None when no article is dated)."""
        if "_range" not in self.__dict__:
            known = self.days[self.days != NO_DAY]
            self._range = (
                (date.fromordinal(int(known.min())), date.fromordinal(int(known.max())))
                if len(known)
                else (None, None)
            )
        return self._range

    def newest(self, n: int, flt: Filter | None = None) -> list[int]:
        """Indices of the n newest dated articles passing the filter, newest first."""
        mask = self.article_mask(flt) if flt is not None else np.ones(len(self.days), bool)
        mask &= self.days != NO_DAY
        candidates = np.flatnonzero(mask)
        order = np.lexsort((candidates, -self.days[candidates].astype(np.int64)))
        return candidates[order][:n].tolist()

    def outlet(self, article: int) -> str | None:
        i = int(self.article_outlet[article])
        return self.outlets[i] if i >= 0 else None

    def day(self, article: int) -> date | None:
        d = int(self.days[article])
        return date.fromordinal(d) if d != NO_DAY else None


class CatalogCache:
    """The catalog of the store's current generation, read again when the generation changes."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def get(self, store: Store) -> Catalog:
        with self._lock:
            current = self._catalog
            if current is None or current.generation != store.generation:
                current = self._catalog = Catalog.load(store)
            return current
