"""Fixtures for the Telegram tests: the fake Bot API server, a small real index built from the
seed article, and the real `newsdesk telegram` process running against both."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# This folder is named like the module it tests: with tests/ on sys.path, `bot` can be imported
# as a namespace package (tests/bot) and `bot.telegram` would then be this folder. Put the
# project first and forget such namespace imports, so `bot.telegram` is the package bot/telegram/.
sys.path.insert(0, str(ROOT))
for _name in ("bot.telegram", "bot"):
    if _name in sys.modules and getattr(sys.modules[_name], "__file__", None) is None:
        del sys.modules[_name]

from fake_telegram import FakeTelegram  # noqa: E402 - tests/bot/telegram is on sys.path
from harness import BotProcess, write_seed  # noqa: E402


@pytest.fixture(scope="module")
def telegram():
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory, shared_data, embedder):
    """(data_dir, articles_dir): a real index of the seed article, built in this process."""
    from bot.answering.service import Newsdesk
    from index.settings import Settings

    root = tmp_path_factory.mktemp("telegram")
    articles = root / "articles"
    write_seed(articles, shared_data / "seed" / "articles.jsonl")
    data_dir = root / "data"
    settings = Settings.load({"NEWSDESK_DATA_DIR": str(data_dir)}, None)
    report = Newsdesk(settings, embedder=embedder).index_paths([str(articles)])
    assert report.added == 1 and report.ok
    return data_dir, articles


@pytest.fixture(scope="module")
def bot_factory(telegram, tmp_path_factory):
    """Start bot processes against the fake server; all are stopped at the end of the module."""
    started: list[BotProcess] = []

    def start(data_dir: Path, *args: str, **env: str) -> BotProcess:
        workdir = tmp_path_factory.mktemp("bot-workdir")
        bot = BotProcess(telegram, data_dir, workdir, **env).start(*args)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        if bot.proc is not None and bot.proc.poll() is None:
            bot.stop()
