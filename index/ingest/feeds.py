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

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from index.atomic import write_atomic
from index.indexer import IndexReport
from index.ingest.copies import CopyFinder, now_stamp, text_hash
from index.ingest.feed_state import FeedState
from index.ingest.fetch import Fetcher, FetchError, check_url
from index.ingest.files import IngestError, html_problem, make_article
from index.ingest.pages import fetch_article, normalize_url
from index.models import Article
from index.text import normalize, one_line

__all__ = [
    "FeedSummary",
    "FeedUpdate",
    "add_feeds",
    "configured_feeds",
    "load_feed_list",
    "poll_feeds",
    "read_feed_urls",
    "read_feeds",
    "remove_feeds",
    "update_feeds",
]

FEEDS_FILE = "feeds.txt"  # one feed URL a line, managed by `newsdesk feeds add|remove`
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
    the stories indexed: copies of them are left out, and (copy id, original id) pairs are added to
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
        record["checked"] = now_stamp()
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
    copies = CopyFinder(state.texts(), state.data_dir)
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
                entry_record.update(text_hash=text_hash(result))
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
