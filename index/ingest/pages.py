"""News articles from web pages: URLs normalised, pages fetched with `Fetcher`, text, headline,
date and canonical URL extracted with trafilatura (the canonical URL is the article id).
`read_urls(urls, settings)` turns article URLs into Articles, leaving out copies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from index.ingest.copies import CopyFinder
from index.ingest.fetch import (
    HTML_TYPES,
    TRACKING_PARAMS,
    Fetcher,
    FetchError,
    FetchFailure,
    Response,
)
from index.ingest.files import IngestError, html_problem, make_article
from index.models import Article
from index.text import without_title_line


# --- URLs ---------------------------------------------------------------------------------------
def normalize_url(url: str) -> str:
    """A stable form of an article URL: lower-case scheme and host, no default port, no
    fragment, no tracking parameters (utm_*, fbclid, ...)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else (
        f"{host}:{port}"
    )  # fmt: skip
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith(TRACKING_PARAMS)
        ]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    for prefix in ("www.", "m.", "amp.", "mobile."):
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (www./m./amp. and subdomains aside)."""
    ha, hb = _site(urlsplit(a).hostname or ""), _site(urlsplit(b).hostname or "")
    return bool(ha) and (ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha))


def canonical_url(declared: str | None, fetched: str) -> str:
    """The article id: the page's declared canonical URL when it is an http(s) URL on the
    same site as the page (so no page can claim another site's article), else the URL the
    page was fetched from; normalised either way."""
    if declared:
        candidate = urljoin(fetched, declared.strip())
        if urlsplit(candidate).scheme in ("http", "https") and same_site(candidate, fetched):
            return normalize_url(candidate)
    return normalize_url(fetched)


# --- articles from pages -----------------------------------------------------------------------
def is_html(response: Response) -> bool:
    if response.media_type:
        return response.media_type in HTML_TYPES
    head = response.content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def article_from_html(
    content: bytes | str,
    fetched_url: str,
    *,
    charset: str | None = None,
    defaults: dict[str, Any] | None = None,
    origin: str | None = None,
) -> Article | IngestError:
    """Text, headline, date and canonical URL of the article in an HTML page (trafilatura).
    `defaults` (title, published, source) fill what the page lacks; a `published` default
    wins over the page's date (a feed's date is explicit, trafilatura's is found by heuristics)."""
    import trafilatura

    where = fetched_url
    if isinstance(content, bytes) and charset:
        with contextlib.suppress(LookupError):  # an unknown charset: trafilatura will detect it
            content = content.decode(charset, errors="replace")
    problem = html_problem(where, content)  # extraction time grows with the square of this
    if problem is not None:
        return problem
    try:
        tree = trafilatura.load_html(content)
        if tree is None:
            return IngestError(where, "malformed HTML (cannot be parsed)")
        declared = tree.xpath('//head//link[@rel="canonical"]/@href')
        doc = trafilatura.bare_extraction(tree, with_metadata=True, include_comments=False)
    except Exception as exc:  # trafilatura and lxml raise many kinds on broken markup
        return IngestError(where, f"malformed HTML ({type(exc).__name__})")
    if doc is None:
        return IngestError(where, "no article text found in the page")
    record = doc if isinstance(doc, dict) else doc.as_dict()
    defaults = defaults or {}
    url = canonical_url(declared[0] if declared else None, fetched_url)
    title = record.get("title") or defaults.get("title") or ""
    fields = {
        "id": url,
        "url": url,
        "title": title,
        "text": without_title_line(title, record.get("text") or ""),
        "published": defaults.get("published") or record.get("date"),
        "source": defaults.get("source") or record.get("sitename"),
    }
    return make_article(where, fields, origin=origin or fetched_url)


def fetch_article(
    fetcher: Fetcher, url: str, *, defaults: dict[str, Any] | None = None
) -> Article | IngestError:
    """Fetch one article page; problems come back as IngestError(url, reason)."""
    try:
        response = fetcher.get(
            url, headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"}
        )
    except FetchError as exc:
        return FetchFailure(url, exc.reason, exc.transient)
    if not is_html(response):
        kind = response.media_type or "unknown type"
        return IngestError(url, f"not an HTML page ({kind})")
    if not response.content.strip():
        return IngestError(url, "empty page")
    return article_from_html(
        response.content, response.url, charset=response.charset, defaults=defaults, origin=url
    )


def read_urls(
    urls: list[str],
    settings: Any,
    *,
    fetcher: Fetcher | None = None,
    duplicates: list[tuple[str, str]] | None = None,
) -> Iterator[Article | IngestError]:
    """The article at each URL (fetched concurrently, yielded in order). Two URLs whose pages
    name the same canonical URL give one article. A page whose story is a copy (the same or
    near-identical text) of another one of this run, or of a story already indexed in this data
    directory, is left out, and (its id, the original's id) is added to `duplicates`."""

    data_dir = getattr(settings, "data_dir", None)
    copies = CopyFinder({}, Path(data_dir) if data_dir and Path(data_dir).is_dir() else None)
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings)
    try:
        for item in fetcher.map(lambda u: fetch_article(fetcher, u), list(dict.fromkeys(urls))):
            if isinstance(item, Article):
                if item.id in copies.taken:
                    continue
                original = copies.find(item)
                if original is not None:
                    if duplicates is not None:
                        duplicates.append((item.id, original[0]))
                    continue
                copies.add(item)
            yield item
    finally:
        copies.close()
        if own:
            fetcher.close()
