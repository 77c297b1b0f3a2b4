"""Feeds end to end against a local server: what gets indexed, what is fetched again, and not."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest
from feed_server import (  # tests/index is on sys.path (pytest rootdir-less import)
    FeedServer,
    article_page,
)

from bot.answering.service import Newsdesk
from index.indexer import IndexReport
from index.ingest.feed_state import STATE_FILE, FeedState
from index.ingest.feeds import (
    add_feeds,
    configured_feeds,
    poll_feeds,
    read_feeds,
    remove_feeds,
    update_feeds,
)
from index.ingest.fetch import Fetcher, FetchPolicy
from index.settings import Settings
from index.store.database import Store

FAST = FetchPolicy(backoff=0.01)


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
    s.route("/news/dam-deal", article_page("Egypt and Ethiopia sign Nile dam deal", DAM))
    s.route("/amp/dam-deal", article_page("Nile dam deal", DAM, canonical=s.url("/news/dam-deal")))
    s.route("/news/wildfire", article_page("Wildfire season starts early", ["Firefighters in Valencia battled three wildfires in early March, weeks before the usual season."]), fail_first=1)  # fmt: skip
    s.route("/files/report.pdf", b"%PDF-1.4 ...", content_type="application/pdf")
    s.route("/news/huge", stream_bytes=6 * 2**20, declare_length=False)
    s.route("/old/rail", location="/news/rail")
    s.route("/news/rail", article_page("Rail strike ends", ["Train drivers ended their nine-day strike after accepting a 7 percent pay rise over two years."], canonical="/news/rail"))  # fmt: skip
    s.route("/wire/quake", article_page("Earthquake shakes Izmir", QUAKE))
    s.route("/partner/quake", article_page("Quake hits Izmir harbour district", QUAKE))
    s.route("/news/budget", article_page("Budget deficit estimate", BUDGET_V1))
    s.route("/news/vaccine", article_page("Vaccine approved", ["Regulators approved a new malaria vaccine for children under five on Friday."]))  # fmt: skip
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


def signed(settings: Settings) -> set[str]:
    """Ids of the stored articles whose near-duplicate signature is remembered."""
    from index.ingest.copies import signed_ids

    store = Store(settings.data_dir, readonly=True)
    try:
        return signed_ids(store)
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
        server.routes["/news/budget"].body = article_page(
            "Budget deficit estimate", BUDGET_V2
        ).encode()
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
        server.route("/down", article_page("Back up", ["The page works again after an outage."]), fail_first=3)  # fmt: skip
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
    from bot.cli.main import main

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


# --- RSS 0.91 / 0.92 ---------------------------------------------------------------------------
def rss_091(server: FeedServer) -> str:
    """Netscape's RSS 0.91: a DOCTYPE, no GUIDs, no dates on items."""
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
        '<rss version="0.91"><channel><title>Harbour Gazette</title>'
        f"<link>{server.url('/')}</link><description>Local news</description>"
        "<language>en-gb</language>"
        f"<item><title>Ferry service resumes</title><link>{server.url('/g/ferry')}</link>"
        "<description>Ferries run again.</description></item>"
        f"<item><title>Lighthouse restored</title><link>{server.url('/g/lighthouse')}</link>"
        "<description>The old lighthouse.</description></item>"
        "</channel></rss>"
    )


def rss_092(server: FeedServer) -> str:
    """RSS 0.92: entity-escaped HTML in descriptions (one carries the whole story), an
    enclosure, no GUIDs."""
    full = (
        "&lt;p&gt;The harbour authority approved a plan on Monday to deepen the main shipping "
        "channel by two metres, so that the largest container ships can dock at any tide.&lt;/p&gt;"
        "&lt;p&gt;Dredging will start in the spring and last about eighteen months, the authority "
        "said, at a cost of 140 million euros shared between the port and the regional "
        "government. Fishermen have asked for a study of the effect on the oyster beds north of "
        "the channel before any work starts.&lt;/p&gt;&lt;p&gt;The plan was approved by eleven "
        "votes to two; the two members who voted against it said the cost to the regional "
        "budget had not been explained.&lt;/p&gt;"
    )
    return (
        '<?xml version="1.0"?><rss version="0.92"><channel><title>Port Weekly</title>'
        f"<link>{server.url('/')}</link><description>Port news</description>"
        f"<item><title>Channel to be deepened</title><link>{server.url('/w/channel')}</link>"
        f"<description>{full}</description>"
        f'<enclosure url="{server.url("/w/channel.mp3")}" length="1000" type="audio/mpeg"/></item>'
        f"<item><title>Crane operators strike</title><link>{server.url('/w/cranes')}</link>"
        "<description>&lt;b&gt;Cranes idle&lt;/b&gt; at the port.</description></item>"
        "</channel></rss>"
    )


