"""The one module that talks to Milvus (Lite, a standalone server, a cluster): every quirk lives here.

Three collections, named PREFIX_chunks, PREFIX_articles and PREFIX_meta:

- chunks: id (INT64, stable: see `chunk_id`), article_id, content_hash, ordinal, start, end, text,
  terms (Newsdesk's own BM25 terms, see `bm25_text`), sparse (Milvus's BM25 function over terms)
  and vector (the embedding);
- articles: key (a 63-bit digest of the id), id, title, url, published, source, origin, content_hash, chunks (how many), indexed_at;
- meta: key -> value (the embedding model, pending work of a batch in flight);
- copies: key (as articles'), article_id, hashvalues (the MinHash signature, hex) and bands (its
  LSH band keys, searched with `array_contains_any`): near-duplicate copies across runs.

Milvus wants a vector field in every collection, so articles and meta carry a 2-dimensional
placeholder vector that nothing searches.

Differences between Milvus Lite 3.x and the server, handled here and nowhere else:
- BM25 distances come back negative on Lite, positive on the server: scores are made positive;
- `delete` returns a list of ids on Lite and a count on the server: nothing reads it;
- `insert` of an existing id overwrites on Lite, duplicates on the server: only `upsert` is used;
- index parameters count only nested as `params={"params": {...}}` (as are search parameters);
- the default analyzer (`\\w+`, lowercase) would split "650,000" and keep the "s" of "Jordan's",
  and the `english` and `whitespace` analyzers exist only on the server: the analysed field holds
  Newsdesk's own terms (index/tokenize.py), each written so that no analyzer can split it;
- a dense search with a tight filter on HNSW misses rows at the default `ef`: Lite uses FLAT, a
  server HNSW searched with a large `ef`;
- filter templates (`filter_params`) are refused by Lite: literals are quoted here (JSON strings);
- a search without `output_fields` returns every field on Lite, vectors included: always named;
- Lite holds an exclusive lock on its folder per process (see README, "Milvus backend").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index.store.database import StoreError

PLACEHOLDER = [1.0, 0.0]  # the vector of rows that only hold scalars (articles, meta)
MAX_ID, MAX_TEXT = 1024, 65535  # VARCHAR limits (bytes)
BATCH = 500  # rows per upsert or `in [...]` filter (well under gRPC's message size)
K1, B = 1.2, 0.75  # as the local BM25 (index/search/lexical.py)
HNSW = {"M": 16, "efConstruction": 200}
MIN_EF = 512  # HNSW candidates per search on a server, at least 4x what is asked for
_PLAIN_TERM = re.compile(r"[a-z0-9]+")
REMOTE_SCHEMES = ("http", "https", "tcp", "grpc", "unix")
COPY_SIGNATURE_CHARS = 2048  # a MinHash signature in hex (128 x 4 bytes = 1,024 characters)
CONNECT_TIMEOUT = 10.0  # seconds to reach a server before giving up with one clear line


class MilvusError(StoreError):
    """Milvus cannot be reached or refused a request (a StoreError: front ends report it as one)."""


@dataclass(frozen=True, slots=True)
class MilvusTarget:
    """Where the collections live; the token never appears in `describe()` or `repr()`."""

    uri: str
    token: str
    prefix: str

    def __repr__(self) -> str:
        return f"MilvusTarget({self.describe()!r}, prefix={self.prefix!r})"

    @classmethod
    def from_settings(cls, settings: Any) -> MilvusTarget:
        uri = settings.milvus_uri or str(Path(settings.data_dir) / "milvus.db")
        if urlsplit(uri).scheme not in REMOTE_SCHEMES:
            uri = str(Path(uri).expanduser().resolve())
        prefix = settings.milvus_collection
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", prefix):
            raise MilvusError(
                f"NEWSDESK_MILVUS_COLLECTION={prefix!r} is not a valid collection name prefix"
                " (letters, digits and _, not starting with a digit)"
            )
        return cls(uri, settings.milvus_token, prefix)

    @property
    def is_lite(self) -> bool:
        return urlsplit(self.uri).scheme not in REMOTE_SCHEMES

    def describe(self) -> str:
        """The URI without any user:password part."""
        parts = urlsplit(self.uri)
        if parts.password is None and parts.username is None:
            return self.uri
        host = parts.hostname or ""
        return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def chunk_id(article_id: str, content_hash: str, ordinal: int) -> int:
    """A 63-bit id that stays the same while the article's text does: re-running a killed batch
    upserts the same rows again instead of adding new ones."""
    digest = hashlib.blake2b(
        f"{article_id}\0{content_hash}\0{ordinal}".encode(), digest_size=8
    ).digest()
    return (int.from_bytes(digest, "big") >> 1) or 1


def article_key(article_id: str) -> int:
    """The articles collection's primary key for an article id."""
    digest = hashlib.blake2b(article_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def bm25_text(terms: Iterable[str]) -> str:
    """Newsdesk's terms as one space-separated string that every Milvus analyzer keeps whole: a
    plain ASCII term as itself, any other (a decimal, a Hindi or Arabic word) as a digest."""
    return " ".join(
        t
        if _PLAIN_TERM.fullmatch(t)
        else "x" + hashlib.blake2b(t.encode(), digest_size=8).hexdigest()
        for t in terms
    )


def quote(value: str | int) -> str:
    """A literal for a Milvus filter expression."""
    return str(int(value)) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def fit(text: str | None, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` UTF-8 bytes (VARCHAR fields are bounded); None as ""."""
    text = text or ""
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


class Milvus:
    """A connection to one Newsdesk index in Milvus."""

    def __init__(self, target: MilvusTarget) -> None:
        # gRPC's C core prints keepalive notices (Lite's server and pymilvus disagree on pings)
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        from pymilvus import MilvusClient  # imported here: the local backend never needs it

        self.target = target
        self.chunks = f"{target.prefix}_chunks"
        self.articles = f"{target.prefix}_articles"
        self.meta_name = f"{target.prefix}_meta"
        self.copies = (
            f"{target.prefix}_copies"  # near-duplicate signatures (index/store/milvus_copies.py)
        )
        if target.is_lite:
            Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
        # pymilvus and Lite log every failed call with a traceback; each is raised here as one MilvusError
        for name in ("pymilvus", "milvus_lite"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client = MilvusClient(uri=target.uri, token=target.token, timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # pymilvus raises its own kinds, and grpc's
            hint = (
                " (Milvus Lite lets one process at a time open a file: is another newsdesk"
                " using it? Run `milvus-lite server` and point both at it, or use a server)"
                if target.is_lite
                else ""
            )
            raise MilvusError(
                f"cannot connect to Milvus at {target.describe()}: {_why(exc)}{hint}"
            ) from exc
        for name in (
            self.meta_name,
            self.articles,
            self.chunks,
            self.copies,
        ):  # a reopened Lite file, or a
            if self._call("look up collections", self.client.has_collection, name):  # restart
                self._call(f"load {name}", self.client.load_collection, name)

    def close(self) -> None:
        self.client.close()

    # --- collections ------------------------------------------------------------------------
    def has(self, collection: str) -> bool:
        return self._call("look up collections", self.client.has_collection, collection)

    def exists(self) -> bool:
        return self._call("look up collections", self.client.has_collection, self.chunks)

    def create(self, dim: int) -> None:
        """The three collections, if missing (the chunks' vectors have `dim` dimensions)."""
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        if not c.has_collection(self.meta_name):
            s = c.create_schema(auto_id=False)
            s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_ID)
            s.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
            s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
            self._create(self.meta_name, s, [("placeholder", "FLAT", "L2", {})])
        if not c.has_collection(self.articles):
            s = c.create_schema(auto_id=False)
            # an integer key: pymilvus's query_iterator cannot page over string keys with quotes
            s.add_field("key", DataType.INT64, is_primary=True)
            s.add_field("id", DataType.VARCHAR, max_length=MAX_ID)
            for name in ("title", "url", "origin"):
                s.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT)
            for name in ("published", "source", "content_hash"):
                s.add_field(name, DataType.VARCHAR, max_length=MAX_ID)
            s.add_field("chunks", DataType.INT64)
            s.add_field("indexed_at", DataType.DOUBLE)
            s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
            self._create(self.articles, s, [("placeholder", "FLAT", "L2", {})])
        if not c.has_collection(self.copies):
            s = c.create_schema(auto_id=False)
            s.add_field("key", DataType.INT64, is_primary=True)  # article_key(article id)
            s.add_field("article_id", DataType.VARCHAR, max_length=MAX_ID)
            s.add_field("hashvalues", DataType.VARCHAR, max_length=COPY_SIGNATURE_CHARS)
            s.add_field("bands", DataType.ARRAY, element_type=DataType.INT64, max_capacity=64)
            s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
            self._create(self.copies, s, [("placeholder", "FLAT", "L2", {})])
        if not c.has_collection(self.chunks):
            s = c.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("article_id", DataType.VARCHAR, max_length=MAX_ID)
            s.add_field("content_hash", DataType.VARCHAR, max_length=MAX_ID)
            for name in ("ordinal", "start", "end"):
                s.add_field(name, DataType.INT64)
            s.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
            s.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True)
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            s.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["terms"],
                    output_field_names=["sparse"],
                )
            )
            dense = (
                ("vector", "FLAT", "IP", {})
                if self.target.is_lite
                else ("vector", "HNSW", "IP", HNSW)
            )
            bm25 = ("sparse", "SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": K1, "bm25_b": B})
            self._create(self.chunks, s, [dense, bm25])

    def _create(self, name: str, schema: Any, indexes: list[tuple[str, str, str, dict]]) -> None:
        params = self.client.prepare_index_params()
        for field_name, kind, metric, extra in indexes:
            params.add_index(
                field_name=field_name, index_type=kind, metric_type=metric, params={"params": extra}
            )
        self._call(
            f"create collection {name}",
            self.client.create_collection,
            name,
            schema=schema,
            index_params=params,
            consistency_level="Strong",  # the indexer reads what it just wrote
        )

    def describe_dense_index(self) -> str:
        return "FLAT (exact)" if self.target.is_lite else f"HNSW (M={HNSW['M']}, ef>={MIN_EF})"

    # --- rows -------------------------------------------------------------------------------
    def upsert(self, collection: str, rows: Sequence[dict]) -> None:
        for i in range(0, len(rows), BATCH):
            self._call(
                f"write to {collection}", self.client.upsert, collection, list(rows[i : i + BATCH])
            )

    def upsert_meta(self, values: dict[str, str]) -> None:
        rows = [{"key": k, "value": fit(v), "placeholder": PLACEHOLDER} for k, v in values.items()]
        self.upsert(self.meta_name, rows)

    def delete(self, collection: str, expression: str) -> None:
        """Delete the rows matching `expression` (what Milvus returns differs: nothing reads it)."""
        self._call(f"delete from {collection}", self.client.delete, collection, filter=expression)

    def delete_in(
        self, collection: str, field: str, values: Sequence[str | int], extra: str = ""
    ) -> None:
        for i in range(0, len(values), BATCH):
            expression = f"{field} in [{', '.join(quote(v) for v in values[i : i + BATCH])}]"
            self.delete(collection, f"({expression}){extra}")

    def query(
        self, collection: str, expression: str, fields: list[str], limit: int | None = None
    ) -> list[dict]:
        kwargs = {"limit": limit} if limit else {}
        return list(
            self._call(
                f"read {collection}", self.client.query, collection, filter=expression,
                output_fields=fields, **kwargs,
            )
        )  # fmt: skip

    def query_in(
        self,
        collection: str,
        field: str,
        values: Sequence[str | int],
        fields: list[str],
        batch: int = BATCH,
    ) -> list[dict]:
        """Rows whose `field` is one of `values` (`batch` values a query: a query returns at most
        16,384 rows on a server)."""
        rows: list[dict] = []
        for i in range(0, len(values), batch):
            part = values[i : i + batch]
            rows += self.query(
                collection, f"{field} in [{', '.join(quote(v) for v in part)}]", fields
            )
        return rows

    def scan(
        self, collection: str, fields: list[str], expression: str = "", batch: int = 5000
    ) -> Iterator[dict]:
        """Every row (matching `expression`), in batches (a plain query is capped at 16,384 rows)."""
        iterator = self._call(
            f"read {collection}", self.client.query_iterator, collection,
            batch_size=batch, filter=expression, output_fields=fields,
        )  # fmt: skip
        try:
            while rows := self._call(f"read {collection}", iterator.next):
                yield from rows
        finally:
            iterator.close()

    def count(self, collection: str, expression: str = "") -> int:
        if not self._call("look up collections", self.client.has_collection, collection):
            return 0
        rows = self.query(collection, expression, ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def meta(self, key: str) -> str | None:
        if not self._call("look up collections", self.client.has_collection, self.meta_name):
            return None
        rows = self.query(self.meta_name, f"key == {quote(key)}", ["value"])
        return rows[0]["value"] if rows else None

    # --- search -----------------------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, k: int, expression: str = ""
    ) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the k nearest chunks, best first."""
        params: dict[str, Any] = {"metric_type": "IP", "params": {}}
        if not self.target.is_lite:
            params["params"]["ef"] = max(MIN_EF, 4 * k)
        found = self._call(
            "search", self.client.search, self.chunks, data=[vector.astype(np.float32).tolist()],
            anns_field="vector", limit=k, filter=expression, search_params=params, output_fields=["id"],
        )  # fmt: skip
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def bm25_search(self, text: str, k: int, expression: str = "") -> list[tuple[int, float]]:
        """(chunk id, BM25 score > 0) of the k best chunks for the terms in `text`, best first."""
        if not text:
            return []
        found = self._call(
            "search", self.client.search, self.chunks, data=[text], anns_field="sparse", limit=k,
            filter=expression, search_params={"metric_type": "BM25", "params": {}},
            output_fields=["id"],
        )  # fmt: skip
        # Lite returns -score (smaller = better), a server the score itself
        hits = [(int(hit["id"]), abs(float(hit["distance"]))) for hit in found[0]]
        return [(i, s) for i, s in hits if s > 0]

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        rows = self.query_in(self.chunks, "id", list(ids), ["id", "vector"])
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MilvusError:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("pymilvus", "grpc", "milvus_lite"):
                raise
            raise MilvusError(
                f"Milvus at {self.target.describe()}: cannot {what}: {_why(exc)}"
            ) from exc


def _why(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]


def release_lite(target: MilvusTarget) -> None:
    """Stop this process's embedded Lite server for `target`, releasing its file lock (a closed
    client keeps the server, and the lock, until the process ends)."""
    if target.is_lite:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(target.uri)
