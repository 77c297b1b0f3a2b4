"""`newsdesk index URL`, `index --feed`, `update` and `watch` through the real command line
(`bot.cli.main.main`) against the local feed server, and the poll interval checks."""

from __future__ import annotations

import argparse
import json

import pytest

from bot.cli.feeds import parse_interval
from bot.cli.main import main
from index.ingest.feed_state import STATE_FILE, feeds_lock
from index.settings import Settings, SettingsError
from index.store.database import Store
from tests.index.ingest.feed_server import FeedServer, article_page


def page(title: str, paragraphs: list[str], *, canonical: str | None = None) -> str:
    return article_page(title, paragraphs, canonical=canonical, published="2024-03-05T08:00:00Z")


DAM = [
    "Egypt and Ethiopia signed an agreement on Tuesday over the filling of the Grand Ethiopian "
    "Renaissance Dam, ending more than a decade of difficult talks.",
    "Under the deal Ethiopia may fill the reservoir with at most 13 billion cubic metres of "
    "water each year, officials in Addis Ababa said.",
]
STORIES = {
    "/news/quake": (
        "Earthquake shakes Izmir",
        [
            "A magnitude 6.1 earthquake shook the coastal city of Izmir early on Monday, damaging dozens of old buildings in the harbour district."
        ],
    ),  # fmt: skip
    "/news/rail": (
        "Rail strike ends",
        [
            "Train drivers ended their nine-day strike after accepting a 7 percent pay rise over two years."
        ],
    ),  # fmt: skip
    "/news/vaccine": (
        "Vaccine approved",
        ["Regulators approved a new malaria vaccine for children under five on Friday."],
    ),  # fmt: skip
}


def rss(server: FeedServer, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>{STORIES[p][0]}</title><link>{server.url(p)}</link><guid>{p}</guid>"
        f"<pubDate>Mon, 04 Mar 2024 06:00:00 GMT</pubDate><description>Short.</description></item>"
        for p in paths
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test Wire</title>'
        f"<link>{server.url('/')}</link><description>News</description>{items}</channel></rss>"
    )


def atom(server: FeedServer, path: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Partner Daily</title><id>urn:partner</id><updated>2024-03-05T10:00:00Z</updated>"
        f"<entry><title>{STORIES[path][0]}</title><id>tag:partner,2024:{path}</id>"
        f'<link rel="alternate" href="{server.url(path)}"/>'
        "<updated>2024-03-05T10:00:00Z</updated><summary>Short summary.</summary></entry></feed>"
    )