def test_rss_091_and_092_feeds_are_indexed(tmp_path, embedder):
    with FeedServer() as server:
        server.route("/091.xml", rss_091(server).encode("latin-1"), content_type="text/xml")
        server.route("/092.xml", rss_092(server), content_type="application/rss+xml")
        server.route("/g/ferry", article_page("Ferry service resumes", ["The ferry to the islands ran again on Saturday after a month of repairs to the pier."]))  # fmt: skip
        server.route("/g/lighthouse", article_page("Lighthouse restored", ["Volunteers finished restoring the 1850 lighthouse, which opens to visitors in June."]))  # fmt: skip
        server.route("/w/cranes", article_page("Crane operators strike", ["Crane operators at the container terminal began a 48-hour strike over shift patterns."]))  # fmt: skip
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True, answerer="heuristic")
        service = Newsdesk(settings, embedder=embedder)
        update = poll_feeds(service, settings, feed_urls=[server.url("/091.xml"), server.url("/092.xml")])  # fmt: skip
        assert update.report.ok and update.report.added == 4, update.report.failed
        assert update.summary.fetched == [server.url("/091.xml"), server.url("/092.xml")]
        articles = stored(settings)
        assert set(articles) == {server.url(p) for p in ("/g/ferry", "/g/lighthouse", "/w/channel", "/w/cranes")}  # fmt: skip
        ferry = articles[server.url("/g/ferry")]
        assert ferry.source == "Harbour Gazette" and "month of repairs" in ferry.text
        channel = articles[server.url("/w/channel")]  # the 0.92 description was the article
        assert channel.title == "Channel to be deepened" and channel.source == "Port Weekly"
        assert "140 million euros" in channel.text and "&lt;" not in channel.text
        assert "/w/channel" not in server.paths() and "/w/channel.mp3" not in server.paths()
        # entries without GUIDs are keyed by link: the next poll fetches no page again
        server.clear()
        again = poll_feeds(service, settings, feed_urls=[server.url("/091.xml"), server.url("/092.xml")])  # fmt: skip
        assert again.summary.seen == 4 and sorted(server.paths()) == ["/091.xml", "/092.xml"]
        answer = service.ask("How much will deepening the shipping channel cost?")
        assert answer.sources[0].article_id == server.url("/w/channel")


# --- syndicated near-duplicates ----------------------------------------------------------------
PORT = [
    "Dockworkers at the port of Rotterdam walked out on Tuesday in a dispute over automation, "
    "leaving more than forty container ships waiting at anchor in the North Sea.",
    "The union said the terminal operators had broken a promise not to replace crane drivers "
    "with remote-controlled cranes before 2030, and that the strike would last until the plan "
    "was withdrawn.",
    "Europe's largest port handles about 14 million containers a year. Shipping lines said they "
    "would divert vessels to Antwerp and Hamburg if the stoppage went on past the weekend.",
]
PORT_TALKS = [  # the same dispute, another story: talks, not the walkout
    "Talks between the Rotterdam terminal operators and the dockworkers' union broke down on "
    "Thursday after the operators refused to put their automation plan on hold.",
    "A mediator appointed by the Dutch labour ministry will meet both sides next week. The "
    "union's leader said members were ready for a longer fight, while the operators warned that "
    "the port risked losing business to its rivals for good.",
    "The walkout, now in its third day, has stranded containers of fruit and medicine, importers "
    "said.",
]


def copy_with_byline_and_credits(paragraphs: list[str]) -> list[str]:
    return ["By Maria Jansen", *paragraphs, "Reporting by Maria Jansen; Editing by Tom Hogue"]


def one_word_changed(paragraphs: list[str]) -> list[str]:
    return [paragraphs[0].replace("walked out", "went on strike", 1), *paragraphs[1:]]


