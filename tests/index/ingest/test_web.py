"""Fetching pages: the request forgery guard, politeness, limits, and article extraction."""

from __future__ import annotations

import pytest
from feed_server import FeedServer  # tests/index is on sys.path (pytest rootdir-less import)

from index.ingest import fetch, pages
from index.ingest.fetch import Fetcher, FetchError, FetchPolicy, refused_reason
from index.ingest.files import IngestError
from index.ingest.pages import fetch_article, read_urls
from index.models import Article
from index.settings import Settings

FAST = FetchPolicy(backoff=0.01, read_timeout=1.0, total_timeout=3.0)


def page(title: str, body: str, *, canonical: str | None = None, date: str = "2024-03-05") -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (
        f"<!doctype html><html><head><title>{title} | Test Wire</title>{link}"
        f'<meta property="article:published_time" content="{date}T08:00:00Z">'
        f'<meta property="og:site_name" content="Test Wire"></head><body>'
        f"<nav>Home | World | Business</nav><article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer>Copyright Test Wire</footer></body></html>"
    )


DAM = (
    "Egypt and Ethiopia signed an agreement on Tuesday over the filling of the Grand Ethiopian "
    "Renaissance Dam, ending more than a decade of talks.\nUnder the deal Ethiopia may fill the "
    "reservoir with at most 13 billion cubic metres of water each year, officials said.\n"
    "Sudan, which also depends on the Nile, welcomed the accord and asked for a seat on the "
    "technical committee."
)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def fetcher():
    with Fetcher(policy=FAST, allow_private=True) as f:
        yield f


