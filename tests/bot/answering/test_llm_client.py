"""The LLM client over real HTTP against the scripted OpenAI-compatible server: a reply, and
every way a server fails, each one short LLMFailure line within the time-out."""

from __future__ import annotations

import threading
import time

import pytest
from openai_server import OpenAIServer, Reply

from bot.answering.llm.client import MAX_REPLY_CHARS, LLMClient, LLMConfig, LLMFailure

MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "question"}]
KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def server():
    server = OpenAIServer().start()
    yield server
    server.stop()


def client_for(server: OpenAIServer, **changes) -> LLMClient:
    config = dict(base_url=server.url, model="test-model", api_key=KEY, timeout=3.0)
    config.update(changes)
    return LLMClient(LLMConfig(**config))


def test_a_streamed_reply_comes_back_whole_with_the_model_key_and_limits_sent(server):
    server.answer = Reply(text="Jordan hosts more than 650,000 Syrian refugees [1].", pieces=5)
    client = client_for(server, max_tokens=77)
    assert client.complete(MESSAGES) == "Jordan hosts more than 650,000 Syrian refugees [1]."
    [request] = server.requests
    assert request.body["model"] == "test-model" and request.body["stream"] is True
    assert request.body["max_tokens"] == 77 and request.body["messages"] == MESSAGES
    assert request.headers["authorization"] == f"Bearer {KEY}"


def failure(client: LLMClient) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(LLMFailure) as caught:
        client.complete(MESSAGES)
    return str(caught.value), time.monotonic() - started


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "server error 500"),
        (Reply(status=503), "server error 503"),
        (Reply(status=429), "rate-limiting requests (429)"),
        (Reply(status=401), "refused the API key (401)"),
        (Reply(raw="<html>not json at all</html>"), "empty or malformed reply"),
        (Reply(text="Jordan hosts [1].", bad_chunk=True, pieces=4), "malformed reply"),
        (Reply(text="Jordan hosts more than", cut_after=2, pieces=4), "broke off in the middle"),
        (Reply(text="Jordan hosts", finish=None), "stopped before it was finished"),
        (Reply(text="", pieces=1), "empty reply"),
        (Reply(text="and on ", repeat=2000, pieces=400), f"ran on past {MAX_REPLY_CHARS:,}"),
        (Reply(text="Jordan hosts more", finish="length"), "cut off at 256 tokens"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_kind_of_failure_is_one_plain_reason(server, reply, reason):
    server.answer = reply
    message, seconds = failure(client_for(server))
    assert reason in message and "\n" not in message and KEY not in message
    assert seconds < 3.5


def test_a_slow_server_is_given_up_on_at_the_time_out(server):
    server.answer = Reply(text="late [1].", delay_s=5)
    message, seconds = failure(client_for(server, timeout=1.0))
    assert message == "no reply within 1 s"
    assert 0.9 <= seconds < 1.6


def test_a_reply_that_trickles_on_is_cut_off_at_the_time_out(server):
    server.answer = Reply(text="word ", repeat=200, pieces=200, gap_s=0.05)
    message, seconds = failure(client_for(server, timeout=1.0))
    assert message == "no reply within 1 s" and seconds < 1.6


def test_a_stopped_server_fails_fast(server):
    client = client_for(server)
    server.stop()
    message, seconds = failure(client)
    assert message == "could not connect to the LLM server" and seconds < 3.0


def test_a_rate_limit_with_a_short_retry_after_is_retried_once(server):
    server.answer = Reply(status=429, headers={"Retry-After": "0"})
    assert "429" in failure(client_for(server))[0]
    assert len(server.requests) == 2  # one retry, then the failure


def test_calls_beyond_the_cap_wait_and_time_out_without_reaching_the_server(server):
    server.answer = Reply(text="slow [1].", delay_s=1.5)
    client = client_for(server, timeout=1.0, concurrency=1)
    results: list[str] = []

    def ask() -> None:
        try:
            results.append(client.complete(MESSAGES))
        except LLMFailure as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["no reply within 1 s"] * 3
    time.sleep(0.8)  # the one call in flight ends at its own read time-out
    assert len(server.requests) == 1  # the queued two were never sent