def test_signatures_see_copies_and_tell_stories_apart():
    from index.ingest.copies import NEAR_DUPLICATE, signature

    def similarity(a: list[str], b: list[str]) -> float:
        return signature("\n".join(a)).jaccard(signature("\n".join(b)))

    assert similarity(PORT, PORT) == 1.0
    assert similarity(PORT, copy_with_byline_and_credits(PORT)) == 1.0  # credits are ignored
    assert NEAR_DUPLICATE <= similarity(PORT, one_word_changed(PORT)) < 1.0
    dateline = ["ROTTERDAM, March 5 (Reuters) - " + PORT[0], *PORT[1:]]
    assert similarity(PORT, dateline) == 1.0
    assert similarity(PORT, PORT_TALKS) < 0.2  # the same dispute, another story
    assert similarity(PORT, PORT[:2]) < NEAR_DUPLICATE  # a third of it missing: not a copy
    assert signature("Too short to compare: a single line.") is None


def port_feeds(server: FeedServer, atom_paths: list[str]) -> None:
    items = "".join(
        f"<item><title>{t}</title><link>{server.url(p)}</link><guid>{p}</guid>"
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><description>Short.</description></item>"
        for t, p in [
            ("Rotterdam dockworkers strike", "/wire/port"),
            ("Port talks fail", "/wire/port-talks"),
        ]  # fmt: skip
    )
    server.route("/wire.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
                 f"<link>{server.url('/')}</link><description>d</description>{items}</channel></rss>",
                 content_type="application/rss+xml")  # fmt: skip
    entries = "".join(
        f"<entry><title>Partner copy {p}</title><id>tag:partner,{p}</id>"
        f'<link rel="alternate" href="{server.url(p)}"/><updated>2024-03-05T10:00:00Z</updated>'
        "<summary>Short.</summary></entry>"
        for p in atom_paths
    )
    server.route("/partner.xml", '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                 f"<title>Partner</title><id>urn:p</id><updated>2024-03-05T10:00:00Z</updated>"
                 f"{entries}</feed>", content_type="application/atom+xml")  # fmt: skip


def test_syndicated_near_copies_are_stored_once_and_grouped_under_the_first_url(
    tmp_path, embedder, monkeypatch, capsys
):
    with FeedServer() as server:
        server.route("/wire/port", article_page("Rotterdam dockworkers strike", PORT))
        server.route("/wire/port-talks", article_page("Port talks fail", PORT_TALKS))
        server.route("/partner/port", article_page("Strike paralyses Rotterdam", copy_with_byline_and_credits(PORT)))  # fmt: skip
        server.route("/mirror/port", article_page("Rotterdam port at a standstill", one_word_changed(PORT)))  # fmt: skip
        server.route("/late/port", article_page("Rotterdam strike (update)", copy_with_byline_and_credits(one_word_changed(PORT))))  # fmt: skip
        port_feeds(server, ["/partner/port"])
        feeds = [server.url("/wire.xml"), server.url("/partner.xml")]
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True, answerer="heuristic")
        service = Newsdesk(settings, embedder=embedder)
        u = {p: server.url(p) for p in ("/wire/port", "/wire/port-talks", "/partner/port", "/mirror/port", "/late/port")}  # fmt: skip

        # 1. The original, another story on the same dispute, and a copy with a byline and
        # credits: the two stories are indexed, the copy is grouped under the first URL.
        first = poll_feeds(service, settings, feed_urls=feeds)
        assert first.report.ok and first.report.added == 2
        assert set(stored(settings)) == {u["/wire/port"], u["/wire/port-talks"]}
        assert first.report.duplicates == [(u["/partner/port"], u["/wire/port"])]
        assert first.summary.duplicates == 1
        assert first.summary.line().endswith(
            "0 already seen, 1 copy of stories already indexed; 6 HTTP requests"  # robots.txt once, 2 feeds, 3 pages
        )
        state = json.loads((settings.data_dir / STATE_FILE).read_text())
        (copy,) = state["feeds"][feeds[1]]["entries"].values()
        assert (copy["status"], copy["duplicate_of"]) == ("duplicate", u["/wire/port"])
        assert copy["similarity"] >= 0.8
        assert "near" not in state  # the signatures live in the index, beside their articles
        assert signed(settings) == {u["/wire/port"], u["/wire/port-talks"]}
        from bot.cli.main import main

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("NEWSDESK_FEEDS", ",".join(feeds))
        assert main(["feeds", "list", "--json", "--data-dir", str(settings.data_dir)]) == 0
        rows = {row["url"]: row for row in json.loads(capsys.readouterr().out)}
        assert (rows[feeds[1]]["indexed"], rows[feeds[1]]["duplicates"]) == (0, 1)
        assert main(["feeds", "list", "--data-dir", str(settings.data_dir)]) == 0
        assert "1 entries (0 indexed, 1 copies of other stories)" in capsys.readouterr().out

        # 2. Search shows the story once; the other story is there too.
        hits = service.searcher.search("Why did the dockworkers in Rotterdam strike?", k=10)
        walkout = [h for h in hits if "forty container ships" in h.text]
        assert [h.article_id for h in walkout] == [u["/wire/port"]]
        assert u["/wire/port-talks"] in {h.article_id for h in hits}
        assert u["/partner/port"] not in {h.article_id for h in hits}

        # 3. A later poll brings a copy with one word changed: the saved signatures find it.
        port_feeds(server, ["/partner/port", "/mirror/port"])
        server.clear()
        second = poll_feeds(service, settings, feed_urls=feeds)
        assert second.report.ok and (second.report.added, second.report.updated) == (0, 0)
        assert second.report.duplicates == [(u["/mirror/port"], u["/wire/port"])]
        assert "/mirror/port" in server.paths() and "/partner/port" not in server.paths()
        server.clear()
        third = poll_feeds(service, settings, feed_urls=feeds)  # and it is not fetched again
        assert third.report.duplicates == [] and third.summary.seen == 4
        assert sorted(server.paths()) == ["/partner.xml", "/wire.xml"]

        # 4. Once the original is removed from the index, a new copy is no longer grouped.
        assert service.remove([u["/wire/port"]]) == 1
        port_feeds(server, ["/partner/port", "/mirror/port", "/late/port"])
        fourth = poll_feeds(service, settings, feed_urls=feeds)
        assert fourth.report.added == 1 and fourth.report.duplicates == []
        assert set(stored(settings)) == {u["/late/port"], u["/wire/port-talks"]}


