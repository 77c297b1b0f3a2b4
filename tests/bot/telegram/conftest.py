"""Fixtures for the Telegram tests: the fake Bot API server, a small real index built from the
seed article, and the real `newsdesk telegram` process running against both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# This folder is named like the module it tests: with tests/ on sys.path, `bot` can be imported
# as a namespace package (tests/bot) and `bot.telegram` would then be this folder. Put the
# project first and forget such namespace imports, so `bot.telegram` is bot/telegram.py.
sys.path.insert(0, str(ROOT))
for _name in ("bot.telegram", "bot"):
    if _name in sys.modules and getattr(sys.modules[_name], "__file__", None) is None:
        del sys.modules[_name]

from fake_telegram import TOKEN, FakeTelegram  # noqa: E402 - tests/bot/telegram is on sys.path

ADMIN = 1001
USER = 1002
OTHER_USER = 1003
STRANGER = 6666
SEED_META = {  # the seed article as a news site would publish it
    "url": "https://news.example/2021/09/19/syria-jordan-army-chiefs",
    "published": "2021-09-19",
    "source": "Example Wire",
}


@pytest.fixture(scope="module")
def telegram():
    server = FakeTelegram().start()
    yield server
    server.stop()


def write_seed(folder: Path, seed_file: Path) -> Path:
    """The seed article, with a URL, date and outlet, as articles.jsonl in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    record = json.loads(seed_file.read_text().splitlines()[0])
    record.update(SEED_META)
    path = folder / "seed.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory, shared_data, embedder):
    """(data_dir, articles_dir): a real index of the seed article, built in this process."""
    from bot.service import Newsdesk
    from index.settings import Settings

    root = tmp_path_factory.mktemp("telegram")
    articles = root / "articles"
    write_seed(articles, shared_data / "seed" / "articles.jsonl")
    data_dir = root / "data"
    settings = Settings.load({"NEWSDESK_DATA_DIR": str(data_dir)}, None)
    report = Newsdesk(settings, embedder=embedder).index_paths([str(articles)])
    assert report.added == 1 and report.ok
    return data_dir, articles


class BotProcess:
    """`python -m bot.cli telegram` in a subprocess, its output in a log file."""

    def __init__(self, server: FakeTelegram, data_dir: Path, workdir: Path, **env: str) -> None:
        self.server = server
        self.data_dir = data_dir
        self.workdir = workdir
        self.log_path = workdir / f"bot-{time.time_ns()}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSDESK_"))},
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "NEWSDESK_DATA_DIR": str(data_dir),
            "TELEGRAM_BOT_TOKEN": server.token,
            "TELEGRAM_API_BASE_URL": server.api_url,
            "ALLOWED_USER_IDS": f"{USER},{OTHER_USER}",
            "ADMIN_USER_IDS": str(ADMIN),
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str, timeout: float = 180.0) -> BotProcess:
        polls_before = len(self.server.calls_of("getMe"))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "telegram", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"the bot exited with {self.proc.returncode}:\n{self.log()}")
            if len(self.server.calls_of("getMe")) > polls_before and self._polling():
                self.started_in = time.monotonic() - started
                return self
            time.sleep(0.1)
        raise AssertionError(f"the bot did not start polling in {timeout} s:\n{self.log()}")

    def _polling(self) -> bool:
        return "Application started" in self.log()

    def stop(self) -> int:
        """SIGTERM, then wait for a clean exit; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


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


__all__ = ["ADMIN", "OTHER_USER", "STRANGER", "TOKEN", "USER", "BotProcess"]
