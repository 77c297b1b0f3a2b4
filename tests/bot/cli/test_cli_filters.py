"""`--since/--until/--source` on `ask` and `chat`, the chat's filter commands, `latest` and the
outlets in `stats`, run as real processes on an index holding one story told by two outlets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TWO_OUTLETS = Path(__file__).resolve().parents[2] / "data" / "two_outlets.jsonl"
QUESTION = "what did the central bank of Freedonia raise its interest rate to?"


def newsdesk(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, NEWSDESK_DATA_DIR=str(data), HF_HUB_OFFLINE="1", NO_COLOR="1")
    env["NEWSDESK_TODAY"] = "2024-03-18"  # a Monday: "last week" is 11-17 March 2024
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-filters") / "data"
    result = newsdesk(folder, "index", str(TWO_OUTLETS), "--quiet")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.parametrize(
    ("mode", "options", "article", "rate"),
    [
        ("bm25", ["--source", "Reuters"], "wire-rates", "5.25%"),
        ("dense", ["--source", "dailyplanet.example"], "planet-rates", "4.75%"),
        ("hybrid", ["--since", "2024-01-01"], "wire-rates", "5.25%"),
        ("hybrid", ["--until", "2023", "--source", "dailyplanet.example"], "planet-rates", "4.75%"),
    ],
)
def test_ask_json_returns_only_the_filtered_version_and_shows_the_filter(
    data, mode, options, article, rate
):
    result = newsdesk(data, "ask", QUESTION, "--json", "--mode", mode, *options)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    ids = {s["article_id"] for s in reply["sources"]}
    assert article in ids and not {"wire-rates", "planet-rates"} - {article} & ids
    assert reply["answer"] == rate
    assert reply["filter"] is not None and reply["filter_articles"] >= 1
    if "--source" in options:
        assert reply["filter"]["sources"] == [options[options.index("--source") + 1]]


def test_plain_output_says_it_was_filtered(data):
    result = newsdesk(data, "ask", QUESTION, "--source", "REUTERS", "--since", "March 2024")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["5.25%", "filtered: Reuters, since 2024-03-01"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "garbage"], "cannot read 'garbage' as a date"),
        (["--since", "2024", "--until", "2023"], "until 2023-12-31 is before since 2024-01-01"),
        (["--source", "AP"], "no articles from the outlet 'AP'"),
    ],
)
def test_an_impossible_filter_is_one_line_and_exit_2(data, options, message):
    result = newsdesk(data, "ask", QUESTION, *options)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsdesk: error: bad filter: ")
    assert message in lines[0]


def test_a_filter_matching_no_article_says_so(data):
    result = newsdesk(data, "ask", QUESTION, "--since", "2030-01-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No indexed article matches the filter (since 2030-01-01)."


def test_last_week_in_the_question_is_read_against_the_clock(data):
    question = "when did the central bank of Freedonia raise its main interest rate last week?"
    reply = json.loads(newsdesk(data, "ask", question, "--json").stdout)
    assert reply["filter"] == {"since": "2024-03-11", "until": "2024-03-17", "sources": []}
    assert {s["article_id"] for s in reply["sources"]} == {"wire-rates"}
    assert reply["answer"] == "Thursday"  # "... to 5.25% on Thursday", published 2024-03-14
    assert reply["answer_dated"] == "Thursday (14 March 2024)"
    assert reply["resolved_date"] == "2024-03-14"
    plain = newsdesk(data, "ask", question).stdout.splitlines()
    assert plain[:2] == [
        "Thursday (14 March 2024)",
        "(searched articles from 2024-03-11 to 2024-03-17)",
    ]


def test_chat_filter_commands_narrow_the_following_questions(data):
    lines = [
        "/source Reuters", QUESTION, "/filters", "/filters off", "/until 2023", QUESTION,
        "/since garbage", "/source AP", "/filters",
    ]  # fmt: skip
    result = newsdesk(data, "chat", "--json", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["answer"] for r in replies] == ["5.25%", "4.75%"]
    assert replies[0]["filter"]["sources"] == ["Reuters"]
    assert replies[1]["filter"] == {"since": None, "until": "2023-12-31", "sources": []}
    said = result.stderr.splitlines()
    assert said[:4] == [
        "Filter: Reuters.", "Filter: Reuters.", "Filter cleared: every article is searched.",
        "Filter: until 2023-12-31.",
    ]  # fmt: skip
    assert said[4].startswith("Sorry: cannot read 'garbage' as a date")
    assert said[5].startswith("Sorry: no articles from the outlet 'AP'")
    assert said[6] == "Filter: until 2023-12-31."  # the bad commands changed nothing


def test_latest_lists_the_newest_headlines_with_date_outlet_and_link(data):
    result = newsdesk(data, "latest", "--source", "reuters", "-n", "5", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["article_id"], r["date"], r["outlet"]) for r in rows] == [
        ("wire-harvest", "2024-08-20", "Reuters"), ("wire-rates", "2024-03-14", "Reuters"),
    ]  # fmt: skip
    assert rows[0]["url"] == "https://www.reuters.com/world/sylvania-wheat"
    plain = newsdesk(data, "latest", "-n", "1")
    assert plain.stdout.splitlines() == [
        "Record wheat harvest in Sylvania",
        "    2024-08-20 · Reuters · https://www.reuters.com/world/sylvania-wheat",
    ]
    assert newsdesk(data, "latest", "--source", "AP").returncode == 2


def test_stats_lists_outlets_with_counts_and_the_date_range(data):
    stats = json.loads(newsdesk(data, "stats", "--json").stdout)
    assert stats["outlets"] == [
        {"name": "Reuters", "articles": 2}, {"name": "City Desk", "articles": 1},
        {"name": "dailyplanet.example", "articles": 1},
    ]  # fmt: skip
    assert (stats["oldest_day"], stats["newest_day"]) == ("2023-06-02", "2024-08-20")
    assert stats["undated_articles"] == 1
    plain = newsdesk(data, "stats").stdout
    assert "dates            2023-06-02 to 2024-08-20 (1 undated)" in plain
    assert "outlets          3: Reuters (2), City Desk (1), dailyplanet.example (1)" in plain