@pytest.mark.parametrize(
    "address, expected",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("224.0.0.1", "multicast"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_guard_classifies_addresses(address, expected):
    reason = refused_reason(address)
    assert (reason is None) if expected is None else reason.startswith(expected)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_guard_refuses_loopback_by_default_and_sends_nothing(server, host):
    server.route("/a", page("Dam", DAM))
    with Fetcher(Settings(allow_private_urls=False), FAST) as fetcher:
        with pytest.raises(FetchError, match="refused: .*loopback.*NEWSDESK_ALLOW_PRIVATE_URLS"):
            fetcher.get(server.url("/a", host))
        item = fetch_article(fetcher, server.url("/a", host))
    assert isinstance(item, IngestError) and "refused" in item.reason
    assert server.log == []


def test_guard_allows_private_addresses_when_the_setting_says_so(server):
    server.route("/a", page("Dam", DAM))
    with Fetcher(Settings(allow_private_urls=True), FAST) as fetcher:
        assert fetcher.get(server.url("/a")).status == 200


def test_guard_checks_every_redirect_hop(server, monkeypatch):
    # Pretend 127.0.0.1 is public and 127.0.0.2 private: a public page redirecting inwards.
    monkeypatch.setattr(fetch, "refused_reason", lambda a: "private address" if a == "127.0.0.2" else None)  # fmt: skip
    server.route("/go", location=server.url("/secret", "127.0.0.2"))
    server.route("/secret", "internal")
    refused = pytest.raises(FetchError, match="refused: 127.0.0.2 is a private address")
    with Fetcher(policy=FAST, allow_private=False) as fetcher, refused:
        fetcher.get(server.url("/go"))
    assert server.paths() == ["/go"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "http:///nohost",
                                 "http://user:pw@example.org/"])  # fmt: skip
def test_only_plain_http_urls_are_fetched(fetcher, url):
    with pytest.raises(FetchError):
        fetcher.get(url)


def test_user_agent_names_the_project(server, fetcher):
    server.route("/a", page("Dam", DAM))
    fetcher.get(server.url("/a"))
    assert server.log[0].headers["User-Agent"].startswith("Newsdesk/")


def test_5xx_is_retried_with_backoff_then_succeeds(server, fetcher):
    server.route("/flaky", page("Dam", DAM), fail_first=2)
    assert fetcher.get(server.url("/flaky")).status == 200
    assert [r.status for r in server.log] == [500, 500, 200]


def test_5xx_that_persists_is_a_transient_failure(server, fetcher):
    server.route("/down", page("Dam", DAM), fail_first=99)
    item = fetch_article(fetcher, server.url("/down"))
    assert isinstance(item, IngestError) and item.reason == "HTTP 500" and item.transient
    assert len(server.log) == 1 + FAST.retries
    assert str(item) == f"{server.url('/down')}: HTTP 500"


def test_404_is_not_retried(server, fetcher):
    item = fetch_article(fetcher, server.url("/missing"))
    assert item.reason == "HTTP 404" and not item.transient and len(server.log) == 1


def test_timeouts_are_retried_and_reported(server):
    server.route("/slow", page("Dam", DAM), delay=0.6)
    with Fetcher(policy=FetchPolicy(read_timeout=0.2, retries=1, backoff=0.01), allow_private=True) as f:  # fmt: skip
        item = fetch_article(f, server.url("/slow"))
    assert isinstance(item, IngestError) and item.reason == "timed out" and item.transient
    assert len(server.log) == 2


def test_a_slow_loris_response_is_cut_off_at_the_total_deadline(server):
    server.route("/trickle", page("Dam", DAM), trickle=0.05)  # every byte arrives in time...
    policy = FetchPolicy(read_timeout=1.0, total_timeout=0.4, retries=0)
    with Fetcher(policy=policy, allow_private=True) as f:
        item = fetch_article(f, server.url("/trickle"))
    assert isinstance(item, IngestError) and item.reason == "timed out (response too slow)"


@pytest.mark.parametrize("declare", [True, False])
def test_oversized_responses_are_cut_off_and_reported(server, fetcher, declare):
    server.route("/huge", stream_bytes=6 * 2**20, declare_length=declare)
    item = fetch_article(fetcher, server.url("/huge"))
    assert isinstance(item, IngestError) and "too large" in item.reason
    assert not item.transient and len(server.log) == 1


def test_non_html_and_malformed_pages_are_reported(server, fetcher):
    server.route("/report.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    server.route("/empty", "   ")
    server.route("/junk", "<html><body><div></div></body></html>")
    got = {path: fetch_article(fetcher, server.url(path)) for path in ("/report.pdf", "/empty", "/junk")}  # fmt: skip
    assert got["/report.pdf"].reason == "not an HTML page (application/pdf)"
    assert got["/empty"].reason == "empty page"
    assert got["/junk"].reason == "no article text found in the page"


def test_a_page_with_too_many_elements_is_refused_before_extraction(server, fetcher):
    server.route("/bomb", "<html><body>" + "<p>x</p>" * 60_000 + "</body></html>")
    item = fetch_article(fetcher, server.url("/bomb"))
    assert isinstance(item, IngestError) and item.reason.startswith("too many HTML elements")


def test_per_host_concurrency_is_limited(server):
    for i in range(6):
        text = f"The council met for the {i}th time this year and approved the harbour budget."
        server.route(f"/p{i}", page(f"Story {i}", text), delay=0.15)
    policy = FetchPolicy(per_host=2, workers=6)
    with Fetcher(policy=policy, allow_private=True) as f:
        items = list(read_urls([server.url(f"/p{i}") for i in range(6)], None, fetcher=f))
    assert len(items) == 6 and server.max_active == 2


def test_article_text_title_date_and_canonical_url(server, fetcher):
    canonical = server.url("/news/dam-deal")
    server.route("/news/dam-deal", page("Dam deal signed", DAM, canonical="/news/dam-deal"))
    server.route("/amp/dam-deal", page("Dam deal signed", DAM, canonical=canonical))
    server.route("/old", location="/news/dam-deal?utm_source=rss#top")
    urls = [server.url(p) for p in ("/news/dam-deal", "/amp/dam-deal", "/old")]
    items = list(read_urls(urls, None, fetcher=fetcher))
    assert len(items) == 1  # three URLs, one canonical article
    (article,) = items
    assert isinstance(article, Article)
    assert article.id == article.url == canonical
    assert article.title == "Dam deal signed"
    assert article.published == "2024-03-05"
    assert "13 billion cubic metres" in article.text and "Home | World" not in article.text
    assert article.source == "Test Wire"


def test_a_page_cannot_claim_another_sites_canonical_url(server, fetcher):
    server.route("/copy", page("Dam deal signed", DAM, canonical="https://victim.example/story"))
    (article,) = read_urls([server.url("/copy")], None, fetcher=fetcher)
    assert article.id == server.url("/copy")


def test_normalize_url():
    assert pages.normalize_url("HTTP://Example.ORG:80/a?b=1&utm_source=x&fbclid=y#frag") == (
        "http://example.org/a?b=1"
    )
    assert pages.normalize_url("https://example.org") == "https://example.org/"
    assert pages.normalize_url("https://example.org:8443/x") == "https://example.org:8443/x"


ROBOTS = "User-agent: *\nDisallow: /private/\n\nUser-agent: Newsdesk\nDisallow: /members/\n"


def test_robots_txt_is_honoured_read_once_per_site_and_a_refusal_is_one_line(server):
    server.route("/robots.txt", ROBOTS)
    server.route("/members/dam", page("Dam deal signed", DAM))
    server.route("/news/dam", page("Dam deal signed", DAM))
    urls = [server.url("/members/dam"), server.url("/news/dam")]
    with Fetcher(policy=FAST, allow_private=True) as fetcher:
        refused, article = list(read_urls(urls, None, fetcher=fetcher))
    assert isinstance(refused, IngestError)
    assert str(refused) == f"{urls[0]}: disallowed by robots.txt"
    assert isinstance(article, Article) and article.title == "Dam deal signed"
    assert server.paths() == ["/news/dam"]  # the refused page was never requested
    assert [r.path for r in server.robots_log] == ["/robots.txt"]  # once for the site


def test_the_rules_for_every_agent_apply_too_and_can_be_ignored_for_ones_own_sites(server):
    server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    server.route("/private/dam", page("Dam deal signed", DAM))
    url = server.url("/private/dam")
    with (
        Fetcher(policy=FAST, allow_private=True) as polite,
        pytest.raises(FetchError, match="robots"),
    ):
        polite.get(url)
    settings = Settings(respect_robots=False, allow_private_urls=True)
    with Fetcher(settings, policy=FAST) as own_site:
        assert own_site.get(url).status == 200
    assert server.paths() == ["/private/dam"]


@pytest.mark.parametrize("status", [404, 500])
def test_a_site_without_a_readable_robots_txt_is_fetched(server, status):
    server.route("/robots.txt", "nope", status=status)
    server.route("/news/dam", page("Dam deal signed", DAM))
    with Fetcher(policy=FAST, allow_private=True) as fetcher:
        assert fetcher.get(server.url("/news/dam")).status == 200


def test_a_robots_txt_that_forbids_access_refuses_the_whole_site(server):
    server.route("/robots.txt", "members only", status=403)
    server.route("/news/dam", page("Dam deal signed", DAM))
    with Fetcher(policy=FAST, allow_private=True) as fetcher, pytest.raises(FetchError):
        fetcher.get(server.url("/news/dam"))
    assert server.paths() == []
