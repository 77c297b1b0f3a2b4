"""Both backends, one specification: what the local index does, Milvus does too.

Every test runs on the local backend and on Milvus: Milvus Lite in a temporary folder by default
(real, embedded), or the server named by NEWSDESK_TEST_MILVUS_URI (`make test-milvus
MILVUS_URI=http://host:19530`), each test in collections of its own that are dropped afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from pathlib import Path

import pytest

from bot.answering.service import Newsdesk
from bot.cli.render import format_stats
from bot.telegram.format import index_files_line
from index.backend import is_milvus, milvus_check
from index.doctor import problems
from index.ingest.files import read_paths
from index.search.filters import Filter, FilterError
from index.settings import Backend, SearchMode, Settings

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # no keepalive notices from gRPC
pytest.importorskip("pymilvus")

ARTICLES = [
    {"id": "jordan", "title": "Jordan and Syria talk border security", "published": "2021-09-19",
     "source": "Wire", "url": "https://example.org/jordan",
     "text": "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."},
    {"id": "moon", "title": "Lander touches down near the lunar south pole", "published": "2023-08-23",
     "text": "India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday."},
    {"id": "rates", "title": "Central bank raises rates", "published": "2022-07-27",
     "text": "The Federal Reserve raised its benchmark rate by 75 basis points on Wednesday."},
    {"id": 'odd "id" \\ with_quotes', "title": "Grain harvest hits a record",
     "text": "Farmers in Ukraine gathered a record 3.5 million tonnes of barley this summer."},
]  # fmt: skip


@pytest.fixture(params=["local", "milvus"])
def settings(request, tmp_path: Path):
    data_dir = tmp_path / "data"
    if request.param == "local":
        yield Settings(data_dir=data_dir)
        return
    uri = os.environ.get("NEWSDESK_TEST_MILVUS_URI") or str(tmp_path / "milvus.db")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    token = os.environ.get("NEWSDESK_TEST_MILVUS_TOKEN", "")
    yield Settings(
        data_dir=data_dir, backend=Backend.MILVUS, milvus_uri=uri, milvus_token=token,
        milvus_collection=prefix,
    )  # fmt: skip
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, token=token)
    for name in client.list_collections():
        if name.startswith(prefix + "_"):
            client.drop_collection(name)
    client.close()


@pytest.fixture
def desk(settings, embedder):
    service = Newsdesk(settings, embedder=embedder, answerer=None)
    yield service
    if "searcher" in service.__dict__:
        service.searcher.close()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ids(
    desk: Newsdesk, query: str, mode: SearchMode, k: int = 5, flt: Filter | None = None
) -> list[str]:
    return [h.article_id for h in desk.searcher.search(query, k, mode, flt=flt)]


def doctor(settings: Settings) -> list[str]:
    return milvus_check(settings) if is_milvus(settings) else problems(settings.data_dir)


def test_a_second_run_over_the_same_articles_adds_and_embeds_nothing(desk, tmp_path):
    source = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    first = desk.index_paths([str(source)])
    assert (first.added, first.unchanged) == (4, 0) and first.chunks >= 4
    before = desk.stats()
    again = desk.index_paths([str(source)])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 4, 0)
    after = desk.stats()
    assert (
        (after["articles"], after["chunks"])
        == (before["articles"], before["chunks"])
        == (
            4,
            first.chunks,
        )
    )


def test_only_a_changed_article_is_embedded_and_its_old_text_is_gone(desk, tmp_path):
    source = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    desk.index_paths([str(source)])
    kept = {
        h.article_id: h.chunk_id for h in desk.searcher.search("lunar lander", 5, SearchMode.BM25)
    }
    changed = [dict(r) for r in ARTICLES]
    changed[2]["text"] = (
        "The Federal Reserve held its benchmark rate steady, citing cooling inflation."
    )
    report = desk.index_paths([str(write_jsonl(source, changed))])
    assert (report.updated, report.unchanged, report.chunks) == (1, 3, 1)
    assert ids(desk, "held steady cooling inflation", SearchMode.BM25)[0] == "rates"
    assert "rates" not in ids(desk, "75 basis points", SearchMode.BM25)
    again = {
        h.article_id: h.chunk_id for h in desk.searcher.search("lunar lander", 5, SearchMode.BM25)
    }
    assert again["moon"] == kept["moon"]  # an unchanged article keeps its chunk ids
    assert desk.stats()["chunks"] == 4
    assert doctor(desk.settings) == []


@pytest.mark.parametrize("mode", list(SearchMode))
def test_every_search_mode_finds_the_article_that_answers(desk, tmp_path, mode):
    desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", ARTICLES))])
    assert ids(desk, "who hosts 650,000 refugees?", mode)[0] == "jordan"
    assert ids(desk, "when did the lander touch down on the moon?", mode)[0] == "moon"
    hit = desk.searcher.search("650000 refugees", 1, mode)[0]
    assert (hit.title, hit.published, hit.source, hit.url) == (
        "Jordan and Syria talk border security", "2021-09-19", "Wire", "https://example.org/jordan",
    )  # fmt: skip
    assert hit.text == ARTICLES[0]["text"][hit.start : hit.end]


def test_bm25_matches_newsdesks_own_terms_numbers_plurals_and_decimals(desk, tmp_path):
    desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", ARTICLES))])
    assert ids(desk, "650000 refugee", SearchMode.BM25) == ["jordan"]  # "650,000", "refugees"
    assert ids(desk, "3.5 million", SearchMode.BM25)[0] == ARTICLES[3]["id"]
    assert ids(desk, "the of and", SearchMode.BM25) == []  # stopwords only: nothing to match


def test_a_searcher_opened_earlier_sees_articles_indexed_later(settings, embedder, tmp_path):
    reader = Newsdesk(settings, embedder=embedder, answerer=None)  # a bot replica, say
    writer = Newsdesk(settings, embedder=embedder, answerer=None)
    writer.index_paths([str(write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1]))])
    assert ids(reader, "lunar lander", SearchMode.BM25) == []
    writer.index_paths([str(write_jsonl(tmp_path / "b.jsonl", ARTICLES[1:2]))])
    assert ids(reader, "lunar lander", SearchMode.BM25) == ["moon"]
    reader.searcher.close()


def test_removed_articles_leave_search_and_counts(desk, tmp_path):
    desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", ARTICLES))])
    assert desk.remove(["moon", ARTICLES[3]["id"], "never-indexed"]) == 2
    assert "moon" not in ids(desk, "lunar lander south pole", SearchMode.HYBRID)
    stats = desk.stats(verify=True)
    assert (stats["articles"], stats["chunks"], stats["consistent"]) == (2, 2, True)
    assert doctor(desk.settings) == []


def test_prune_drops_articles_whose_files_are_gone(desk, tmp_path):
    folder = tmp_path / "news_folder"  # an underscore: a LIKE wildcard, matched exactly
    folder.mkdir()
    for row in ARTICLES[:3]:
        (folder / f"{row['id']}.txt").write_text(f"{row['title']}\n{row['text']}")
    look_alike = tmp_path / "newsXfolder"
    look_alike.mkdir()
    (look_alike / "other.txt").write_text("Storm closes ports\nA storm closed three ports today.")
    desk.index_paths([str(folder), str(look_alike)])
    (folder / "moon.txt").unlink()
    report = desk.index_articles(read_paths([str(folder)]), prune=[str(folder)])
    assert (report.removed, report.unchanged) == (1, 2)
    assert desk.stats()["articles"] == 3  # the look-alike folder's article stays
    assert ids(desk, "storm ports", SearchMode.BM25) != []


def test_an_exact_copy_under_another_id_is_reported_not_stored(desk, tmp_path):
    copy = dict(ARTICLES[0], id="jordan-copy")
    report = desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, copy]))])
    assert report.duplicates == [("jordan-copy", "jordan")]
    later = desk.index_paths([str(write_jsonl(tmp_path / "b.jsonl", [dict(copy, id="again")]))])
    assert later.duplicates == [("again", "jordan")] and desk.stats()["articles"] == 4


def test_stats_describe_the_backend_without_the_token(settings, embedder, tmp_path):
    settings = settings.with_overrides(milvus_token="secret-token-123")
    desk = Newsdesk(settings, embedder=embedder, answerer=None)
    if is_milvus(settings) and settings.milvus_uri.startswith("http"):
        pytest.skip("a server checks the token")
    desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", ARTICLES))])
    stats = desk.stats(verify=True)
    assert (stats["indexed"], stats["articles"], stats["consistent"]) == (True, 4, True)
    assert stats["embedding_model"] == settings.embedding_model and stats["dimension"] == 384
    assert "secret-token-123" not in json.dumps(stats) + repr(settings)
    text, line = format_stats(stats), index_files_line(stats)
    assert ("milvus           Milvus" in text) == is_milvus(settings)
    assert line.endswith(("in step with the database.", "every chunk belongs to its article."))
    desk.searcher.close()


# --- date and outlet filters, stats and latest -------------------------------------------------
TWO_OUTLETS = Path(__file__).resolve().parents[2] / "data" / "two_outlets.jsonl"
RATES = "Freedonia central bank raised its main interest rate"


@pytest.mark.parametrize("mode", list(SearchMode))
def test_a_filter_picks_the_outlet_and_dates_version_of_a_story(desk, mode):
    desk.index_paths([str(TWO_OUTLETS)])
    reuters = ids(desk, RATES, mode, flt=desk.check_filter(Filter(sources=("reuters",))))
    assert reuters[0] == "wire-rates" and set(reuters) <= {"wire-rates", "wire-harvest"}
    planet = ids(desk, RATES, mode, flt=Filter(sources=("dailyplanet.example",)))
    assert planet == ["planet-rates"]
    in_2023 = ids(desk, RATES, mode, flt=Filter(date(2023, 1, 1), date(2023, 12, 31)))
    assert in_2023 == ["planet-rates"]  # and not the undated article
    since = ids(desk, RATES, mode, flt=Filter(since=date(2024, 1, 1)))
    assert since[0] == "wire-rates" and "planet-rates" not in since
    unfiltered = ids(desk, "bridge over the river opened to traffic", mode)
    assert unfiltered[0] == "undated-bridge"
    assert "undated-bridge" not in ids(
        desk, "bridge over the river opened", mode, flt=Filter(until=date(2030, 1, 1))
    )


def test_an_impossible_filter_is_a_clear_error_or_an_empty_answer(desk):
    desk.index_paths([str(TWO_OUTLETS)])
    with pytest.raises(FilterError) as unknown:
        desk.check_filter(Filter(sources=("Pravda",)))
    message = str(unknown.value)
    assert "'Pravda'" in message and "Reuters" in message and "\n" not in message
    with pytest.raises(FilterError, match="before since"):
        Filter(since=date(2024, 1, 2), until=date(2024, 1, 1))
    empty = Filter(since=date(2030, 1, 1))
    assert desk.searcher.search(RATES, 5, SearchMode.HYBRID, flt=empty) == []
    answer = desk.ask(RATES, flt=empty)
    assert answer.sources == [] and answer.filter_articles == 0 and "2030-01-01" in answer.note


def test_stats_and_latest_list_outlets_and_dates(settings, embedder, desk, tmp_path):
    reader = Newsdesk(settings, embedder=embedder, answerer=None)  # a bot replica, say
    rows = [json.loads(line) for line in TWO_OUTLETS.read_text().splitlines()]
    desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", rows[:2]))])
    assert [r["article_id"] for r in reader.latest(5)] == ["wire-rates", "planet-rates"]
    desk.index_paths([str(TWO_OUTLETS)])
    stats = desk.stats()
    assert stats["outlets"] == [
        {"name": "Reuters", "articles": 2},
        {"name": "City Desk", "articles": 1},
        {"name": "dailyplanet.example", "articles": 1},
    ]
    assert (stats["oldest_day"], stats["newest_day"], stats["undated_articles"]) == (
        "2023-06-02", "2024-08-20", 1,
    )  # fmt: skip
    text = format_stats(stats)
    assert "dates            2023-06-02 to 2024-08-20 (1 undated)" in text
    assert "outlets          3: Reuters (2)" in text
    latest = reader.latest(2)  # a replica sees the later run
    assert [(r["article_id"], r["date"], r["outlet"]) for r in latest] == [
        ("wire-harvest", "2024-08-20", "Reuters"),
        ("wire-rates", "2024-03-14", "Reuters"),
    ]
    planet = reader.latest(5, Filter(sources=("dailyplanet.example",)))
    assert [r["article_id"] for r in planet] == ["planet-rates"]
    reader.searcher.close()


# --- near-duplicate copies ---------------------------------------------------------------------
FLOOD = (
    "Floodwater from the swollen river Elbe reached the old town of Dresden on Sunday night, "
    "forcing the evacuation of about 3,000 residents from streets along the embankment. The "
    "city's fire service said sandbag walls had held at the opera house, but the water rose "
    "faster than forecast after two days of heavy rain in the Czech mountains upstream."
)
FLOOD_COPY = (  # a partner's copy: a byline, one word changed, a credit line
    "By Anna Keller\n\n" + FLOOD.replace("forcing", "prompting", 1)
    + "\n\nReporting by Anna Keller; Editing by Jo Hart"
)  # fmt: skip


def test_a_near_copy_is_caught_within_a_run_and_across_runs(desk, tmp_path):
    original = {"id": "flood", "title": "Elbe floods Dresden", "text": FLOOD}
    copy = {"id": "flood-partner", "title": "Dresden evacuates as Elbe rises", "text": FLOOD_COPY}
    same_run = desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", [original, copy]))])
    assert same_run.duplicates == [("flood-partner", "flood")] and same_run.added == 1
    later = dict(copy, id="flood-later")
    next_run = desk.index_paths([str(write_jsonl(tmp_path / "b.jsonl", [later]))])
    assert next_run.duplicates == [("flood-later", "flood")] and next_run.added == 0
    assert desk.stats()["articles"] == 1
    edited = dict(original, text=FLOOD + " The river crested on Tuesday.")
    update = desk.index_paths([str(write_jsonl(tmp_path / "a.jsonl", [edited]))])
    assert (update.updated, update.duplicates) == (1, [])  # not a copy of itself
    assert desk.remove(["flood"]) == 1
    freed = desk.index_paths([str(write_jsonl(tmp_path / "b.jsonl", [later]))])
    assert (freed.added, freed.duplicates) == (1, [])  # its original is gone: it is stored
    assert doctor(desk.settings) == []
