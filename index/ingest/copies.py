"""Copies of a story: the same body (an exact digest) or a near-identical one (MinHash of word
shingles), such as a syndicated story under another outlet's byline, found before it is indexed
a second time.

Signatures are datasketch MinHashes. Every stored article's signature lives beside it in SQLite
(`copy_signatures`, cut into LSH bands in `copy_bands`), written in the indexer's commit
transaction and deleted with the article, so the two never disagree after a crash and a removed
original stops counting. A look-up is one indexed query for the bands, whatever the index's size;
the articles of the running ingest that are not committed yet are in an in-memory MinHashLSH."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.hashfunc import sha1_hash32

from index.models import Article
from index.store.database import DB_NAME, Store, StoreError
from index.text import one_line, without_title_line


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body_of(article: Article) -> str:
    """The article's text without its headline (syndicated copies of a story often retitle it)."""
    return without_title_line(article.title, article.text)


def text_hash(article: Article) -> str:
    """A digest of the article's body without its headline, case and spacing ignored."""
    return hashlib.blake2b(
        one_line(body_of(article)).casefold().encode(), digest_size=12
    ).hexdigest()


# --- near-duplicates: syndicated copies that differ by a byline, a credit line or a word ---------
SHINGLE_WORDS = 3  # word 3-grams: one changed word touches 3 of them
MINHASH_PERMUTATIONS = 128  # the Jaccard estimate's standard error is about 0.03 near 0.85
NEAR_DUPLICATE = 0.8  # estimated Jaccard similarity of the shingle sets at or above: a copy
NEAR_MIN_WORDS = 25  # shorter bodies are only matched exactly (too few shingles to judge)
# LSH: 21 bands of 6 hash values. Two signatures that agree on at least 80% of their values share
# a band with probability > 0.9999 (simulated), so the look-up misses next to nothing that
# comparing against every signature would find; datasketch's default for 0.8 (9 x 13) would miss
# about 60% of the pairs at 0.8 and 4% at 0.9. Candidates are then checked by their estimate.
LSH_BANDS, LSH_ROWS = 21, 6  # (LSH_ROWS even: band_keys_of folds the values in pairs)
SCHEME = (
    f"datasketch-affine32-sha1-{SHINGLE_WORDS}w-{MINHASH_PERMUTATIONS}-{LSH_BANDS}x{LSH_ROWS}-v1"
)
_SEED = 1
_PERMUTATIONS = MinHash(
    num_perm=MINHASH_PERMUTATIONS, seed=_SEED, hashfunc=sha1_hash32, scheme="affine32"
).permutations  # drawn once (numpy's frozen RandomState: the same in every release)
_CREDIT_LINE = re.compile(
    r"^\s*(\(?(additional\s+)?(reporting|writing|editing|compiled|produced|research|"
    r"translated|photos?|graphics?)\s+by\b|(copyright|©|\(c\))|all rights reserved|"
    r"(read|see)\s+more\b|related\s*:)",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^\s*(by|from|von|par|por)\s+\S", re.IGNORECASE)
_DATELINE = re.compile(  # "LONDON, March 5 (Reuters) - " at the start of the story
    r"^\s*[A-Z][\w .,'/-]{0,60}?\((reuters|ap|afp|bloomberg|upi|dpa|efe)\)\s*[-\u2013\u2014:]+\s*",
    re.IGNORECASE,
)


def _story_words(body: str) -> list[str]:
    """The words of a story without what copies of it change: bylines, credit and copyright
    lines, a wire dateline."""
    lines = [line for line in body.split("\n") if line.strip()]
    kept = []
    for i, line in enumerate(lines):
        if _CREDIT_LINE.match(line) or (_BYLINE.match(line) and len(line.split()) <= 12):
            continue
        kept.append(_DATELINE.sub("", line, count=1) if i < 3 else line)
    return re.findall(r"\w+", " ".join(kept).casefold())


def signature(body: str) -> LeanMinHash | None:
    """The MinHash (MINHASH_PERMUTATIONS values) of the body's word shingles; None when it is
    too short to compare."""
    words = _story_words(body)
    if len(words) < NEAR_MIN_WORDS:
        return None
    k = SHINGLE_WORDS
    shingles = {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}
    sketch = MinHash(
        num_perm=MINHASH_PERMUTATIONS, seed=_SEED, hashfunc=sha1_hash32,
        permutations=_PERMUTATIONS, scheme="affine32",
    )  # fmt: skip
    sketch.update_batch([s.encode() for s in shingles])
    return LeanMinHash(sketch)


def from_bytes(raw: bytes) -> LeanMinHash | None:
    """A signature saved by `to_bytes`; None for a damaged one."""
    if len(raw) != 4 * MINHASH_PERMUTATIONS:
        return None
    return LeanMinHash(seed=_SEED, hashvalues=np.frombuffer(raw, dtype="<u4"), scheme="affine32")


def to_bytes(sig: LeanMinHash) -> bytes:
    return np.asarray(sig.hashvalues, dtype="<u4").tobytes()


_BAND_SALT = np.arange(1, LSH_BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def band_keys_of(values: np.ndarray) -> np.ndarray:
    """The LSH band keys (n x LSH_BANDS, int64) of n signatures' hash values (n x 128, uint32):
    each band's six values folded into 64 bits, the band number mixed in. MinHash values are
    uniform already, so the fold is a fair key; two bands that differ collide only by 2^-64
    chance, and then the candidate's similarity estimate still decides."""
    values = np.asarray(values, dtype=np.uint32)[:, : LSH_BANDS * LSH_ROWS]
    pairs = values.reshape(len(values), LSH_BANDS, LSH_ROWS // 2, 2).astype(np.uint64)
    words = pairs[..., 0] | (pairs[..., 1] << np.uint64(32))
    return (np.bitwise_xor.reduce(words, axis=2) ^ _BAND_SALT).view(np.int64)


def band_keys(sig: LeanMinHash) -> list[int]:
    return band_keys_of(np.asarray(sig.hashvalues)[None, :])[0].tolist()


# --- the signatures of stored articles, in the store's copy_signatures / copy_bands tables -------
def put_signature(store: Store, article_id: str, sig: LeanMinHash | None) -> None:
    """Save (or replace) an article's signature; call it inside the store's write transaction."""
    store.db.execute("DELETE FROM copy_signatures WHERE article_id = ?", (article_id,))
    if sig is None:
        return
    row = store.db.execute(
        "INSERT INTO copy_signatures (article_id, hashvalues) VALUES (?, ?)",
        (article_id, to_bytes(sig)),
    ).lastrowid
    store.db.executemany(
        "INSERT OR IGNORE INTO copy_bands (band_key, signature) VALUES (?, ?)",
        [(key, row) for key in band_keys(sig)],
    )


def stored_candidates(store: Store, sig: LeanMinHash) -> list[tuple[int, str, LeanMinHash]]:
    """(row, article id, signature) of the stored articles sharing an LSH band with `sig`."""
    keys = band_keys(sig)
    marks = ",".join("?" * len(keys))
    try:
        rows = store.db.execute(
            "SELECT id, article_id, hashvalues FROM copy_signatures WHERE id IN"
            f" (SELECT signature FROM copy_bands WHERE band_key IN ({marks}))",
            keys,
        ).fetchall()
    except sqlite3.OperationalError:  # an index made before these tables, opened read-only
        return []
    return [
        (row, article_id, s) for row, article_id, raw in rows if (s := from_bytes(raw)) is not None
    ]


def signed_ids(store: Store) -> set[str]:
    """Ids of the stored articles that have a signature."""
    return {r[0] for r in store.db.execute("SELECT article_id FROM copy_signatures")}


def sign_stored_articles(store: Store, batch: int = 2000) -> int:
    """Give every stored article without a signature of SCHEME one (an index made before the
    signatures were kept in the store, or with another scheme); returns how many were signed.
    Cheap when there is nothing to do: one look-up in the meta table."""
    if store.meta("copy_scheme") == SCHEME:
        return 0
    with store.transaction():
        if store.meta("copy_scheme") is not None:  # another scheme: not comparable
            store.db.execute("DELETE FROM copy_signatures")
    signed, last = 0, ""
    while rows := store.db.execute(
        "SELECT id, title, text FROM articles a WHERE id > ? AND NOT EXISTS"
        " (SELECT 1 FROM copy_signatures s WHERE s.article_id = a.id) ORDER BY id LIMIT ?",
        (last, batch),
    ).fetchall():
        with store.transaction():
            for article_id, title, text in rows:
                put_signature(store, article_id, signature(without_title_line(title, text)))
        signed, last = signed + len(rows), rows[-1][0]
    with store.transaction():
        store.set_meta("copy_scheme", SCHEME)
    return signed


class CopyIndex:
    """Finds the article whose signature is nearest a new one's: among the stored articles (by
    their LSH bands in `store`, if any) and those added since the last `committed()` (an
    in-memory MinHashLSH)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._pending: dict[str, LeanMinHash] = {}
        self._order: dict[str, int] = {}  # pending id -> when it was added (ties go to the first)
        self._lsh = MinHashLSH(
            threshold=NEAR_DUPLICATE, num_perm=MINHASH_PERMUTATIONS, params=(LSH_BANDS, LSH_ROWS)
        )
        self._added = 0

    def __len__(self) -> int:
        return len(self._pending)

    def find(self, article_id: str, sig: LeanMinHash | None) -> tuple[str, float] | None:
        """(id, estimated similarity) of the most similar other article at or above
        NEAR_DUPLICATE (the earliest of equals), or None."""
        if sig is None:
            return None
        found: dict[str, tuple[float, tuple[int, int]]] = {}
        for row, other, other_sig in self._stored(sig):
            found[other] = (sig.jaccard(other_sig), (0, row))
        for other in self._lsh.query(sig) if self._pending else ():
            found.setdefault(other, (sig.jaccard(self._pending[other]), (1, self._order[other])))
        best = min(
            ((-similarity, order, other) for other, (similarity, order) in found.items()
             if other != article_id and similarity >= NEAR_DUPLICATE),
            default=None,
        )  # fmt: skip
        return None if best is None else (best[2], round(-best[0], 3))

    def _stored(self, sig: LeanMinHash) -> list[tuple[int, str, LeanMinHash]]:
        """(order, article id, signature) of the stored articles sharing a band with `sig`."""
        return stored_candidates(self.store, sig) if self.store is not None else []

    def add(self, article_id: str, sig: LeanMinHash | None) -> None:
        """Remember an article of this run (replacing an earlier signature of the same id)."""
        self.forget(article_id)
        if sig is not None:
            self._pending[article_id] = sig
            self._order[article_id] = self._added
            self._added += 1
            self._lsh.insert(article_id, sig, check_duplication=False)

    def forget(self, article_id: str) -> None:
        if self._pending.pop(article_id, None) is not None:
            self._lsh.remove(article_id)
            del self._order[article_id]

    def signature_of(self, article_id: str) -> LeanMinHash | None:
        return self._pending.get(article_id)

    def committed(self) -> None:
        """The added articles are in the store now: look them up there."""
        for article_id in list(self._pending):
            self.forget(article_id)


class CopyFinder:
    """Finds the article a new one copies: the same body (exact hash) or a near-identical one
    (CopyIndex), among what earlier runs indexed in `data_dir` and what this run has taken so
    far. A remembered original that is no longer in the index (`newsdesk remove`) does not
    count."""

    def __init__(self, texts: dict[str, str], data_dir: Path | None) -> None:
        self.texts, self.data_dir = texts, data_dir
        self.taken: set[str] = set()  # ids this run passed on to the indexer
        self._store: Store | None = None
        self._unreadable = False  # a database that cannot be opened: cannot tell what it holds
        if data_dir is not None and (Path(data_dir) / DB_NAME).is_file():
            try:
                self._store = Store(Path(data_dir), readonly=True)
            except StoreError:
                self._unreadable = True
        self.near = CopyIndex(self._store)
        self._gone: set[str] = set()
        self._last: tuple[Article, str, LeanMinHash | None] | None = None

    def _fingerprints(self, article: Article) -> tuple[str, LeanMinHash | None]:
        if self._last is None or self._last[0] is not article:
            self._last = (article, text_hash(article), signature(body_of(article)))
        return self._last[1], self._last[2]

    def find(self, article: Article) -> tuple[str, float] | None:
        """(id of the article this one copies, similarity), or None."""
        digest, sig = self._fingerprints(article)
        twin = self.texts.get(digest)
        if twin is not None and twin != article.id and self._exists(twin):
            return twin, 1.0
        try:
            return self.near.find(article.id, sig)
        except sqlite3.DatabaseError:  # a database that went away mid-run: only this run's
            self.near.store = None
            return self.near.find(article.id, sig)

    def add(self, article: Article) -> None:
        """Remember an article passed on to the indexer."""
        digest, sig = self._fingerprints(article)
        self.taken.add(article.id)
        self.texts[digest] = article.id
        self.near.add(article.id, sig)

    def _exists(self, article_id: str) -> bool:
        if article_id in self.taken or self.data_dir is None or self._unreadable:
            return True
        if self._store is None or article_id in self._gone:
            return False
        try:
            found = self._store.article(article_id) is not None
        except Exception:  # a database that went away mid-run: cannot tell
            return True
        if not found:
            self._gone.add(article_id)
        return found

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
