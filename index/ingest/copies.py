"""Copies of a story: the same body (an exact digest) or a near-identical one (MinHash of word
shingles), such as a syndicated story under another outlet's byline, found before it is indexed
a second time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

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
NEAR_KEEP = 3000  # signatures remembered (the most recent), ~0.8 KB each in the state file
NEAR_DAYS = 30  # and for at most this long: syndicated copies appear within days
NEAR_SCHEME = f"minhash-{SHINGLE_WORDS}w-{MINHASH_PERMUTATIONS}-v1"
_MERSENNE = (1 << 61) - 1


def _hash_constants(tag: str) -> np.ndarray:
    """Fixed per-permutation constants (derived from blake2b, so saved signatures stay
    comparable whatever numpy's random generators do in later versions)."""
    values = [
        int.from_bytes(hashlib.blake2b(f"{tag}{i}".encode(), digest_size=8).digest(), "little")
        % (_MERSENNE - 1) + 1
        for i in range(MINHASH_PERMUTATIONS)
    ]  # fmt: skip
    return np.array(values, dtype=np.uint64)


_PERM_A, _PERM_B = _hash_constants("a"), _hash_constants("b")
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


def signature(body: str) -> np.ndarray | None:
    """The MinHash signature (uint32 x MINHASH_PERMUTATIONS) of the body's word shingles; None
    when it is too short to compare."""
    words = _story_words(body)
    if len(words) < NEAR_MIN_WORDS:
        return None
    k = SHINGLE_WORDS
    shingles = {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}
    x = np.fromiter(
        (int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
         for g in shingles),
        dtype=np.uint64, count=len(shingles),
    )  # fmt: skip
    with np.errstate(over="ignore"):  # a*x wraps around 2**64: still a fine hash
        hashed = (np.multiply.outer(_PERM_A, x) + _PERM_B[:, None]) % np.uint64(_MERSENNE)
    return (hashed & np.uint64(0xFFFFFFFF)).min(axis=1).astype(np.uint32)


class NearDuplicates:
    """MinHash signatures of recently indexed article bodies, to find copies of a story.

    `find(id, sig)` returns the id of a remembered article (other than `id`) whose estimated
    shingle Jaccard similarity is at least NEAR_DUPLICATE, with that similarity: one vectorised
    comparison against every remembered signature (NEAR_KEEP x 128 integers, ~0.3 ms). Saved in
    the feed state; those older than NEAR_DAYS, or beyond the NEAR_KEEP most recent, are
    dropped when it is saved."""

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}  # article id -> row of its signature
        self._ids: list[str | None] = []  # row -> article id (None: forgotten)
        self._when: list[str] = []  # row -> when it was indexed
        self._sigs = np.zeros((0, MINHASH_PERMUTATIONS), dtype=np.uint32)  # grows by doubling
        self.added: dict[str, str | None] = {}  # id -> origin, added since loading

    @classmethod
    def from_json(cls, data: Any) -> NearDuplicates:
        near = cls()
        if not isinstance(data, dict) or data.get("scheme") != NEAR_SCHEME:
            return near  # none yet, or another scheme: not comparable, start afresh
        for row in reversed(data.get("items", [])):  # saved newest first
            try:
                article_id, encoded, when = row
                raw = base64.b64decode(encoded, validate=True)
                sig = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
            except (TypeError, ValueError, binascii.Error):
                continue
            if sig.shape == (MINHASH_PERMUTATIONS,):
                near._put(str(article_id), sig, str(when))
        return near

    def to_json(self) -> dict:
        cutoff = datetime.now(UTC).timestamp() - NEAR_DAYS * 86400
        rows = sorted(self._rows.values(), key=lambda r: (self._when[r], r), reverse=True)
        kept = [
            [self._ids[r], base64.b64encode(self._sigs[r].astype("<u4").tobytes()).decode(),
             self._when[r]]
            for r in rows[:NEAR_KEEP]
            if _timestamp(self._when[r]) >= cutoff
        ]  # fmt: skip
        return {"scheme": NEAR_SCHEME, "items": kept}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._rows

    def _put(self, article_id: str, sig: np.ndarray, when: str) -> None:
        self.forget(article_id)
        row = len(self._ids)
        if row == len(self._sigs):
            grown = np.zeros((max(64, 2 * row), MINHASH_PERMUTATIONS), dtype=np.uint32)
            grown[:row] = self._sigs
            self._sigs = grown
        self._sigs[row] = sig
        self._ids.append(article_id)
        self._when.append(when)
        self._rows[article_id] = row

    def add(self, article_id: str, sig: np.ndarray | None, origin: str | None = None) -> None:
        """Remember an article's signature (replacing an older one of the same id)."""
        self.forget(article_id)
        if sig is not None:
            self._put(article_id, sig, now_stamp())
            self.added[article_id] = origin

    def forget(self, article_id: str) -> None:
        row = self._rows.pop(article_id, None)
        if row is not None:
            self._ids[row] = None
        self.added.pop(article_id, None)

    def find(self, article_id: str, sig: np.ndarray | None) -> tuple[str, float] | None:
        if sig is None or not self._rows:
            return None
        used = len(self._ids)
        similarity = (self._sigs[:used] == sig).mean(axis=1)
        for row in np.flatnonzero(similarity >= NEAR_DUPLICATE)[
            np.argsort(-similarity[similarity >= NEAR_DUPLICATE], kind="stable")
        ]:
            other = self._ids[row]
            if other is not None and other != article_id:
                return other, round(float(similarity[row]), 3)
        return None


def _timestamp(when: str) -> float:
    try:
        return datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


class CopyFinder:
    """Finds the article a new one copies: the same body (exact hash) or a near-identical one
    (NearDuplicates), among what earlier runs indexed and what this run has taken so far. A
    remembered original that is no longer in the index (`newsdesk remove`) does not count."""

    def __init__(self, texts: dict[str, str], near: NearDuplicates, data_dir: Path | None) -> None:
        self.texts, self.near, self.data_dir = texts, near, data_dir
        self.taken: set[str] = set()  # ids this run passed on to the indexer
        self._store: Store | None = None
        self._gone: set[str] = set()
        self._last: tuple[Article, str, np.ndarray | None] | None = None

    def _fingerprints(self, article: Article) -> tuple[str, np.ndarray | None]:
        if self._last is None or self._last[0] is not article:
            self._last = (article, text_hash(article), signature(body_of(article)))
        return self._last[1], self._last[2]

    def find(self, article: Article) -> tuple[str, float] | None:
        """(id of the article this one copies, similarity), or None."""
        digest, sig = self._fingerprints(article)
        twin = self.texts.get(digest)
        if twin is not None and twin != article.id and self._exists(twin):
            return twin, 1.0
        while (found := self.near.find(article.id, sig)) is not None:
            if self._exists(found[0]):
                return found
            self.near.forget(found[0])
        return None

    def add(self, article: Article) -> None:
        """Remember an article passed on to the indexer."""
        digest, sig = self._fingerprints(article)
        self.taken.add(article.id)
        self.texts[digest] = article.id
        self.near.add(article.id, sig, article.origin)

    def _exists(self, article_id: str) -> bool:
        if article_id in self.taken or self.data_dir is None:
            return True
        if article_id in self._gone:
            return False
        if self._store is None:
            if not (self.data_dir / DB_NAME).is_file():
                return False
            try:
                self._store = Store(self.data_dir, readonly=True)
            except StoreError:
                return True  # cannot tell: keep the copy grouped
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
