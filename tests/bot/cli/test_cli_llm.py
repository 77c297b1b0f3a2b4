"""`newsdesk ask|chat --answerer llm` as real processes, against a real index and the scripted
OpenAI-compatible server on 127.0.0.1; bad LLM settings are one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_cli import ARTICLES, newsdesk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "answering"))
from openai_server import OpenAIServer, Reply  # noqa: E402

KEY = "sk-cli-test-5b8d0e4471"
QUESTION = "who hosts 650,000 refugees?"
SENTENCE = "Jordan hosts more than 650,000 Syrian refugees [1]."


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-llm")
    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    assert newsdesk(folder / "data", "index", str(source), "--quiet").returncode == 0
    return folder / "data"


@pytest.fixture(scope="module")
def server():
    server = OpenAIServer().start()
    yield server
    server.stop()


def llm_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "NEWSDESK_LLM_BASE_URL": url,
        "NEWSDESK_LLM_MODEL": "test-model",
        "NEWSDESK_LLM_API_KEY": KEY,
        "NEWSDESK_LLM_TIMEOUT": "3",
        **extra,
    }


def test_ask_json_keeps_the_answer_and_adds_the_generated_sentence(data, server):
    server.answer = Reply(text=SENTENCE)
    result = newsdesk(data, "ask", QUESTION, "--json", "--answerer", "llm", **llm_env(server.url))
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["answer"] == "Jordan" and reply["answerer"] == "llm+reader"
    assert reply["generated"] == {
        "text": SENTENCE,
        "citations": [{"n": 1, "article_id": "jordan", "url": "https://example.org/jordan"}],
        "model": "test-model",
        "fallback": None,
        "refused": False,
        "dropped_citations": [],
        "reader_agrees": True,
        "passages": reply["generated"]["passages"],
    }
    assert KEY not in result.stdout + result.stderr


def test_plain_ask_leads_with_the_sentence_and_keeps_the_readers_answer(data, server):
    server.answer = Reply(text=SENTENCE)
    result = newsdesk(data, "ask", QUESTION, "--answerer", "llm", **llm_env(server.url))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == SENTENCE and lines[1] == "  Extractive reader: Jordan"
    assert any(line.startswith("[1] Syria's defence minister visits Amman") for line in lines)


def test_answerer_reader_per_call_leaves_the_llm_alone(data, server):
    server.requests.clear()
    result = newsdesk(
        data, "ask", QUESTION, "--json", "--answerer", "reader", **llm_env(server.url)
    )
    reply = json.loads(result.stdout)
    assert "generated" not in reply and reply["answer"] == "Jordan" and server.requests == []


def test_with_the_server_down_ask_answers_jordan_and_says_why_in_one_line(data):
    gone = OpenAIServer().start()
    url = gone.url
    gone.stop()
    result = newsdesk(data, "ask", QUESTION, "--answerer", "llm", **llm_env(url))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "LLM answer unavailable (could not connect to the LLM server); "
        "this is the extractive reader's answer."
    )
    assert lines[1] == "Jordan" and KEY not in result.stdout + result.stderr


def test_chat_sends_the_conversation_to_the_llm(data, server):
    server.answer = Reply(text=SENTENCE)
    result = newsdesk(
        data, "chat", "--json", "--answerer", "llm", stdin=f"{QUESTION}\nand in 2015?\n",
        **llm_env(server.url),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["generated"]["text"] == SENTENCE and second["generated"] is not None
    last = server.answer_requests()[-1].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSDESK_LLM_TIMEOUT": "soon"}, "NEWSDESK_LLM_TIMEOUT='soon' is not a valid value"),
        ({"NEWSDESK_LLM_TIMEOUT": "0"}, "NEWSDESK_LLM_TIMEOUT=0 is not a valid value"),
        ({"NEWSDESK_LLM_MAX_TOKENS": "-5"}, "NEWSDESK_LLM_MAX_TOKENS=-5 is not a valid value"),
        ({"NEWSDESK_LLM_BASE_URL": "ftp://x"}, "NEWSDESK_LLM_BASE_URL='ftp://x' is not an http"),
        ({"NEWSDESK_LLM_BASE_URL": ""}, "NEWSDESK_ANSWERER=llm needs NEWSDESK_LLM_BASE_URL"),
        ({"NEWSDESK_LLM_MODEL": ""}, "NEWSDESK_LLM_MODEL is not"),
    ],
)
def test_a_bad_llm_setting_is_one_line_naming_it(data, server, env, message):
    result = newsdesk(data, "ask", QUESTION, "--answerer", "llm", **{**llm_env(server.url), **env})
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("newsdesk: error: ") and message in line and KEY not in line
