"""Feeds end to end against a local server: what gets indexed, what is fetched again, and not."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest
from feed_server import FeedServer  # tests/index is on sys.path (pytest rootdir-less import)

from bot.service import Newsdesk
from index.feeds import (
    STATE_FILE,
    FeedState,
    add_feeds,
    configured_feeds,
    poll_feeds,
    read_feeds,
    remove_feeds,
    update_feeds,
)
from index.indexer import IndexReport
from index.settings import Settings
from index.store import Store
from index.web import Fetcher, FetchPolicy

FAST = FetchPolicy(backoff=0.01)


def page(title: str, paragraphs: list[str], *, canonical: str | None = None) -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title>{link}"
        '<meta property="og:site_name" content="Test Wire"></head><body><nav>Home | World</nav>'
        f"<article><h1>{title}</h1>{body}</article><footer>© Test Wire</footer></body></html>"
    )


DAM = [
    "Egypt and Ethiopia signed an agreement on Tuesday over the filling of the Grand Ethiopian "
    "Renaissance Dam, ending more than a decade of difficult talks.",
    "Under the deal Ethiopia may fill the reservoir with at most 13 billion cubic metres of "
    "water each year, officials in Addis Ababa said.",
    "Sudan, which also depends on the Nile, welcomed the accord.",
]
QUAKE = [
    "A magnitude 6.1 earthquake shook the coastal city of Izmir early on Monday, damaging "
    "dozens of old buildings in the harbour district.",
    "Rescue teams pulled four people from the rubble; no deaths were reported by noon.",
]
RATES = (
    "<p>The central bank kept its main interest rate at 4.5 percent on Thursday, the fifth "
    "meeting in a row without a change, saying inflation was falling more slowly than hoped.</p>"
    "<p>Two of the nine policymakers voted for a cut of a quarter point. The bank's governor "
    "said the committee would need to see several more months of easing price growth before "
    "it could lower borrowing costs, and warned that wage settlements remained high.</p>"
    "<p>Markets had expected the decision; the currency barely moved after the announcement.</p>"
)
BUDGET_V1 = ["The finance ministry put this year's budget deficit at 3.9 percent of output."]
BUDGET_V2 = ["In a revised estimate the finance ministry put the deficit at 4.6 percent."]


def rss(server: FeedServer) -> str:
    items = [
        (
            "Egypt and Ethiopia sign Nile dam deal",
            "/news/dam-deal",
            "dam-1",
            "Tue, 05 Mar 2024 09:30:00 GMT",
            "A deal on the dam.",
            "",
        ),  # fmt: skip
        (
            "Central bank holds rates",
            "/news/rates",
            "rates-1",
            "Thu, 07 Mar 2024 12:00:00 GMT",
            "Rates unchanged.",
            RATES,
        ),  # fmt: skip
        (
            "Wildfire season starts early",
            "/news/wildfire",
            "fire-1",
            "Wed, 06 Mar 2024 07:00:00 GMT",
            "Fires in March.",
            "",
        ),  # fmt: skip
        (
            "Annual report",
            "/files/report.pdf",
            "pdf-1",
            "Wed, 06 Mar 2024 08:00:00 GMT",
            "The report.",
            "",
        ),  # fmt: skip
        (
            "A giant page",
            "/news/huge",
            "huge-1",
            "Wed, 06 Mar 2024 09:00:00 GMT",
            "Very long.",
            "",
        ),  # fmt: skip
        (
            "Rail strike ends",
            "/old/rail",
            "rail-1",
            "Wed, 06 Mar 2024 10:00:00 GMT",
            "Trains run.",
            "",
        ),  # fmt: skip
        (
            "Earthquake shakes Izmir",
            "/wire/quake",
            "quake-1",
            "Mon, 04 Mar 2024 06:00:00 GMT",
            "A quake.",
            "",
        ),  # fmt: skip
    ]
    xml = "".join(
        f"<item><title>{t}</title><link>{server.url(p)}</link>"
        f'<guid isPermaLink="false">{g}</guid><pubDate>{d}</pubDate>'
        f"<description>{s}</description>"
        + (f"<content:encoded><![CDATA[{c}]]></content:encoded>" if c else "")
        + "</item>"
        for t, p, g, d, s, c in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Test Wire</title><link>{server.url('/')}</link><description>News</description>"
        f"{xml}</channel></rss>"
    )


def atom(server: FeedServer, budget_updated: str) -> str:
    entries = [
        (
            "Quake hits Izmir harbour district",
            "/partner/quake",
            "tag:partner,2024:q",
            "2024-03-04T07:00:00Z",
        ),  # fmt: skip
        ("Nile dam deal (AMP)", "/amp/dam-deal", "tag:partner,2024:d", "2024-03-05T10:00:00Z"),
        ("Budget deficit estimate", "/news/budget", "tag:partner,2024:b", budget_updated),
    ]
    xml = "".join(
        f'<entry><title>{t}</title><id>{i}</id><link rel="alternate" href="{server.url(p)}"/>'
        f"<published>2024-03-05T08:00:00Z</published><updated>{u}</updated>"
        f"<summary>Short summary.</summary></entry>"
        for t, p, i, u in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Partner Daily</title><id>urn:partner</id><updated>{budget_updated}</updated>"
        f"{xml}</feed>"
    )


def rdf(server: FeedServer) -> str:
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="{server.url("/")}"><title>Old Style News</title>'
        f"<link>{server.url('/')}</link><description>RSS 1.0</description></channel>"
        f'<item rdf:about="{server.url("/news/vaccine")}"><title>Vaccine approved</title>'
        f"<link>{server.url('/news/vaccine')}</link><description>A summary.</description>"
        "<dc:date>2024-03-01T10:00:00Z</dc:date></item></rdf:RDF>"
    )


def serve_world(server: FeedServer) -> dict[str, str]:
    s = server
    s.route("/rss.xml", rss(s), content_type="application/rss+xml", etag='"rss-v1"')
    s.route("/atom.xml", atom(s, "2024-03-05T10:00:00Z"), content_type="application/atom+xml",
            last_modified="Tue, 05 Mar 2024 12:00:00 GMT")  # fmt: skip
    s.route("/rdf.xml", rdf(s), content_type="application/rdf+xml")  # no validators at all
    s.route("/news/dam-deal", page("Egypt and Ethiopia sign Nile dam deal", DAM))
    s.route("/amp/dam-deal", page("Nile dam deal", DAM, canonical=s.url("/news/dam-deal")))
    s.route("/news/wildfire", page("Wildfire season starts early", ["Firefighters in Valencia battled three wildfires in early March, weeks before the usual season."]), fail_first=1)  # fmt: skip
    s.route("/files/report.pdf", b"%PDF-1.4 ...", content_type="application/pdf")
    s.route("/news/huge", stream_bytes=6 * 2**20, declare_length=False)
    s.route("/old/rail", location="/news/rail")
    s.route("/news/rail", page("Rail strike ends", ["Train drivers ended their nine-day strike after accepting a 7 percent pay rise over two years."], canonical="/news/rail"))  # fmt: skip
    s.route("/wire/quake", page("Earthquake shakes Izmir", QUAKE))
    s.route("/partner/quake", page("Quake hits Izmir harbour district", QUAKE))
    s.route("/news/budget", page("Budget deficit estimate", BUDGET_V1))
    s.route("/news/vaccine", page("Vaccine approved", ["Regulators approved a new malaria vaccine for children under five on Friday."]))  # fmt: skip
    return {name: s.url(path) for name, path in [
        ("dam", "/news/dam-deal"), ("rates", "/news/rates"), ("fire", "/news/wildfire"),
        ("pdf", "/files/report.pdf"), ("huge", "/news/huge"), ("rail", "/news/rail"),
        ("quake", "/wire/quake"), ("partner", "/partner/quake"), ("budget", "/news/budget"),
        ("vaccine", "/news/vaccine"), ("rss", "/rss.xml"), ("atom", "/atom.xml"),
        ("rdf", "/rdf.xml"),
    ]}  # fmt: skip


def stored(settings: Settings) -> dict[str, object]:
    store = Store(settings.data_dir)
    try:
        return {i: store.article(i) for i in store.hashes()}
    finally:
        store.close()


def test_update_indexes_feeds_then_fetches_nothing_new_then_only_the_updated_entry(
    tmp_path, embedder
):
    with FeedServer() as server:
        u = serve_world(server)
        settings = Settings(
            data_dir=tmp_path / "data", allow_private_urls=True, answerer="heuristic",
            feeds=(u["rss"], u["atom"], u["rdf"]),
        )  # fmt: skip
        service = Newsdesk(settings, embedder=embedder)

        # 1. First update: everything new is fetched and indexed; failures are one line each.
        first = update_feeds(service, settings)
        log1 = server.lines()
        articles = stored(settings)
        assert set(articles) == {u[k] for k in ("dam", "rates", "fire", "rail", "quake", "budget", "vaccine")}  # fmt: skip
        assert (first.added, first.updated) == (7, 0)
        assert sorted(map(str, first.failed)) == sorted([
            f"{u['pdf']}: not an HTML page (application/pdf)",
            f"{u['huge']}: response too large (over 5.0 MB)",
        ])  # fmt: skip
        assert first.duplicates == [(u["partner"], u["quake"])]  # syndicated copy: stored once
        paths = server.paths()
        assert "/news/rates" not in paths  # the feed carried the whole article
        assert paths.count("/news/wildfire") == 2  # 500, then retried
        assert paths.count("/amp/dam-deal") == 1 and paths.count("/news/dam-deal") == 1
        assert {"/old/rail", "/news/rail"} <= set(paths)
        assert articles[u["dam"]].published == "2024-03-05T09:30:00Z"  # the feed's date
        assert articles[u["dam"]].source == "Test Wire"
        assert articles[u["vaccine"]].published == "2024-03-01T10:00:00Z"  # RSS 1.0 dc:date
        assert articles[u["rates"]].text.startswith("The central bank kept its main interest")
        assert len(paths) == 15  # 3 feeds, 11 pages, 1 retry

        # 2. Second update: conditional requests; the feed without validators is re-read, but
        # none of its entries is fetched again; nothing is indexed and nothing fails.
        server.clear()
        second = poll_feeds(service, settings)
        log2 = server.lines()
        assert sorted(log2) == sorted([
            "GET /rss.xml -> 304  (If-None-Match)",
            "GET /atom.xml -> 304  (If-Modified-Since)",
            "GET /rdf.xml -> 200",
        ])  # fmt: skip
        assert second.report.ok and (second.report.added, second.report.updated) == (0, 0)
        assert (second.summary.new, second.summary.changed, second.summary.seen) == (0, 0, 1)

        # 3. An entry is updated: only its page is fetched, and its new text replaces the old.
        server.routes["/atom.xml"].body = atom(server, "2024-03-06T08:00:00Z").encode()
        server.routes["/atom.xml"].last_modified = "Wed, 06 Mar 2024 08:00:00 GMT"
        server.routes["/news/budget"].body = page("Budget deficit estimate", BUDGET_V2).encode()
        server.clear()
        third = update_feeds(service, settings)
        log3 = server.lines()
        assert sorted(log3) == sorted([
            "GET /rss.xml -> 304  (If-None-Match)",
            "GET /atom.xml -> 200  (If-Modified-Since)",
            "GET /news/budget -> 200",
            "GET /rdf.xml -> 200",
        ])  # fmt: skip
        assert (third.added, third.updated, third.unchanged, len(third.failed)) == (0, 1, 0, 0)
        assert "4.6 percent" in stored(settings)[u["budget"]].text

        # 4. A question about a feed article comes back with the article's URL and date.
        answer = service.ask("How much water may Ethiopia put into the reservoir each year?")
        top = answer.sources[0]
        assert (top.url, top.article_id) == (u["dam"], u["dam"])
        assert top.published == "2024-03-05T09:30:00Z" and "13 billion" in top.text
        quake = service.ask("Where did the magnitude 6.1 earthquake hit?")
        assert [h.url for h in quake.sources].count(u["quake"]) >= 1
        assert u["partner"] not in [h.url for h in quake.sources]

    for name, log in (("first update", log1), ("second update", log2), ("entry updated", log3)):
        print(f"# {name}", *log, sep="\n")  # shown with pytest -s


class CountingService:
    """Stands in for Newsdesk where only the feed layer is under test: no model, no index."""

    def __init__(self, settings: Settings, fail_after: int | None = None) -> None:
        self.settings, self.fail_after, self.taken = settings, fail_after, []

    def index_articles(self, items, **_):
        report = IndexReport()
        for item in items:
            if self.fail_after is not None and len(self.taken) >= self.fail_after:
                raise RuntimeError("simulated crash in the middle of indexing")
            self.taken.append(item)
            if hasattr(item, "reason"):
                report.failed.append(item)
            else:
                report.added += 1
        return report


def big_feed(server: FeedServer, n: int, prefix: str = "/s") -> str:
    body = "<p>" + "Paragraph of reporting about event {i} with details and quotes. " * 12 + "</p>"
    items = "".join(
        f"<item><title>Story {i}</title><link>{server.url(f'{prefix}/{i}')}</link><guid>{prefix}{i}</guid>"
        f"<pubDate>{formatdate(1709600000 + 60 * i, usegmt=True)}</pubDate>"
        f"<description><![CDATA[{body.format(i=prefix + str(i))}]]></description></item>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        f"<link>{server.url('/')}</link><description>d</description>{items}</channel></rss>"
    )


def test_an_update_with_nothing_new_for_100_entries_is_quick(tmp_path, capsys):
    with FeedServer() as server:
        server.route("/big.xml", big_feed(server, 100), content_type="application/rss+xml", etag='"v1"')  # fmt: skip
        server.route(
            "/big-plain.xml", big_feed(server, 100, "/p"), content_type="application/rss+xml"
        )
        feeds = (server.url("/big.xml"), server.url("/big-plain.xml"))
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        for feed in feeds:
            service = CountingService(settings)
            first = poll_feeds(service, settings, feed_urls=[feed])
            assert first.report.added == 100 and first.summary.new == 100
        timings = {}
        for feed in feeds:
            server.clear()
            started = time.perf_counter()
            again = poll_feeds(CountingService(settings), settings, feed_urls=[feed])
            timings[feed] = time.perf_counter() - started
            assert again.report.ok and again.report.added == 0 and again.summary.new == 0
            assert len(server.log) == 1  # the feed itself, nothing else
        assert server.log[0].status == 200 and timings[feeds[1]] < 5
        with capsys.disabled():
            print(f"\nnothing new, 100 entries: 304 in {timings[feeds[0]] * 1000:.0f} ms; "
                  f"200 without validators in {timings[feeds[1]] * 1000:.0f} ms")  # fmt: skip


def test_state_is_committed_only_after_indexing_so_a_crash_loses_nothing(tmp_path):
    with FeedServer() as server:
        server.route("/big.xml", big_feed(server, 5), content_type="application/rss+xml", etag='"v1"')  # fmt: skip
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        with pytest.raises(RuntimeError, match="simulated crash"):
            poll_feeds(CountingService(settings, fail_after=2), settings, feed_urls=[server.url("/big.xml")])  # fmt: skip
        assert not (settings.data_dir / STATE_FILE).exists()
        server.clear()
        again = poll_feeds(CountingService(settings), settings, feed_urls=[server.url("/big.xml")])
        assert again.report.added == 5
        assert server.lines() == ["GET /big.xml -> 200"]  # no stale ETag was saved: full read
        state = json.loads((settings.data_dir / STATE_FILE).read_text())
        record = state["feeds"][server.url("/big.xml")]
        assert record["etag"] == '"v1"' and len(record["entries"]) == 5


def test_transient_failures_are_retried_on_the_next_update(tmp_path):
    with FeedServer() as server:
        feed = server.url("/rss.xml")
        server.route("/rss.xml", f'<rss version="2.0"><channel><title>T</title><item><title>Down</title><link>{server.url("/down")}</link><guid>d</guid></item></channel></rss>', content_type="application/rss+xml", etag='"e"')  # fmt: skip
        server.route("/down", page("Back up", ["The page works again after an outage."]), fail_first=3)  # fmt: skip
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        with Fetcher(settings, FAST) as fetcher:
            first = poll_feeds(CountingService(settings), settings, feed_urls=[feed], fetcher=fetcher)  # fmt: skip
            assert [str(e) for e in first.report.failed] == [f"{server.url('/down')}: HTTP 500"]
            server.clear()
            second = poll_feeds(CountingService(settings), settings, feed_urls=[feed], fetcher=fetcher)  # fmt: skip
            assert second.report.added == 1 and second.summary.retried == 1
            # the feed was read in full again (its ETag was held back), then the page retried
            assert server.lines() == ["GET /rss.xml -> 200", "GET /down -> 200"]
            server.clear()
            third = poll_feeds(CountingService(settings), settings, feed_urls=[feed], fetcher=fetcher)  # fmt: skip
            assert third.report.added == 0 and server.lines() == ["GET /rss.xml -> 304  (If-None-Match)"]  # fmt: skip


def test_permanent_failures_are_reported_once_then_left_alone(tmp_path):
    with FeedServer() as server:
        feed = server.url("/rss.xml")
        server.route("/rss.xml", f'<rss version="2.0"><channel><title>T</title><item><title>PDF</title><link>{server.url("/x.pdf")}</link></item></channel></rss>', content_type="application/rss+xml")  # fmt: skip
        server.route("/x.pdf", b"%PDF", content_type="application/pdf")
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        first = poll_feeds(CountingService(settings), settings, feed_urls=[feed])
        assert [e.reason for e in first.report.failed] == ["not an HTML page (application/pdf)"]
        server.clear()
        second = poll_feeds(CountingService(settings), settings, feed_urls=[feed])
        assert second.report.ok and server.paths() == ["/rss.xml"]


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        (
            "<html><body><p>Not a feed</p></body></html>",
            "text/html",
            "not an RSS or Atom feed (text/html",
        ),  # fmt: skip
        ("\x00\x01 garbage", "application/xml", "not an RSS or Atom feed (application/xml: "),
        ("", "application/rss+xml", "empty response (not a feed)"),
    ],
)
def test_malformed_feeds_are_reported(tmp_path, body, content_type, reason):
    with FeedServer() as server:
        server.route("/feed", body, content_type=content_type)
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        report = poll_feeds(CountingService(settings), settings, feed_urls=[server.url("/feed")]).report  # fmt: skip
        (error,) = report.failed
        assert error.location == server.url("/feed") and error.reason.startswith(reason)


def test_a_billion_laughs_feed_is_not_expanded(tmp_path):
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(2, 10)
    )  # lol9 would expand to 10^8 copies of "lol"
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol1 "lol">{entities}]>'
        '<rss version="2.0"><channel><title>&lol9;</title><item><title>Bomb &lol9;</title>'
        "<link>http://127.0.0.1/x</link><description>&lol9; &lol9;</description></item>"
        "</channel></rss>"
    )
    with FeedServer() as server:
        server.route("/bomb.xml", body, content_type="application/rss+xml")
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        service = CountingService(settings)
        poll_feeds(service, settings, feed_urls=[server.url("/bomb.xml")])
    for item in service.taken:
        text = getattr(item, "text", "") + getattr(item, "title", "") + getattr(item, "reason", "")
        assert text.count("lol") < 100  # entities stay unexpanded (or the entry is refused)


def test_feeds_are_refused_on_loopback_without_the_setting(tmp_path):
    with FeedServer() as server:
        server.route("/rss.xml", "<rss/>", content_type="application/rss+xml")
        settings = Settings(data_dir=tmp_path / "d")  # allow_private_urls defaults to False
        state = FeedState.in_memory()
        (error,) = list(read_feeds([server.url("/rss.xml")], settings, state))
        assert "refused: 127.0.0.1 is a loopback address" in error.reason
        assert server.log == []


def test_feeds_file_and_settings(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", feeds=("https://a.example/rss",))
    assert add_feeds(settings.data_dir, ["https://b.example/atom", "https://a.example/rss"]) == [
        "https://b.example/atom",
        "https://a.example/rss",
    ]
    assert add_feeds(settings.data_dir, ["https://b.example/atom"]) == []
    assert configured_feeds(settings) == ["https://a.example/rss", "https://b.example/atom"]
    with pytest.raises(ValueError, match="only http"):
        add_feeds(settings.data_dir, ["file:///etc/passwd"])
    assert remove_feeds(settings.data_dir, ["https://a.example/rss", "https://x.example/"]) == [
        "https://a.example/rss"
    ]
    assert configured_feeds(settings) == ["https://a.example/rss", "https://b.example/atom"]


def test_cli_feeds_and_update(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    with FeedServer() as server:
        server.route("/rss.xml", "<rss version='2.0'><channel><title>T</title></channel></rss>",
                     content_type="application/rss+xml", etag='"x"')  # fmt: skip
        monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "d"))
        monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_URLS", "1")
        monkeypatch.delenv("NEWSDESK_FEEDS", raising=False)
        assert main(["update"]) == 1  # no feeds yet
        assert "no feeds configured" in capsys.readouterr().out
        assert main(["feeds", "add", server.url("/rss.xml"), server.url("/gone.xml")]) == 0
        assert main(["feeds", "list"]) == 0
        assert "never polled" in capsys.readouterr().out
        assert main(["update"]) == 1  # one feed is a 404
        out = capsys.readouterr().out
        assert f"  failed: {server.url('/gone.xml')}: HTTP 404" in out
        assert "2 feeds: 1 read, 0 not modified, 1 failed" in out
        assert main(["feeds", "remove", server.url("/gone.xml")]) == 0
        capsys.readouterr()
        assert main(["update", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["feeds"]["not_modified"] == [server.url("/rss.xml")]
        assert summary["added"] == 0 and summary["failed"] == []
        assert main(["feeds", "list", "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["status"] == "not modified" and row["title"] == "T"
