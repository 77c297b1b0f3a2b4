"""The bundled sample corpus: every file indexes, and the eval questions find their articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answering.service import Newsdesk
from index.ingest.files import SUFFIXES, file_id, read_paths
from index.settings import SearchMode, Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "articles"
QUESTIONS = SAMPLES.parent / "questions.jsonl"
JORDAN = "sample-jordan-refugees"

# Questions about one-article files (.md/.txt/.html) carry no article_id in questions.jsonl,
# because those ids are absolute paths; they are checked here by file name.
FILE_QUESTIONS = {
    "q-chandrayaan-rover": "chandrayaan-3-lands-near-lunar-south-pole.html",
    "q-world-cup-winner": "argentina-win-world-cup-final.html",
    "q-leicester-odds": "leicester-city-champions.md",
    "q-paris-chair": "paris-climate-agreement.md",
    "q-ever-given-days": "ever-given-refloated.txt",
    "q-ioc-president": "tokyo-olympics-postponed.txt",
}


def load_questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def expected_article(question: dict) -> str | None:
    if question.get("article_id"):
        return question["article_id"]
    name = FILE_QUESTIONS.get(question["id"])
    return file_id(SAMPLES / name) if name else None


@pytest.fixture(scope="module")
def desk(embedder, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("samples-index")
    settings = Settings.load(env={"NEWSDESK_DATA_DIR": str(data_dir)}, dotenv=None)
    settings = settings.with_overrides(search_mode=SearchMode.HYBRID)
    service = Newsdesk(settings, embedder=embedder, answerer=None)
    report = service.index_paths([str(SAMPLES)])
    service.report = report  # type: ignore[attr-defined]
    return service


def test_every_sample_file_indexes_without_failures(desk):
    report = desk.report
    assert report.failed == [], [str(f) for f in report.failed]
    assert report.duplicates == []
    articles = list(read_paths([str(SAMPLES)]))
    assert report.added == len(articles) >= 25
    suffixes = {p.suffix for p in SAMPLES.iterdir() if p.is_file() and p.suffix in SUFFIXES}
    assert suffixes == {".jsonl", ".json", ".md", ".txt", ".html"}


def test_html_samples_have_title_date_and_canonical_url():
    for path in sorted(SAMPLES.glob("*.html")):
        (article,) = read_paths([str(path)])
        assert article.title and "|" not in article.title, path.name
        assert article.published and article.published[:4].isdigit(), path.name
        assert article.url == f"https://example.org/news/{article.published[:4]}/" + (
            f"{article.published[5:7]}/{path.stem}"
        )
        assert "Privacy policy" not in article.text and "Subscribe" not in article.text


def test_answers_appear_verbatim_in_their_articles():
    texts = {a.id: a.text for a in read_paths([str(SAMPLES)])}
    questions = load_questions()
    assert len(questions) >= 30
    assert sum(1 for q in questions if not q["answers"]) >= 4
    for question in questions:
        target = expected_article(question)
        if question["answers"]:
            assert target in texts, question["id"]
            assert any(a in texts[target] for a in question["answers"]), question["id"]


def test_questions_find_their_article_in_the_top_five(desk):
    found, missed = 0, []
    checked = [q for q in load_questions() if expected_article(q)]
    for question in checked:
        hits = desk.searcher.search(question["question"], 5, SearchMode.HYBRID)
        if expected_article(question) in {h.article_id for h in hits}:
            found += 1
        else:
            missed.append(question["id"])
    assert found >= 0.9 * len(checked), missed


def test_the_seed_question_finds_the_jordan_article_first(desk):
    hits = desk.searcher.search("who hosts 650,000 refugees?", 5, SearchMode.HYBRID)
    assert hits and hits[0].article_id == JORDAN
    assert "650,000" in hits[0].text