def test_index_urls_and_feeds_leave_out_copies_and_say_so(tmp_path, embedder):
    from index.ingest.feeds import read_feed_urls
    from index.ingest.pages import read_urls

    with FeedServer() as server:
        server.route("/wire/port", article_page("Rotterdam dockworkers strike", PORT))
        server.route("/wire/port-talks", article_page("Port talks fail", PORT_TALKS))
        server.route("/partner/port", article_page("Strike paralyses Rotterdam", copy_with_byline_and_credits(PORT)))  # fmt: skip
        server.route("/mirror/port", article_page("Rotterdam port at a standstill", one_word_changed(PORT)))  # fmt: skip
        port_feeds(server, ["/partner/port"])
        settings = Settings(data_dir=tmp_path / "d", allow_private_urls=True)
        service = Newsdesk(settings, embedder=embedder)
        duplicates: list = []
        urls = [server.url(p) for p in ("/wire/port", "/mirror/port", "/wire/port-talks")]
        report = service.index_articles(read_urls(urls, settings, duplicates=duplicates))
        assert report.ok and report.added == 2
        assert duplicates == [(urls[1], urls[0])]
        # `index --feed`: no memory of entries, but copies of what is indexed are left out
        poll = poll_feeds(
            service, settings, feed_urls=[server.url("/wire.xml")]
        )  # saves signatures
        assert poll.report.unchanged == 2
        duplicates = []
        report = service.index_articles(read_feed_urls([server.url("/partner.xml")], settings, duplicates=duplicates))  # fmt: skip
        assert report.ok and (report.added, report.unchanged) == (0, 0)
        assert duplicates == [(server.url("/partner/port"), urls[0])]
        assert set(stored(settings)) == {urls[0], urls[2]}


# --- hostile feeds against a real index --------------------------------------------------------
def small_rss(server: FeedServer, title: str, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Story {p}</title><link>{server.url(p)}</link><guid>{p}</guid>"
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><description>Short.</description></item>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>{server.url('/')}</link><description>d</description>"
        f"{items}</channel></rss>"
    )


