"""`newsdesk eval --answerer llm`: the share of answers with valid citations and of refusals, by
hand and end to end against the scripted OpenAI-compatible server; the reader's numbers stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answering.llm.result import Citation, Generated
from bot.evaluation.runner import Scored, format_report, summarize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "answering"))
from openai_server import OpenAIServer, Reply  # noqa: E402

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "seed_questions.jsonl"


def row(answerable: bool, generated: Generated | None) -> Scored:
    return Scored("q", answerable, None, 0.0, 0.0, 1.0, generated=generated)


def test_llm_shares_by_hand():
    cited = Generated("m", "Jordan [1].", [Citation(1, 0, "seed")], reader_agrees=True)
    rows = [
        row(True, cited),
        row(True, Generated("m", fallback="server error 500")),
        row(False, Generated("m", refused=True, reader_agrees=True)),
        row(False, Generated("m", fallback="server error 500", dropped=[7, 9])),
    ]
    llm = summarize(rows)["llm"]
    assert llm["asked"] == 4 and llm["cited"] == 0.25 and llm["refused"] == 0.25
    assert llm["fallback"] == 0.5 and llm["cited_answerable"] == 0.5
    assert llm["refused_unanswerable"] == 0.5 and llm["dropped_citations"] == 2
    assert llm["agrees_with_reader"] == 1.0
    assert llm["fallback_reasons"] == {"server error 500": 2}
    assert "cited answers       25.0%" in format_report(
        {"mode": "hybrid", "answerer": "llm+reader", "passages": 10, "min_confidence": 0.25}
        | summarize(rows)
    )


def test_without_an_llm_the_report_has_no_llm_part():
    assert "llm" not in summarize([row(True, None)])


@pytest.fixture(scope="module")
def server():
    server = OpenAIServer().start()
    yield server
    server.stop()


def run_eval(data_dir: Path, *args: str, **env: str) -> dict:
    environ = dict(os.environ, NEWSDESK_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", **env)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "eval", str(QUESTIONS), "--json", *args],
        capture_output=True, text=True, env=environ, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_eval_with_the_llm_reports_citations_and_refusals_and_keeps_the_readers_numbers(
    seed_and_quail, server
):
    server.answer = Reply(text="The crossing reopened in 2018 [1][12].")
    server.by_question = {
        "650,000": Reply(text="Jordan hosts more than 650,000 Syrian refugees [1]."),
        "Neptune": Reply(text="NOT IN THE ARTICLES"),
    }
    env = {
        "NEWSDESK_LLM_BASE_URL": server.url,
        "NEWSDESK_LLM_MODEL": "test-model",
        "NEWSDESK_LLM_TIMEOUT": "5",
    }
    with_llm = run_eval(seed_and_quail, "--answerer", "llm", **env)
    reader = run_eval(seed_and_quail, "--answerer", "reader", **env)
    llm = with_llm["llm"]
    assert with_llm["answerer"] == "llm+reader" and llm["asked"] == 3
    assert llm["cited"] == pytest.approx(2 / 3) and llm["refused"] == pytest.approx(1 / 3)
    assert llm["refused_unanswerable"] == 1.0 and llm["dropped_citations"] == 1  # the [12]
    assert "llm" not in reader and reader["answerer"] == "reader"
    assert with_llm["answers"] == reader["answers"]
    assert with_llm["retrieval"] == reader["retrieval"]
