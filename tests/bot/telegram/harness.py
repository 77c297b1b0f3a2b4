"""Helpers for the Telegram end-to-end tests: users, the seed article, the bot process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[3]
ADMIN = 1001
USER = 1002
OTHER_USER = 1003
STRANGER = 6666
SEED_META = {  # the seed article as a news site would publish it
    "url": "https://news.example/2021/09/19/syria-jordan-army-chiefs",
    "published": "2021-09-19",
    "source": "Example Wire",
}


def write_seed(folder: Path, seed_file: Path) -> Path:
    """The seed article, with a URL, date and outlet, as articles.jsonl in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    record = json.loads(seed_file.read_text().splitlines()[0])
    record.update(SEED_META)
    path = folder / "seed.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


LOAD_USERS = list(range(2001, 2051))


def newsdesk_command() -> list[str]:
    """The installed `newsdesk` script (what users run), or the same entry point through -c."""
    script = Path(sys.executable).parent / "newsdesk"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli.main import main; sys.exit(main())"]


def bot_env(server: FakeTelegram, data_dir: Path, **env: str) -> dict[str, str]:
    """The environment of a bot process: this server, this data directory, the test users."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSDESK_"))},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "NEWSDESK_DATA_DIR": str(data_dir),
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE_URL": server.api_url,
        "ALLOWED_USER_IDS": ",".join(map(str, [USER, OTHER_USER, *LOAD_USERS])),
        "ADMIN_USER_IDS": str(ADMIN),
        **env,
    }


class BotProcess:
    """`newsdesk telegram` in a subprocess, its output in a log file."""

    def __init__(self, server: FakeTelegram, data_dir: Path, workdir: Path, **env: str) -> None:
        self.server = server
        self.data_dir = data_dir
        self.workdir = workdir
        self.log_path = workdir / f"bot-{time.time_ns()}.log"
        self.env = bot_env(server, data_dir, **env)
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str, timeout: float = 180.0) -> BotProcess:
        polls_before = len(self.server.calls_of("getMe"))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*newsdesk_command(), "telegram", *args],
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_load(
    server: FakeTelegram,
    bot: BotProcess,
    questions: list[str],
    expected: dict[str, str],
    *,
    chats: int,
    per_chat: int,
    help_from: int,
    timeout: float = 600.0,
) -> dict:
    """`chats` chats ask `per_chat` questions each, all at once (chat i's j-th question is
    questions[(i + j) % len]); a /help is sent from `help_from` in the middle. Checks that every
    question got exactly one reply, in its own chat, in order, with the expected first line;
    returns the numbers (time, questions/s, latency percentiles, RSS before and after)."""
    users = LOAD_USERS[:chats]
    # warm-up: one question per chat, so the RSS baseline includes every chat's state
    warm = [server.message(u, questions[0]) for u in users]
    for message in warm:
        server.wait_reply(message, timeout=timeout)
    time.sleep(1.0)
    rss_before = bot.rss_mb()
    first_sent = len(server.sent)
    asked: list[tuple[dict, float, str]] = []
    help_message = None
    started = time.monotonic()
    for j in range(per_chat):
        for i, user in enumerate(users):
            question = questions[(i + j) % len(questions)]
            asked.append((server.message(user, question), time.time(), question))
        if j == per_chat // 2:
            help_message = server.message(help_from, "/help")
            help_at = time.time()
    by_reply: dict[int, list] = {}
    seen = [first_sent]

    def all_answered() -> bool:
        for sent in server.sent[seen[0] :]:
            if sent.reply_to is not None:
                by_reply.setdefault(sent.reply_to, []).append(sent)
        seen[0] = len(server.sent)
        return all(m["message_id"] in by_reply for m, _, _ in asked)

    server.wait_for(all_answered, timeout, "every load question to be answered")
    seconds = time.monotonic() - started
    assert help_message is not None
    help_reply = server.wait_reply(help_message)
    latencies = []
    per_chat_replies: dict[int, list[int]] = {u: [] for u in users}
    for message, at, question in asked:
        replies = by_reply[message["message_id"]]
        assert len(replies) == 1, f"{len(replies)} replies to one question"
        reply = replies[0]
        assert reply.chat_id == message["chat"]["id"], "a reply went to another chat"
        assert reply.visible.split("\n")[0] == expected[question], (question, reply.visible)
        latencies.append(reply.at - at)
        per_chat_replies[reply.chat_id].append(reply.message_id)
    for user, ids in per_chat_replies.items():
        assert ids == sorted(ids), f"chat {user}: replies out of order"
    failed = [c for c in server.calls if c.status != 200 and c.at >= asked[0][1]]
    assert not failed, failed[:5]
    time.sleep(1.0)
    rss_after = bot.rss_mb()
    total = len(asked)
    return {
        "chats": chats,
        "questions": total,
        "seconds": round(seconds, 2),
        "questions_per_s": round(total / seconds, 1),
        "p50_s": round(percentile(latencies, 0.5), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "help_reply_s": round(help_reply.at - help_at, 3),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
    }