def index_state(service: Newsdesk) -> dict:
    stats = service.stats(verify=True)
    store = Store(service.settings.data_dir)
    try:
        generation, hashes = store.generation, store.hashes()
    finally:
        store.close()
    keys = ("articles", "chunks", "faiss_vectors", "bm25_chunks", "consistent")
    return {"generation": generation, "hashes": hashes, **{k: stats[k] for k in keys}}


def test_hostile_feeds_are_one_line_each_and_leave_the_index_as_it_was(tmp_path, embedder, monkeypatch, capsys):  # fmt: skip
    import httpcore

    from bot.cli.main import main
    from index.ingest import fetch

    with FeedServer() as server:
        stories = {
            "/a/1": (
                "Tram line opens",
                "The new tram line between the station and the university opened on Sunday with free rides.",
            ),  # fmt: skip
            "/a/2": (
                "Library extended",
                "The city library reopened after an extension that doubles its reading rooms.",
            ),  # fmt: skip
            "/b/1": (
                "Bridge closed",
                "The old river bridge was closed to lorries after inspectors found cracks in two piers.",
            ),  # fmt: skip
            "/b/2": (
                "Market moves",
                "The Saturday market moves to the cathedral square for the summer months.",
            ),  # fmt: skip
        }
        for path, (title, text) in stories.items():
            server.route(path, article_page(title, [text]))
        server.route("/good.xml", small_rss(server, "Good", ["/a/1", "/a/2"]), content_type="application/rss+xml", etag='"g1"')  # fmt: skip
        server.route("/cut.xml", small_rss(server, "Cut", ["/b/1"]), content_type="application/rss+xml", etag='"c1"')  # fmt: skip
        good, cut = server.url("/good.xml"), server.url("/cut.xml")
        data_dir = tmp_path / "d"
        settings = Settings(data_dir=data_dir, allow_private_urls=True, answerer="heuristic")
        service = Newsdesk(settings, embedder=embedder)
        first = poll_feeds(service, settings, feed_urls=[good, cut])
        assert first.report.ok and first.report.added == 3
        before = index_state(service)
        assert before["articles"] == 3 and before["consistent"] and before["generation"] >= 1
        state_before = json.loads((data_dir / STATE_FILE).read_text())["feeds"][cut]

        monkeypatch.chdir(tmp_path)  # no .env of the checkout
        monkeypatch.setenv("NEWSDESK_DATA_DIR", str(data_dir))
        monkeypatch.delenv("NEWSDESK_ALLOW_PRIVATE_URLS", raising=False)

        # 1. A feed cut off mid-download (a new, complete first entry, then the XML just stops):
        # the feed fails as a whole; nothing of it is indexed, its state is kept.
        whole = small_rss(server, "Cut", ["/b/2", "/b/1"])
        route = server.routes["/cut.xml"]
        route.body, route.etag = whole[: whole.index("<guid>/b/1") + 9].encode(), '"c2"'
        monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_URLS", "1")
        monkeypatch.setenv("NEWSDESK_FEEDS", f"{good},{cut}")
        server.clear()
        assert main(["update"]) == 1
        out = capsys.readouterr().out.splitlines()
        failed = [line for line in out if line.startswith("  failed: ")]
        assert failed == [f"  failed: {cut}: malformed feed (truncated XML: no element found)"]
        assert out[0].startswith("2 feeds: 0 read, 1 not modified, 1 failed")
        assert sorted(server.lines()) == ["GET /cut.xml -> 200  (If-None-Match)", "GET /good.xml -> 304  (If-None-Match)"]  # fmt: skip
        assert index_state(service) == before
        state_now = json.loads((data_dir / STATE_FILE).read_text())["feeds"][cut]
        assert (state_now["status"], state_now["etag"]) == ("failed", '"c1"')
        assert state_now["entries"] == state_before["entries"]

        # 2. Feeds that redirect to a private address and to the cloud metadata service, with
        # private addresses refused (the test server's own 127.0.0.1 counts as public here):
        # refused before any connection is made.
        real = fetch.refused_reason
        monkeypatch.setattr(
            fetch, "refused_reason", lambda a: None if a == "127.0.0.1" else real(a)
        )
        connected = []
        connect = httpcore.SyncBackend.connect_tcp

        def spy(self, host, port, *args, **kwargs):
            connected.append(host)
            return connect(self, host, port, *args, **kwargs)

        monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
        inner = f"http://10.0.0.1:{server.port}/feed.xml"
        metadata = "http://169.254.169.254/latest/meta-data/"
        server.route("/moved.xml", location=inner, status=302)
        server.route("/meta.xml", location=metadata, status=301)
        moved, meta = server.url("/moved.xml"), server.url("/meta.xml")
        monkeypatch.delenv("NEWSDESK_ALLOW_PRIVATE_URLS")
        monkeypatch.setenv("NEWSDESK_FEEDS", f"{good},{moved},{meta}")
        server.clear()
        assert main(["update"]) == 1
        out = capsys.readouterr().out.splitlines()
        allow = "(set NEWSDESK_ALLOW_PRIVATE_URLS=1 to allow)"
        assert (
            [line for line in out if line.startswith("  failed: ")]
            == [
                f"  failed: {moved}: redirected to {inner}: refused: 10.0.0.1 is a private address {allow}",  # fmt: skip
                f"  failed: {meta}: redirected to {metadata}: refused: 169.254.169.254 is a link-local address {allow}",  # fmt: skip
            ]
        )
        assert set(connected) == {"127.0.0.1"}  # nothing was sent anywhere else
        assert sorted(server.paths()) == ["/good.xml", "/meta.xml", "/moved.xml"]
        assert index_state(service) == before

        # 3. The feed is whole again: its new entry is found (its validators were not advanced)
        monkeypatch.undo()
        route.body = whole.encode()
        fixed = poll_feeds(service, settings, feed_urls=[good, cut])
        assert fixed.report.ok and fixed.report.added == 1
        assert index_state(service)["articles"] == 4