@pytest.fixture
def server():
    with FeedServer() as s:
        s.route("/story/dam?utm_source=x", page("Nile dam deal", DAM, canonical="/news/dam"))
        s.route("/story/dam", page("Nile dam deal", DAM, canonical="/news/dam"))
        for path, (title, text) in STORIES.items():
            s.route(path, page(title, text))
        s.route("/rss.xml", rss(s, ["/news/quake", "/news/rail"]),
                content_type="application/rss+xml", etag='"r1"')  # fmt: skip
        s.route("/atom.xml", atom(s, "/news/vaccine"), content_type="application/atom+xml",
                last_modified="Tue, 05 Mar 2024 12:00:00 GMT")  # fmt: skip
        yield s


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("NEWSDESK_DATA_DIR", "NEWSDESK_FEEDS", "NEWSDESK_ARTICLE_DIRS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    return tmp_path / "data"


def stored(data_dir) -> dict:
    store = Store.for_reading(data_dir)
    try:
        return {i: store.article(i) for i in store.hashes()} | {"_generation": store.generation}
    finally:
        store.close()


def test_index_an_article_page(server, env, capsys):
    ok, gone = server.url("/story/dam?utm_source=x"), server.url("/missing")
    assert main(["--data-dir", str(env), "index", ok, gone]) == 1  # one URL failed
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 added, 0 updated, 0 unchanged, 0 removed, 0 duplicates, 1 failed"
    assert out[2:] == [f"  failed: {gone}: HTTP 404"]
    articles = stored(env)
    dam = articles.pop(server.url("/news/dam"))  # the canonical URL is the id
    assert articles == {"_generation": 1}
    assert (dam.url, dam.title, dam.source) == (server.url("/news/dam"), "Nile dam deal", "Test Wire")  # fmt: skip
    assert dam.published.startswith("2024-03-05") and "13 billion cubic metres" in dam.text

    # again, with --data-dir after the command: the page is fetched, found unchanged
    assert main(["index", server.url("/story/dam"), "--data-dir", str(env)]) == 0
    assert capsys.readouterr().out.startswith("0 added, 0 updated, 1 unchanged, 0 removed")
    assert stored(env)["_generation"] == 1


def test_a_syndicated_copy_under_another_url_is_stored_once_and_reported(server, env, capsys):
    original, copy = server.url("/news/dam"), server.url("/partner/dam-copy")
    retold = [DAM[0].replace("difficult", "tough"), DAM[1], "Reporting by Jane Roe; editing by Sam Poe."]  # fmt: skip
    server.route("/partner/dam-copy", page("Egypt and Ethiopia sign Nile dam deal", retold))
    assert main(["--data-dir", str(env), "index", server.url("/story/dam"), copy]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 added, 0 updated, 0 unchanged, 0 removed, 1 duplicates, 0 failed"
    assert f"  duplicate: {copy} is a copy of {original} (stored once)" in out
    assert set(stored(env)) == {original, "_generation"}


def test_index_several_feeds_then_update_twice(server, env, capsys):
    rss_url, atom_url = server.url("/rss.xml"), server.url("/atom.xml")
    assert main(["index", "--data-dir", str(env), "--feed", rss_url, atom_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "3 added, 0 updated, 0 unchanged, 0 removed, 0 duplicates, 0 failed"
    assert len(out) == 2  # the chunks line; no failure line
    assert set(stored(env)) == {server.url(p) for p in STORIES} | {"_generation"}
    # both were read as feeds (the second URL is no page to index), every page once
    assert sorted(server.paths()) == ["/atom.xml", "/news/quake", "/news/rail", "/news/vaccine", "/rss.xml"]  # fmt: skip

    # `index --feed` again: the feed state remembers the feeds and their entries, as `update`
    # does, so the feeds are asked conditionally and no article page is fetched again
    capsys.readouterr()
    server.clear()
    generation = stored(env)["_generation"]
    assert main(["index", "--data-dir", str(env), "--feed", rss_url, atom_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0 added, 0 updated, 0 unchanged, 0 removed")
    assert sorted(server.lines()) == [
        "GET /atom.xml -> 304  (If-Modified-Since)",
        "GET /rss.xml -> 304  (If-None-Match)",
    ]

    # `update` polls the configured feeds with the same memory
    assert main(["feeds", "add", rss_url, atom_url, "--data-dir", str(env)]) == 0
    capsys.readouterr()
    # nothing is new: two conditional requests, nothing else
    server.clear()
    assert main(["update", "--data-dir", str(env)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "2 feeds: 0 read, 2 not modified, 0 failed; entries: 0 new, 0 changed, "
        "0 retried, 0 already seen; 3 HTTP requests"
    )  # fmt: skip  (robots.txt + 2 feeds)
    assert out[1].startswith("0 added, 0 updated, 0 unchanged, 0 removed")
    assert sorted(server.lines()) == [
        "GET /atom.xml -> 304  (If-Modified-Since)",
        "GET /rss.xml -> 304  (If-None-Match)",
    ]
    assert stored(env)["_generation"] == generation

    # a new entry in one feed: only that feed's body and the new page are fetched
    server.routes["/rss.xml"].body = rss(server, ["/news/quake", "/news/rail", "/news/vaccine"]).encode()  # fmt: skip
    server.routes["/rss.xml"].etag = '"r2"'
    server.clear()
    assert main(["update", "--json", "--data-dir", str(env)]) == 0
    summary = json.loads(capsys.readouterr().out)
    # the RSS entry links the page the Atom entry already brought in: not fetched again
    assert summary["feeds"]["new"] == 0 and summary["feeds"]["seen"] == 3
    assert sorted(server.lines()) == [
        "GET /atom.xml -> 304  (If-Modified-Since)",
        "GET /rss.xml -> 200  (If-None-Match)",
    ]


def test_update_without_feeds_and_with_a_bad_interval_setting(env, monkeypatch, capsys):
    assert main(["update", "--data-dir", str(env)]) == 1
    assert "no feeds configured" in capsys.readouterr().out
    monkeypatch.setenv("NEWSDESK_FEED_POLL_MINUTES", "0")
    assert main(["update", "--data-dir", str(env)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsdesk: error: NEWSDESK_FEED_POLL_MINUTES=0 is not a valid value")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "text, seconds",
    [("90", 90), ("30s", 30), ("15m", 900), ("1h30m", 5400), ("1d", 86400), (" 2H ", 7200),
     ("1.5m", 90), ("10", 10), ("1m 30s", 90)],
)  # fmt: skip
def test_parse_interval_reads_units(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    "text, message",
    [("", "not an interval"), ("15 minutes", "not an interval"), ("m", "not an interval"),
     ("-5m", "not an interval"), ("5x", "not an interval"), ("1h and 5m", "not an interval"),
     ("9s", "at least 10 seconds"), ("0", "at least 10 seconds"), ("0m", "at least 10 seconds")],
)  # fmt: skip
def test_parse_interval_refuses_what_is_not_one(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_interval(text)


def test_watch_refuses_a_bad_interval_on_the_command_line(env, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["watch", "--every", "5s", "--data-dir", str(env)])
    assert exit_.value.code == 2
    assert "the interval must be at least 10 seconds" in capsys.readouterr().err


@pytest.mark.parametrize("minutes", ["0", "-5", "0.1", "nan", "inf"])
def test_the_feed_poll_interval_setting_is_validated(minutes):
    with pytest.raises(SettingsError, match=f"NEWSDESK_FEED_POLL_MINUTES={minutes}"):
        Settings.load({"NEWSDESK_FEED_POLL_MINUTES": minutes}, dotenv=None)
    with pytest.raises(SettingsError, match="at least 0.17 minutes"):
        Settings(feed_poll_minutes=float(minutes))


def test_the_feed_poll_interval_setting_accepts_minutes():
    assert (
        Settings.load({"NEWSDESK_FEED_POLL_MINUTES": "0.5"}, dotenv=None).feed_poll_minutes == 0.5
    )
    assert Settings.load({}, dotenv=None).feed_poll_minutes == 15


class FakeClock:
    """Stands in for the `time` module of bot.cli.feeds: sleeps are recorded, not slept; the
    `stop_after`-th sleep is a Ctrl-C."""

    def __init__(self, stop_after: int) -> None:
        self.now, self.sleeps, self.stop_after = 1000.0, [], stop_after

    def monotonic(self) -> float:
        self.now += 0.5  # each look at the clock: half a second later
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) >= self.stop_after:
            raise KeyboardInterrupt


def test_watch_polls_sleeps_the_rest_of_the_interval_and_stops_on_ctrl_c(server, env, monkeypatch, capsys):  # fmt: skip
    clock = FakeClock(stop_after=2)
    monkeypatch.setattr("bot.cli.feeds.time", clock)
    monkeypatch.setenv("NEWSDESK_FEEDS", server.url("/rss.xml"))
    assert main(["watch", "--every", "30s", "--quiet", "--data-dir", str(env)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["polling feeds every 30s; Ctrl-C stops", "stopped"]
    # two polls: the first indexed two entries (printed), the second found the feed unchanged
    # (--quiet: not printed); each sleep is the interval less the time the poll took
    log = server.lines()
    assert log[0] == "GET /rss.xml -> 200" and log[3:] == ["GET /rss.xml -> 304  (If-None-Match)"]
    assert sorted(log[1:3]) == ["GET /news/quake -> 200", "GET /news/rail -> 200"]
    assert clock.sleeps == [29.5, 29.5]
    out = captured.out.splitlines()
    assert out[0].startswith("— 20") and len(out) == 4
    assert out[1].startswith("1 feed: 1 read, 0 not modified, 0 failed; entries: 2 new")
    assert out[2].startswith("2 added, 0 updated, 0 unchanged")
    assert set(stored(env)) == {server.url("/news/quake"), server.url("/news/rail"), "_generation"}
    assert (env / STATE_FILE).is_file()


def test_watch_skips_a_round_while_another_update_holds_the_lock(server, env, monkeypatch, capsys):  # fmt: skip
    clock = FakeClock(stop_after=1)
    monkeypatch.setattr("bot.cli.feeds.time", clock)
    monkeypatch.setenv("NEWSDESK_FEEDS", server.url("/rss.xml"))
    with feeds_lock(env):
        assert main(["watch", "--every", "1m", "--data-dir", str(env)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "polling feeds every 1m; Ctrl-C stops" and err[-1] == "stopped"
    assert "skipped: another feed update is running on" in err[1]
    assert server.log == [] and clock.sleeps == [59.5]
