"""Near-duplicate copies across runs on the Milvus backend: the MinHash signatures of stored
articles live in the PREFIX_copies collection, beside the articles they sign.

Why a collection and not a SQLite file in the data directory: on Milvus the truth is Milvus, and
several replicas (or an indexer on another machine) may share one server; a file beside one of them
would remember only what that one indexed. One row per article: its signature (hex) and its 21 LSH
band keys as an INT64 array, so a look-up is one `array_contains_any` query.

Crash safety, in `MilvusStore.write_batch`'s order: signatures are written after the chunks and
before the article rows, and deleted with the articles. A kill in between can leave a signature
whose article is not (or no longer) stored; `candidates` only returns signatures whose article is
stored with the same id, and `finish_pending` deletes the leftovers of the batch's journal.

Articles indexed into Milvus before signatures were kept there have none (Milvus does not hold
article bodies to sign them from): copies of those are caught only when they are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasketch import LeanMinHash

from index.ingest.copies import CopyIndex, band_keys, from_bytes, to_bytes
from index.store.milvus import PLACEHOLDER, Milvus, article_key


def signature_rows(signatures: Mapping[str, LeanMinHash]) -> list[dict]:
    """The copies collection's rows for these articles' signatures."""
    return [
        {
            "key": article_key(article_id),
            "article_id": article_id,
            "hashvalues": to_bytes(sig).hex(),
            "bands": band_keys(sig),
            "placeholder": PLACEHOLDER,
        }
        for article_id, sig in signatures.items()
    ]


def delete_signatures(db: Milvus, article_ids: Sequence[str]) -> None:
    if article_ids and db.has(db.copies):
        db.delete_in(db.copies, "key", [article_key(i) for i in article_ids])


def candidates(db: Milvus, sig: LeanMinHash) -> list[tuple[int, str, LeanMinHash]]:
    """(order, article id, signature) of stored articles sharing an LSH band with `sig` (only
    those whose article is stored: a killed batch may have left a signature behind)."""
    if not db.has(db.copies):
        return []
    keys = ", ".join(str(int(k)) for k in band_keys(sig))
    rows = db.query(db.copies, f"array_contains_any(bands, [{keys}])", ["article_id", "hashvalues"])
    if not rows:
        return []
    ids = sorted({r["article_id"] for r in rows})
    stored = {a["id"] for a in db.query_in(db.articles, "id", ids, ["id"])}
    found = []
    for row in rows:
        if row["article_id"] not in stored:
            continue
        other = from_bytes(bytes.fromhex(row["hashvalues"]))
        if other is not None:
            # no insertion order in Milvus: equal similarities go to the smaller id
            found.append((0, row["article_id"], other))
    found.sort(key=lambda t: t[1])
    return [(i, article_id, s) for i, (_, article_id, s) in enumerate(found)]


class MilvusCopyIndex(CopyIndex):
    """`CopyIndex` whose stored signatures are the Milvus copies collection."""

    def __init__(self, db: Milvus) -> None:
        super().__init__(None)
        self.db = db

    def _stored(self, sig: LeanMinHash) -> list[tuple[int, str, LeanMinHash]]:
        return candidates(self.db, sig)