def test_near_duplicate_memory_lives_in_the_index_and_ignores_other_schemes(tmp_path):
    from index.ingest.copies import (
        CopyIndex,
        put_signature,
        sign_stored_articles,
        signature,
        signed_ids,
    )
    from index.models import Article

    store = Store(tmp_path)
    stories = [" ".join(f"word{i}x{j}" for j in range(40)) for i in range(5)]
    with store.transaction():
        for i, story in enumerate(stories):
            store.put_article(Article(f"id{i}", f"Story {i}", story), [], [])
            put_signature(store, f"id{i}", signature(story))
    near = CopyIndex(store)
    assert near.find("new", signature(stories[0])) == ("id0", 1.0)
    assert near.find("id0", signature(stories[0])) is None  # an article is no copy of itself
    reader = Store(tmp_path, readonly=True)  # saved: another process's connection sees them
    assert CopyIndex(reader).find("new", signature(stories[3])) == ("id3", 1.0)
    # kept exactly as long as the article (no count or age limit): removed with it
    with store.transaction():
        store.delete_articles(["id0"])
    assert CopyIndex(reader).find("new", signature(stories[0])) is None
    assert signed_ids(reader) == {"id1", "id2", "id3", "id4"}
    # a damaged signature is skipped; the others are still found
    with store.transaction():
        store.db.execute("UPDATE copy_signatures SET hashvalues = x'00' WHERE article_id = 'id1'")
    assert CopyIndex(store).find("new", signature(stories[1])) is None
    assert CopyIndex(store).find("new", signature(stories[2])) == ("id2", 1.0)
    # signatures of another scheme are not compared: they are made again from the stored texts
    with store.transaction():
        store.set_meta("copy_scheme", "minhash-5w-64-v0")
    assert sign_stored_articles(store) == 4 and sign_stored_articles(store) == 0
    assert CopyIndex(store).find("new", signature(stories[1])) == ("id1", 1.0)
    reader.close()
    store.close()


def test_a_feed_state_saved_with_the_old_near_section_loads_and_drops_it(tmp_path):
    old = {"version": 1, "feeds": {"https://x/feed.xml": {"status": "ok", "entries": {}}},
           "near": {"scheme": "minhash-3w-128-v1", "items": [["id", "AAAA", "2024-01-01T00:00:00Z"]]}}  # fmt: skip
    (tmp_path / STATE_FILE).write_text(json.dumps(old))
    state = FeedState.load(tmp_path)
    assert state.warning is None and state.feed("https://x/feed.xml")["status"] == "ok"
    state.commit()
    saved = json.loads((tmp_path / STATE_FILE).read_text())
    assert "near" not in saved and saved["feeds"] == old["feeds"]
