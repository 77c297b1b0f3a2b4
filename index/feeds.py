"""RSS and Atom feeds: poll them, remember what was seen, index new and updated entries.

    state = FeedState.load(data_dir)              # under feeds_lock(data_dir)
    report = service.index_articles(read_feeds(urls, settings, state))
    state.commit(report)                          # only now are the entries marked as seen

What is remembered, per feed: its ETag and Last-Modified (sent back as If-None-Match and
If-Modified-Since, so an unchanged feed costs one 304), and per entry (keyed by GUID, else
link): a fingerprint of its link and `updated` date (or of its text when it has none), the
article id it became, and whether it failed. An entry seen before with the same fingerprint
is not fetched again; a changed fingerprint re-fetches and re-indexes it (same canonical
URL, so the indexer replaces the old text). A link that another entry (of any feed)
already brought in is not fetched again either.

Failures: permanent ones (not HTML, too large, 404, no text) are reported once and then left
alone until the entry changes; transient ones (5xx, timeouts) are retried on the next
update, up to MAX_ATTEMPTS times: the feed's validators are then not advanced, so the next
poll re-reads the feed and finds the entry again. Nothing indexed is ever removed here.

The state file is written atomically, only by `commit()` after the index run returned.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from index.files import write_atomic
from index.indexer import IndexReport
from index.ingest import IngestError, html_problem, make_article
from index.lock import LockedError
from index.models import Article
from index.store import DB_NAME, Store, StoreError
from index.text import normalize, one_line, without_title_line
from index.web import Fetcher, FetchError, check_url, fetch_article, normalize_url

__all__ = [
    "FeedState",
    "FeedUpdate",
    "CopyFinder",
    "NearDuplicates",
    "add_feeds",
    "configured_feeds",
    "feeds_lock",
    "load_feed_list",
    "poll_feeds",
    "read_feed_urls",
    "read_feeds",
    "remove_feeds",
    "update_feeds",
]

FEEDS_FILE = "feeds.txt"  # one feed URL a line, managed by `newsdesk feeds add|remove`
STATE_FILE = "feeds-state.json"
LOCK_FILE = "feeds.lock"
STATE_VERSION = 1
FULL_TEXT_CHARS = 500  # entry content at least this long is the article; else fetch its page
MAX_ATTEMPTS = 5  # transient failures of one entry before it is left alone until it changes
TRUNCATED = ("…", "...", "[…]", "[...]", "read more", "continue reading", "read the full story")
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


# --- the feeds file ----------------------------------------------------------------------------
def load_feed_list(data_dir: Path) -> list[str]:
    """The feed URLs in DATA_DIR/feeds.txt (blank lines and # comments ignored)."""
    path = Path(data_dir) / FEEDS_FILE
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return list(dict.fromkeys(line for line in lines if line))


def _save_feed_list(data_dir: Path, urls: list[str]) -> None:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    text = "# Feeds polled by `newsdesk update`; edit with `newsdesk feeds add|remove`.\n"
    text += "".join(f"{url}\n" for url in urls)
    write_atomic(data_dir / FEEDS_FILE, lambda tmp: tmp.write_text(text))


def add_feeds(data_dir: Path, urls: Iterable[str]) -> list[str]:
    """Add feed URLs to the feeds file; returns those that were new. ValueError on a bad URL."""
    current = load_feed_list(data_dir)
    added = []
    for url in urls:
        try:
            url = check_url(url)
        except FetchError as exc:
            raise ValueError(str(exc)) from None
        if url not in current and url not in added:
            added.append(url)
    if added:
        _save_feed_list(data_dir, current + added)
    return added


def remove_feeds(data_dir: Path, urls: Iterable[str]) -> list[str]:
    """Remove feed URLs from the feeds file; returns those that were there. Articles already
    indexed from them stay."""
    current = load_feed_list(data_dir)
    gone = [u.strip() for u in urls if u.strip() in current]
    if gone:
        _save_feed_list(data_dir, [u for u in current if u not in gone])
    return gone


def configured_feeds(settings: Any) -> list[str]:
    """NEWSDESK_FEEDS, then the feeds file, without repeats."""
    return list(dict.fromkeys([*settings.feeds, *load_feed_list(settings.data_dir)]))


@contextlib.contextmanager
def feeds_lock(data_dir: Path) -> Iterator[None]:
    """One feed update at a time per data directory (an flock the OS drops if we die)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockedError(
            f"another feed update is running on {data_dir}; try again when it has finished"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- state -------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body_of(article: Article) -> str:
    """The article's text without its headline (syndicated copies of a story often retitle it)."""
    return without_title_line(article.title, article.text)


def _text_hash(article: Article) -> str:
    """A digest of the article's body without its headline, case and spacing ignored."""
    return hashlib.blake2b(
        one_line(_body_of(article)).casefold().encode(), digest_size=12
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
            self._put(article_id, sig, _now())
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
            self._last = (article, _text_hash(article), signature(_body_of(article)))
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


class FeedState:
    """What was seen in each feed. Changes made by `read_feeds` are staged and only written
    by `commit()`, so entries count as seen only once the index run that took them returned."""

    def __init__(self, path: Path | None = None, data: dict | None = None) -> None:
        self.path = path
        self.feeds: dict[str, dict] = dict((data or {}).get("feeds", {}))
        self.near = NearDuplicates.from_json((data or {}).get("near"))
        self.data_dir: Path | None = path.parent if path is not None else None
        self.warning: str | None = None
        self.duplicates: list[tuple[str, str]] = []  # (id, id with the same text) this run
        self._staged: dict[str, dict] = {}

    @classmethod
    def load(cls, data_dir: Path) -> FeedState:
        path = Path(data_dir) / STATE_FILE
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unknown state format")
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            state = cls(path)
            state.warning = f"{path}: unreadable feed state ({exc}); every entry is checked again"
            return state
        return cls(path, data)

    @classmethod
    @contextlib.contextmanager
    def locked(cls, data_dir: Path) -> Iterator[FeedState]:
        """The saved state of `data_dir` for one run, under the feed lock; end with `finish`."""
        with feeds_lock(data_dir):
            yield cls.load(data_dir)

    def finish(self, report: IndexReport) -> None:
        """`commit(report)`, and an unreadable saved state reported first among the failures."""
        self.commit(report)
        if self.warning:
            report.failed.insert(0, IngestError(str(self.path), self.warning))

    @classmethod
    def in_memory(cls, data_dir: Path | None = None) -> FeedState:
        """A state that is never saved: every entry of every feed is read. With `data_dir`, it
        knows the near-duplicate signatures saved there (read only), so that copies of stories
        indexed by earlier updates are still recognised."""
        state = cls(None)
        if data_dir is not None:
            saved = cls.load(data_dir)
            state.near, state.data_dir = saved.near, Path(data_dir)
            state.near.added.clear()
        return state

    def feed(self, url: str) -> dict:
        return self._staged.get(url) or self.feeds.get(url) or {}

    def links(self) -> dict[str, str]:
        """Link -> article id of every entry that was indexed (or found to be a duplicate)."""
        found: dict[str, str] = {}
        for source in (self.feeds, self._staged):
            for record in source.values():
                for entry in record.get("entries", {}).values():
                    if entry.get("status") in ("indexed", "duplicate") and entry.get("link"):
                        found[entry["link"]] = (
                            entry.get("duplicate_of") or entry.get("article_id") or ""
                        )
        return found

    def texts(self) -> dict[str, str]:
        """Normalised-text hash -> article id of every indexed entry."""
        found: dict[str, str] = {}
        for record in self.feeds.values():
            for entry in record.get("entries", {}).values():
                if entry.get("status") == "indexed" and entry.get("text_hash"):
                    found[entry["text_hash"]] = entry["article_id"]
        return found

    def stage(self, url: str, record: dict) -> None:
        self._staged[url] = record

    def commit(self, report: IndexReport | None = None) -> None:
        """Apply what the last `read_feeds` saw and save it atomically. Entries whose article
        the index run reports as failed are not marked seen. Adds this run's text duplicates
        to `report.duplicates`."""
        failed = {e.location for e in report.failed} if report is not None else set()
        for url, record in self._staged.items():
            old_entries = self.feeds.get(url, {}).get("entries", {})
            for key, entry in list(record.get("entries", {}).items()):
                origin = entry.pop("_origin", None)
                if origin and origin in failed and entry.get("status") == "indexed":
                    record["validators_kept"] = True
                    if key in old_entries:
                        record["entries"][key] = old_entries[key]
                    else:
                        del record["entries"][key]
            if record.pop("validators_kept", False):
                old = self.feeds.get(url, {})
                record["etag"], record["last_modified"] = old.get("etag"), old.get("last_modified")
            self.feeds[url] = record
        self._staged.clear()
        for article_id, origin in list(self.near.added.items()):
            if origin and origin in failed:  # not indexed after all: no original of anything
                self.near.forget(article_id)
        self.near.added.clear()
        if report is not None:
            report.duplicates.extend(self.duplicates)
        self.duplicates = []
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        data = {"version": STATE_VERSION, "feeds": self.feeds, "near": self.near.to_json()}
        text = json.dumps(data, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda tmp: tmp.write_text(text))


# --- reading feeds -----------------------------------------------------------------------------
@dataclass
class FeedSummary:
    """What one poll did, feed by feed (for the command line and the bot)."""

    fetched: list[str] = field(default_factory=list)  # feeds read (HTTP 200)
    not_modified: list[str] = field(default_factory=list)  # feeds answered 304
    failed: list[str] = field(default_factory=list)
    new: int = 0  # entries fetched for the first time
    changed: int = 0  # entries fetched again because they changed
    retried: int = 0  # entries fetched again after a transient failure
    seen: int = 0  # entries skipped: seen before
    duplicates: int = 0  # entries that were copies of a story already indexed (not indexed)
    requests: int = 0  # HTTP requests sent (retries and redirects included)

    def line(self) -> str:
        feeds = len(self.fetched) + len(self.not_modified) + len(self.failed)
        parts = [f"{feeds} feed{'s' if feeds != 1 else ''}: {len(self.fetched)} read",
                 f"{len(self.not_modified)} not modified", f"{len(self.failed)} failed"]  # fmt: skip
        entries = f"entries: {self.new} new, {self.changed} changed, {self.retried} retried, "
        entries += f"{self.seen} already seen"
        if self.duplicates:
            entries += f", {self.duplicates} cop{'ies' if self.duplicates != 1 else 'y'} of "
            entries += "stories already indexed"
        entries += f"; {self.requests} HTTP requests"
        return ", ".join(parts) + "; " + entries

    def as_dict(self) -> dict:
        return {
            "fetched": self.fetched,
            "not_modified": self.not_modified,
            "failed": self.failed,
            "new": self.new,
            "changed": self.changed,
            "retried": self.retried,
            "seen": self.seen,
            "duplicates": self.duplicates,
            "requests": self.requests,
        }


@dataclass
class _Job:
    feed: str
    key: str
    record: dict  # the entry's new state record, completed when the job is done
    entry: Any  # the feedparser entry
    feed_title: str | None
    old: dict | None
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (feed, key) with this link


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
    return None


def _entry_link(entry: Any) -> str | None:
    link = dict.get(entry, "link")
    if not link:
        return None
    try:
        return normalize_url(check_url(link))
    except (FetchError, ValueError):
        return None


def _fingerprint(entry: Any, link: str | None) -> str:
    """Changes when the entry is updated: its `updated` date, or (without one) its text."""
    updated = dict.get(entry, "updated")
    if updated:
        parts = [link or "", updated]
    else:
        parts = [link or "", dict.get(entry, "published") or "", dict.get(entry, "title") or ""]
        parts += [dict.get(entry, "summary") or ""]
        parts += [c.get("value", "") for c in dict.get(entry, "content") or []]
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(str(part).encode() + b"\x00")
    return digest.hexdigest()


def _html_text(html: str) -> str:
    import trafilatura

    if html_problem("", html) is not None:  # too many elements to extract in reasonable time
        return ""
    wrapped = f"<html><body><article>{html}</article></body></html>"
    try:
        doc = trafilatura.bare_extraction(wrapped, favor_recall=True, include_comments=False)
    except Exception:  # broken markup in a feed entry: treated as no text
        return ""
    text = (doc if isinstance(doc, dict) else doc.as_dict()).get("text") if doc else ""
    return normalize(text or "")


def _feed_text(entry: Any) -> str | None:
    """The entry's own text when it carries the whole article, else None (fetch the page)."""
    candidates = [c.get("value", "") for c in dict.get(entry, "content") or []]
    candidates.append(dict.get(entry, "summary") or "")
    html = max(candidates, key=len)
    if len(html) < FULL_TEXT_CHARS:
        return None
    text = _html_text(html)
    if len(text) < FULL_TEXT_CHARS or text.rstrip().lower().endswith(TRUNCATED):
        return None
    return text


def _process(fetcher: Fetcher, job: _Job) -> Article | IngestError:
    entry, link = job.entry, job.record.get("link")
    title = one_line(dict.get(entry, "title") or "") or None
    defaults = {"title": title, "published": _entry_date(entry), "source": job.feed_title}
    text = _feed_text(entry)
    where = link or f"{job.feed}#{job.key}"
    if text is not None:
        fields = {"id": link or f"{job.feed}#{job.key}", "url": link, "text": text, **defaults}
        return make_article(where, fields, origin=job.feed)
    if not link:
        return IngestError(where, "the entry has only a summary and no link to its page")
    return fetch_article(fetcher, link, defaults=defaults)


def _fetch_feed(fetcher: Fetcher, url: str, old: dict) -> Any:
    """The parsed feed, "not modified", or a FetchError."""
    import feedparser

    headers = {"Accept": FEED_ACCEPT}
    if old.get("etag"):
        headers["If-None-Match"] = old["etag"]
    if old.get("last_modified"):
        headers["If-Modified-Since"] = old["last_modified"]
    try:
        response = fetcher.get(
            url, headers=headers, max_bytes=fetcher.policy.max_feed_bytes, conditional=True
        )
    except FetchError as exc:
        return exc
    if response.status == 304:
        return "not modified"
    if not response.content.strip():
        return FetchError(url, "empty response (not a feed)")
    response_headers = {"content-location": response.url}
    if "content-type" in response.headers:
        response_headers["content-type"] = response.headers["content-type"]
    try:
        doc = feedparser.parse(response.content, response_headers=response_headers)
    except Exception as exc:  # feedparser is lenient, but not everything is caught
        return FetchError(url, f"malformed feed ({type(exc).__name__})")
    problem = doc.get("bozo_exception")
    cut = _truncation(problem)
    if cut:  # the loose parser would salvage the first entries; the rest would be lost
        return FetchError(url, f"malformed feed (truncated XML: {cut})")
    if not doc.get("version") and not doc.entries:
        kind = response.media_type or "unknown type"
        detail = f": {problem}" if problem else ""
        return FetchError(url, f"not an RSS or Atom feed ({kind}{detail})")
    doc["_validators"] = (response.headers.get("etag"), response.headers.get("last-modified"))
    return doc


# What expat says when the document stops before its elements are closed.
TRUNCATION_ERRORS = ("no element found", "unclosed token", "unclosed cdata section",
                     "partial character")  # fmt: skip


def _truncation(problem: object) -> str | None:
    """The XML error when the feed was cut off (a truncated download, a server that died
    mid-response), else None. Other well-formedness slips (an unescaped &, an HTML entity) are
    left to feedparser's lenient parser, as every feed reader does."""
    get_message = getattr(problem, "getMessage", None)
    if get_message is None:  # not an xml.sax.SAXParseException
        return None
    message = str(get_message()).strip()
    return message if message.lower() in TRUNCATION_ERRORS else None


def read_feed_urls(
    feed_urls: Iterable[str],
    settings: Any,
    *,
    duplicates: list[tuple[str, str]] | None = None,
    fetcher: Fetcher | None = None,
) -> Iterator[Article | IngestError]:
    """Every entry of the feeds, with no memory of earlier runs (for `newsdesk index --feed`:
    pages are fetched again, and the indexer skips what is unchanged), except the signatures of
    recent stories: copies of them are left out, and (copy id, original id) pairs are added to
    `duplicates` when the entries have all been read."""
    data_dir = getattr(settings, "data_dir", None)
    state = FeedState.in_memory(data_dir if data_dir and Path(data_dir).is_dir() else None)
    yield from read_feeds(feed_urls, settings, state, fetcher=fetcher)
    if duplicates is not None:
        duplicates.extend(state.duplicates)


def read_feeds(
    feed_urls: Iterable[str],
    settings: Any,
    state: FeedState,
    *,
    fetcher: Fetcher | None = None,
    summary: FeedSummary | None = None,
) -> Iterator[Article | IngestError]:
    """New and changed entries of the feeds as Articles, failures as IngestError(url, reason);
    feeds and pages are fetched concurrently (per-host limit), results come in feed order.
    Records what it saw in `state`; call `state.commit(report)` after indexing them."""
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings)
    summary = summary if summary is not None else FeedSummary()
    requests_before = fetcher.requests
    try:
        yield from _read(list(dict.fromkeys(u.strip() for u in feed_urls)), state, fetcher, summary)
    finally:
        summary.requests += fetcher.requests - requests_before
        if own:
            fetcher.close()


def _read(
    urls: list[str], state: FeedState, fetcher: Fetcher, summary: FeedSummary
) -> Iterator[Article | IngestError]:
    known_links = state.links()
    planned: dict[str, _Job] = {}  # link -> the job fetching it in this run
    jobs: list[_Job] = []
    records: dict[str, dict] = {}
    for url, outcome in zip(urls, fetcher.map(lambda u: _fetch_feed(fetcher, u, state.feed(u)), urls), strict=True):  # fmt: skip
        old = state.feed(url)
        record = {k: v for k, v in old.items() if k != "entries"}
        record["entries"] = dict(old.get("entries", {}))
        record["checked"] = _now()
        if isinstance(outcome, FetchError):
            record.update(status="failed", error=outcome.reason)
            summary.failed.append(url)
            state.stage(url, record)
            yield IngestError(url, outcome.reason)
            continue
        if outcome == "not modified":
            record.update(status="not modified", error=None)
            summary.not_modified.append(url)
            state.stage(url, record)
            continue
        summary.fetched.append(url)
        etag, last_modified = outcome.pop("_validators")
        feed_title = one_line(outcome.feed.get("title") or "") or None
        record.update(status="ok", error=None, title=feed_title, etag=etag)
        record.update(last_modified=last_modified, entries={})
        records[url] = record
        old_entries = old.get("entries", {})
        for entry in outcome.entries:
            link = _entry_link(entry)
            fingerprint = _fingerprint(entry, link)
            key = str(dict.get(entry, "id") or link or fingerprint)
            if key in record["entries"]:
                continue  # the same GUID twice in one feed: the first counts
            before = old_entries.get(key)
            new = {"link": link, "fingerprint": fingerprint}
            if before and before.get("fingerprint") == fingerprint:
                if before.get("status") != "retry":
                    record["entries"][key] = before
                    summary.seen += 1
                    continue
                if before.get("attempts", 0) >= MAX_ATTEMPTS:
                    record["entries"][key] = dict(before, status="failed")
                    summary.seen += 1
                    continue
                new["attempts"] = before.get("attempts", 0)
            if before is None and link and link in known_links:
                new.update(status="indexed", article_id=known_links[link] or None, alias=True)
                record["entries"][key] = new
                summary.seen += 1
                continue
            record["entries"][key] = new
            if link and link in planned:
                planned[link].aliases.append((url, key))
                summary.seen += 1
                continue
            job = _Job(url, key, new, entry, feed_title, before)
            if link:
                planned[link] = job
            jobs.append(job)
            if before is None:
                summary.new += 1
            elif before.get("status") == "retry" and before.get("fingerprint") == fingerprint:
                summary.retried += 1
            else:
                summary.changed += 1

    transient_feeds: set[str] = set()
    copies = CopyFinder(state.texts(), state.near, state.data_dir)
    try:
        yield from _take(fetcher, jobs, records, copies, state, summary, transient_feeds)
    finally:
        copies.close()

    for url, record in records.items():
        if url in transient_feeds:  # poll the whole feed again next time, to retry
            old = state.feeds.get(url, {})
            record["etag"], record["last_modified"] = old.get("etag"), old.get("last_modified")
        state.stage(url, record)


def _take(
    fetcher: Fetcher,
    jobs: list[_Job],
    records: dict[str, dict],
    copies: CopyFinder,
    state: FeedState,
    summary: FeedSummary,
    transient_feeds: set[str],
) -> Iterator[Article | IngestError]:
    """Fetch the jobs' pages; yield the articles that are neither failures nor copies."""
    results = fetcher.map(lambda job: _process(fetcher, job), jobs)
    for job, result in zip(jobs, results, strict=True):
        entry_record = job.record
        if isinstance(result, IngestError):
            attempts = entry_record.get("attempts", 0) + 1
            if getattr(result, "transient", False) and attempts < MAX_ATTEMPTS:
                entry_record.update(status="retry", attempts=attempts, error=result.reason)
                transient_feeds.add(job.feed)
            else:
                entry_record.update(status="failed", attempts=attempts, error=result.reason)
            yield result
        elif result.id in copies.taken:  # another entry of this run named the same canonical URL
            entry_record.update(status="indexed", article_id=result.id, alias=True)
        else:
            update = bool(job.old) and job.old.get("status") == "indexed"
            update = update and job.old.get("article_id") == result.id
            original = None if update else copies.find(result)  # an update replaces its text
            if original is not None:
                twin, similarity = original
                entry_record.update(status="duplicate", article_id=result.id, duplicate_of=twin)
                entry_record.update(similarity=similarity)
                entry_record.pop("attempts", None)
                entry_record.pop("error", None)
                state.duplicates.append((result.id, twin))
                summary.duplicates += 1
            else:
                copies.add(result)
                entry_record.update(status="indexed", article_id=result.id)
                entry_record.update(text_hash=_text_hash(result))
                entry_record.update(published=result.published, _origin=result.origin)
                entry_record.pop("attempts", None)
                entry_record.pop("error", None)
                yield result
        for feed, key in job.aliases:
            alias = records[feed]["entries"][key]
            for name in ("status", "article_id", "attempts", "error", "duplicate_of", "similarity"):
                if name in entry_record:
                    alias[name] = entry_record[name]
            alias["alias"] = True


# --- one update: poll, index, commit -----------------------------------------------------------
@dataclass
class FeedUpdate:
    report: IndexReport
    summary: FeedSummary


def poll_feeds(
    service: Any,
    settings: Any = None,
    *,
    feed_urls: Iterable[str] | None = None,
    fetcher: Fetcher | None = None,
) -> FeedUpdate:
    """Poll the feeds (default: all configured) once, index what is new or changed, then
    save the feed state. The embedding model is not touched when nothing is new."""
    settings = settings or service.settings
    urls = list(feed_urls) if feed_urls is not None else configured_feeds(settings)
    summary = FeedSummary()
    if not urls:
        report = IndexReport()
        report.failed.append(
            IngestError("feeds", "no feeds configured (NEWSDESK_FEEDS or `newsdesk feeds add`)")
        )
        return FeedUpdate(report, summary)
    started = time.perf_counter()
    with FeedState.locked(settings.data_dir) as state:
        items = read_feeds(urls, settings, state, fetcher=fetcher, summary=summary)
        first = next(items, None)  # nothing new: no index run, the model is not even loaded
        report = IndexReport() if first is None else service.index_articles(chain([first], items))
        state.finish(report)
    report.seconds = time.perf_counter() - started
    return FeedUpdate(report, summary)


def update_feeds(service: Any, settings: Any = None) -> IndexReport:
    """Poll every configured feed once and index what is new (for the bot's /update and its
    JobQueue schedule; run it in a thread: it blocks)."""
    return poll_feeds(service, settings).report
