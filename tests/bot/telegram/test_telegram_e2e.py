"""End to end over real HTTP: the real `newsdesk telegram` process (python-telegram-bot) polls the
fake Bot API server and answers from a real index of the seed article.

One bot process serves the whole module (tests run in file order; each uses its own chats where
it can). It runs with --verbose, so every request Telegram sees is logged, and the log is checked
for the token. The last test restarts it to check that conversations survive.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from fake_telegram import NOT_MODIFIED
from harness import (
    ADMIN,
    OTHER_USER,
    SEED_META,
    STRANGER,
    USER,
    bot_env,
    newsdesk_command,
    run_load,
)

from bot.answering.answer import unclear_reference
from bot.answering.conversation import Conversation
from bot.answering.service import Newsdesk
from bot.telegram import format as fmt
from bot.telegram import split
from index.settings import Settings
from index.store.database import Store

SEED_QUESTION = "who hosts 650,000 refugees?"
FOLLOW_UP = "who is its army chief?"
GROUP = -100500
MOON = """Lander touches down near the lunar south pole
Date: 2023-08-23
URL: https://news.example/2023/08/23/lunar-lander
Source: Space Desk

India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday, the first
spacecraft to land in the region. The Indian Space Research Organisation said the Vikram lander
and its Pragyan rover were working normally.
"""
VOLCANO = """# Volcano erupts on Iceland's Reykjanes peninsula
Date: 2024-02-08
URL: https://news.example/2024/02/08/reykjanes
Source: North Atlantic Times

A volcano erupted north of the fishing town of Grindavik on Thursday. The Blue Lagoon spa was
closed and the town of 3,700 people had been evacuated in November.
"""
REYKJANES = """Lava reaches the hot water pipeline near Svartsengi
Date: 2024-02-09
URL: https://news.example/2024/02/09/svartsengi
Source: North Atlantic Times

Lava from the Reykjanes eruption cut the hot water pipeline from the Svartsengi power plant on
Friday, leaving about 20,000 homes on the peninsula without heating.
"""


@pytest.fixture(scope="module")
def bot(bot_factory, seed_index):
    data_dir, articles = seed_index
    return bot_factory(
        data_dir,
        "--verbose",
        NEWSDESK_ARTICLE_DIRS=str(articles),
        NEWSDESK_ALLOW_PRIVATE_URLS="1",  # the test feed is on 127.0.0.1
    )


@pytest.fixture(scope="module")
def local(seed_index, embedder):
    """The same index, opened in this (another) process."""
    return Newsdesk(
        Settings.load({"NEWSDESK_DATA_DIR": str(seed_index[0])}, None), embedder=embedder
    )


def counts(data_dir) -> tuple[int, int, int]:
    store = Store(data_dir)
    try:
        return (*store.counts(), store.generation)
    finally:
        store.close()


def ask(telegram, user: int, text: str, **kwargs):
    """Send a message and wait for the bot's reply to it."""
    message = telegram.message(user, text, **kwargs)
    return telegram.wait_reply(message, timeout=60)


def quiet(telegram, user: int, chat: int | None = None) -> list:
    """What the bot sent to `chat` (default: the user's private chat) until it answered a /help
    the user sends now: updates are taken in order, so this is a barrier."""
    chat = user if chat is None else chat
    before = len(telegram.messages(chat))
    barrier = ask(telegram, user, "/help")
    return [m for m in telegram.messages(chat)[before:] if m is not barrier]


class Transcript:
    """A conversation as it went over the wire: the user's messages and the bot's replies as
    sent (Telegram HTML, and the labels of any inline buttons). `print()` it and run pytest
    with -s to read it."""

    def __init__(self, telegram) -> None:
        self.telegram = telegram
        self.lines: list[str] = []

    def ask(self, user: int, text: str):
        reply = ask(self.telegram, user, text)
        self.lines.append(f"> {text}")
        assert split.tg_len(reply.text) < 4000  # one message: no later parts to wait for
        self.lines.append(f"< {reply.text}".replace("\n", "\n  "))
        if reply.buttons:
            self.lines.append("  " + " ".join(f"[{b['text']}]" for b in reply.buttons))
        return reply

    def __str__(self) -> str:
        return "\n".join(self.lines)


def test_start_registers_commands_and_help_says_what_is_indexed(telegram, bot):
    default = telegram.commands[json.dumps({"type": "default"})]
    assert [c["command"] for c in default] == [
        "help", "sources", "reset", "latest", "since", "until", "source", "filters"
    ]  # fmt: skip
    admin = telegram.commands[json.dumps({"chat_id": ADMIN, "type": "chat"}, sort_keys=True)]
    assert {"reindex", "update", "feeds", "stats"} <= {c["command"] for c in admin}
    reply = ask(telegram, USER, "/start")
    assert "I know 1 news article, the newest from 2021-09-19." in reply.visible
    assert "/reindex" not in reply.visible
    assert "/reindex" in ask(telegram, ADMIN, "/help").visible


def test_seed_question_is_answered_with_jordan_in_bold_and_a_source_link(telegram, bot):
    reply = ask(telegram, USER, SEED_QUESTION)
    assert reply.text.startswith("<b>Jordan</b>\n\n<blockquote>")
    quote = reply.text.split("<blockquote>")[1].split("</blockquote>")[0]
    assert "<b>Jordan</b>" in quote and "650,000" in quote
    assert f'Source: <a href="{SEED_META["url"]}">Syria&#x27;s defense minister' in reply.text or (
        f'Source: <a href="{SEED_META["url"]}">Syria\'s defense minister' in reply.text
    )
    assert "— Example Wire, 2021-09-19" in reply.visible
    assert reply.link_preview_disabled and reply.parse_mode == "HTML"
    [button] = reply.buttons
    assert button["text"] == "Sources" and len(button["callback_data"].encode()) < 64
    typing = telegram.calls_of("sendChatAction", USER)
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= reply.at
    assert f"chat {USER}: answered in" in bot.log()


def test_follow_up_uses_the_chats_conversation_and_reset_forgets_it(telegram, bot, local):
    conversation = Conversation()
    local.ask(SEED_QUESTION, conversation=conversation)
    expected = local.ask(FOLLOW_UP, conversation=conversation)
    assert expected.rewritten_query != FOLLOW_UP  # the follow-up needs its context

    talk = Transcript(telegram)
    first = talk.ask(OTHER_USER, SEED_QUESTION)
    assert first.text.startswith("<b>Jordan</b>") and [b["text"] for b in first.buttons] == [
        "Sources"
    ]
    reply = talk.ask(OTHER_USER, FOLLOW_UP)
    assert f"(read as: {expected.rewritten_query})" in reply.visible
    assert reply.visible.split("\n")[0] == (expected.text or fmt.NOT_FOUND)

    # another chat has its own (empty) conversation
    assert "read as" not in ask(telegram, USER, "/reset").visible
    asked_back = ask(telegram, USER, FOLLOW_UP).visible  # "its" refers to nothing in this chat
    assert asked_back == unclear_reference("its") and "read as" not in asked_back

    assert talk.ask(OTHER_USER, "/reset").visible == fmt.RESET_DONE
    assert talk.ask(OTHER_USER, FOLLOW_UP).visible == unclear_reference("its")
    print(f"\n--- transcript (chat {OTHER_USER}; > user, < bot as sent) ---\n{talk}\n---")


def test_sources_button_and_command_list_every_source(telegram, bot):
    answer = ask(telegram, USER, SEED_QUESTION)
    telegram.press(USER, answer)
    listing = telegram.wait_for(
        lambda: [
            m
            for m in telegram.messages(USER)
            if m.reply_to == answer.message_id and m is not answer
        ],
        what="the sources list",
    )[0]
    assert listing.visible.startswith("Sources (")
    assert "Syria's defense minister meets Jordan's army chief in Amman" in listing.visible
    assert f'<a href="{SEED_META["url"]}">' in listing.text
    assert "650,000" in listing.visible  # the passages themselves
    assert telegram.calls_of("answerCallbackQuery")
    assert ask(telegram, USER, "/sources").text == listing.text

    calls = len(telegram.calls_of("answerCallbackQuery"))
    telegram.press(USER, answer, data="src:zzzz")  # an answer this chat no longer keeps
    gone = telegram.wait_for(lambda: telegram.calls_of("answerCallbackQuery")[calls:])[0]
    assert gone.params.get("text") == fmt.SOURCES_GONE
    assert "Sources (" not in "".join(m.visible for m in quiet(telegram, USER))


STRANGER_WORDS = "Quokka-7f3e marmalade"  # in nothing but the stranger's messages


def test_a_stranger_gets_one_refusal_and_no_work_is_done(telegram, bot, seed_index):
    before = counts(seed_index[0])
    first = ask(telegram, STRANGER, f"{STRANGER_WORDS}: who hosts 650,000 refugees?")
    assert first.visible == fmt.REFUSAL
    for text in [f"who hosts {STRANGER_WORDS}?", "/reindex", f"/start {STRANGER_WORDS}"]:
        telegram.message(STRANGER, text)
    telegram.document(STRANGER, "quokka-7f3e.txt", f"{STRANGER_WORDS}\n\nText.".encode())
    telegram.press(STRANGER, first, data="src:1")
    ask(telegram, USER, "/help")  # a barrier: updates are taken in order
    time.sleep(0.5)
    assert telegram.messages(STRANGER) == [first]
    assert not telegram.calls_of("sendChatAction", STRANGER)
    assert not telegram.calls_of("getFile")
    # the bot runs with --verbose: nothing of what the stranger wrote is logged, at any level
    log = bot.log()
    assert "HTTP Request: POST" in log  # verbose logging is on
    assert log.count(f"refused user {STRANGER}") == 1
    assert f"chat {STRANGER}:" not in log
    for word in ("Quokka", "quokka", "marmalade"):
        assert word not in log  # only the id is logged
    assert counts(seed_index[0]) == before


def test_non_admins_are_refused_admin_commands_and_uploads(telegram, bot, seed_index):
    before = counts(seed_index[0])
    for command in ["/reindex", "/update", "/feeds", "/stats"]:
        assert ask(telegram, USER, command).visible == fmt.ADMIN_ONLY
    message = telegram.document(USER, "news.txt", b"Headline\n\nSome text about things.")
    assert telegram.wait_reply(message).visible == fmt.ADMIN_ONLY
    assert not telegram.calls_of("getFile") and counts(seed_index[0]) == before
    assert "admin command refused" in bot.log()


def test_admin_reindex_reads_the_article_folders(telegram, bot, seed_index):
    data_dir, articles = seed_index
    (articles / "moon.txt").write_text(MOON)
    status = ask(telegram, ADMIN, "/reindex")
    assert status.visible.startswith("Re-reading")
    telegram.wait_for(lambda: status.edits, timeout=180, what="the /reindex report")
    report = status.visible
    assert "Article folders" in report and "1 added, 0 updated, 1 unchanged, 0 removed" in report
    assert counts(data_dir)[0] == 2
    [edit] = [c for c in telegram.calls_of("editMessageText", ADMIN) if c.at >= status.at]
    typing = [c for c in telegram.calls_of("sendChatAction", ADMIN) if c.at >= status.at]
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= edit.at

    reply = ask(telegram, USER, "Which lander touched down near the Moon's south pole?")
    assert "Lander touches down near the lunar south pole" in reply.visible
    assert '<a href="https://news.example/2023/08/23/lunar-lander">' in reply.text


def test_an_edit_telegram_calls_not_modified_is_not_sent_again(telegram, bot):
    # Telegram refuses an edit that would change nothing ("message is not modified", e.g. a
    # report identical to what the status message shows): the status already says it all
    edits = len(telegram.calls_of("editMessageText", ADMIN))
    telegram.fail_next("editMessageText", chat_id=ADMIN, status=400, description=NOT_MODIFIED)
    status = ask(telegram, ADMIN, "/reindex")
    refused = telegram.wait_for(
        lambda: telegram.calls_of("editMessageText", ADMIN)[edits:], timeout=180, what="the edit"
    )
    assert (
        refused[0].status == 400 and "0 added, 0 updated, 2 unchanged" in refused[0].params["text"]
    )
    barrier = ask(telegram, ADMIN, "/help")
    after = [m for m in telegram.messages(ADMIN) if m.message_id > status.message_id]
    assert after == [barrier]  # the report was not sent again as a new message
    assert "could not edit the status message" not in bot.log()


def test_admin_uploads_an_article_document_and_it_is_answered(telegram, bot, seed_index):
    data_dir = seed_index[0]
    message = telegram.document(ADMIN, "../../volcano-eruption.md", VOLCANO.encode())
    status = telegram.wait_reply(message)
    assert status.visible.startswith("Reading ../../volcano-eruption.md")
    telegram.wait_for(lambda: status.edits, timeout=180, what="the upload report")
    assert status.visible.startswith("volcano-eruption.md\n1 added, 0 updated")
    [edit] = [c for c in telegram.calls_of("editMessageText", ADMIN) if c.at >= status.at]
    typing = [c for c in telegram.calls_of("sendChatAction", ADMIN) if c.at >= status.at]
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= edit.at
    assert (data_dir / "uploads" / "volcano-eruption.md").read_text() == VOLCANO
    assert not (data_dir.parent / "volcano-eruption.md").exists()

    reply = ask(telegram, USER, "Which spa was closed when the volcano erupted near Grindavik?")
    assert "Volcano erupts on Iceland's Reykjanes peninsula" in reply.visible
    stats = ask(telegram, ADMIN, "/stats")
    assert stats.text.startswith("<pre>") and "articles         3" in stats.visible
    chunks = counts(data_dir)[1]
    assert stats.visible.endswith(
        f"\nIndex files: FAISS {chunks:,} vectors, BM25 {chunks:,} chunks — in step with the "
        "database."
    )


def test_an_index_changed_on_disk_by_another_process_is_picked_up(telegram, bot, local, tmp_path):
    path = tmp_path / "svartsengi.txt"
    path.write_text(REYKJANES)
    report = local.index_paths([str(path)])  # this test process is "another process"
    assert report.added == 1
    reply = ask(telegram, OTHER_USER, "What did the lava cut near the Svartsengi power plant?")
    assert "Lava reaches the hot water pipeline near Svartsengi" in reply.visible


FEED_ENTRY = (
    "The Danube reached its highest level in a century at Passau on Tuesday, and the old town was "
    "evacuated as water rose above twelve metres. Officials in Bavaria said pumps had failed in "
    "two districts and that the river was expected to crest overnight before falling slowly. "
    "Rail services between Passau and Linz were suspended, and the regional government released "
    "emergency funds for households whose homes were flooded. Forecasters warned that more rain "
    "was likely in the Alps later in the week, which could send a second flood wave down the river "
    "towards Austria and Hungary, where towns began building sandbag walls along the banks."
)
RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>River News</title><link>https://river.example/</link>
<description>Floods</description>
<item><title>Danube floods Passau's old town</title><link>https://river.example/passau</link>
<guid>passau-1</guid><pubDate>Tue, 04 Jun 2024 09:00:00 GMT</pubDate>
<description>{FEED_ENTRY}</description></item>
</channel></rss>
"""


def test_admin_update_polls_the_feeds_and_feeds_shows_them(telegram, bot, seed_index):
    data_dir = seed_index[0]
    assert ask(telegram, ADMIN, "/update").visible.startswith("No feeds configured")
    assert ask(telegram, ADMIN, "/feeds").visible.startswith("No feeds configured")
    url = telegram.serve("rss.xml", RSS, "application/rss+xml")
    (data_dir / "feeds.txt").write_text(f"{url}\n")  # what `newsdesk feeds add` writes
    status = ask(telegram, ADMIN, "/update")
    assert status.visible == "Polling the feeds…"
    telegram.wait_for(lambda: status.edits, timeout=120, what="the /update report")
    assert "1 added, 0 updated" in status.visible, status.visible
    feeds = ask(telegram, ADMIN, "/feeds").visible
    assert url in feeds and "River News" in feeds and "(1 indexed)" in feeds
    reply = ask(telegram, USER, "Which town's old town was evacuated when the Danube flooded?")
    assert "Danube floods Passau's old town" in reply.visible
    assert '<a href="https://river.example/passau">' in reply.text


HOSTILE = [
    # (who, what to send, what the reply says; None: no reply at all)
    (USER, {"text": "/frobnicate now"}, "I don't know the command /frobnicate; /help lists mine."),
    (USER, {"text": "/sources@some_other_bot"}, None),
    (USER, {"text": ""}, None),
    (USER, {"text": "   \n\t "}, "Sorry: the question is empty."),
    (USER, {"text": "?!?! ... ???"}, "Sorry: the question is empty."),
    (USER, {"text": "why " * 2500}, "Sorry: the question is too long (9,999 characters; limit 1,000)."),
    (USER, {"photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}]}, fmt.NOT_TEXT),
    (USER, {"sticker": {"file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512,
                        "height": 512, "is_animated": False, "is_video": False}}, fmt.NOT_TEXT),
    (USER, {"voice": {"file_id": "v1", "file_unique_id": "v1", "duration": 3}}, fmt.NOT_TEXT),
    (USER, {"location": {"latitude": 51.5, "longitude": -0.1}}, fmt.NOT_TEXT),
    (USER, {"new_chat_title": "renamed"}, None),
    (USER, {"text": "who hosts refugees?", "chat_id": GROUP}, None),  # group talk not for the bot
    (ADMIN, {"document": ("huge.txt", b"x", 50 * 2**20)}, "it is larger than 10 MB"),
    (ADMIN, {"document": ("big.jsonl", b"x", 11 * 2**20)}, "it is larger than 10 MB"),
    (ADMIN, {"document": ("evil.exe", b"MZ\x90\x00", None)}, "unsupported file type (.exe)"),
    (ADMIN, {"document": ("../../../etc/passwd", b"root:x:0:0", None)}, "unsupported file type (no extension)"),
    (ADMIN, {"document": (None, b"Headline\n\ntext", None)}, "the file has no name"),
    (ADMIN, {"document": ("<b>bad</b>.php", b"<?php ?>", None)}, "I can't add <b>bad</b>.php"),
    (ADMIN, {"document": ("latin1.txt", "Caf\xe9 news\n\nCaf\xe9 opened.".encode("latin-1"), None)},
     "latin1.txt: not UTF-8 text"),
    (ADMIN, {"document": ("binary.json", b'{"a":\x00\x01}', None)}, "binary.json: binary file"),
    (ADMIN, {"document": ("empty.md", b"   \n", None)}, "empty.md: empty file"),
    (ADMIN, {"document": ("nested.json", b"[" * 100_000 + b"]" * 100_000, None)}, "1 failed"),
]  # fmt: skip


def test_hostile_updates_get_a_graceful_reply_or_are_ignored(telegram, bot, seed_index):
    data_dir = seed_index[0]
    before = counts(data_dir)
    uploads = sorted((data_dir / "uploads").glob("*")) if (data_dir / "uploads").exists() else []
    edited = telegram.message(USER, "who hosts 650,000 refugees?")
    telegram.wait_reply(edited)
    telegram.edited(edited, "who hosts 1,000,000 refugees?")
    assert quiet(telegram, USER) == []  # an edit is not a new question
    for user, what, expected in HOSTILE:
        fields = dict(what)
        text = fields.pop("text", None)
        if "document" in fields:
            name, content, size = fields.pop("document")
            message = telegram.document(user, name, content, declared_size=size)
        else:
            message = telegram.message(user, text, **fields)
        if expected is None:
            replies = quiet(telegram, user, fields.get("chat_id"))
            assert replies == [], (what, [r.visible for r in replies])
            continue
        reply = telegram.wait_reply(message)
        if reply.visible.startswith("Reading"):
            telegram.wait_for(lambda r=reply: r.edits, timeout=60, what=f"the report on {what}")
        assert expected in reply.visible, (what, reply.visible)
        if "larger than" in expected:  # refused before anything was downloaded
            fetched = [c.params["file_id"] for c in telegram.calls_of("getFile")]
            assert message["document"]["file_id"] not in fetched
    assert counts(data_dir) == before  # nothing was indexed, the index generation is the same
    assert sorted((data_dir / "uploads").glob("*")) == uploads  # refused files are not kept
    assert bot.proc.poll() is None


def test_telegram_errors_are_handled_and_not_fatal(telegram, bot):
    telegram.fail_next("sendMessage", chat_id=OTHER_USER, status=403,
                       description="Forbidden: bot was blocked by the user")  # fmt: skip
    message = telegram.message(OTHER_USER, SEED_QUESTION)
    telegram.wait_for(lambda: "Telegram refused a message" in bot.log(), what="the Forbidden log")
    assert not telegram.replies_to(message)

    telegram.fail_next("sendMessage", chat_id=USER, status=429,
                       description="Too Many Requests: retry after 1", retry_after=1)  # fmt: skip
    started = time.time()
    reply = ask(telegram, USER, SEED_QUESTION)
    assert reply.text.startswith("<b>Jordan</b>") and reply.at - started >= 1.0
    assert ask(telegram, OTHER_USER, SEED_QUESTION).text.startswith("<b>Jordan</b>")
    assert bot.proc.poll() is None


def test_in_groups_the_bot_answers_mentions_and_replies_only(telegram, bot):
    mention = "@newsdesk_test_bot"
    plain = telegram.message(USER, SEED_QUESTION, chat_id=GROUP)
    asked = telegram.message(
        USER, f"{mention} {SEED_QUESTION}", chat_id=GROUP,
        entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
    )  # fmt: skip
    reply = telegram.wait_reply(asked)
    assert reply.text.startswith("<b>Jordan</b>")
    follow = telegram.message(
        OTHER_USER, "when was the crossing reopened?", chat_id=GROUP,
        reply_to_message={"message_id": reply.message_id, "date": int(reply.at),
                          "chat": telegram.chat(GROUP), "from": telegram.bot, "text": "x"},
    )  # fmt: skip
    assert telegram.wait_reply(follow).text.startswith("<b>")
    assert not telegram.replies_to(plain)


def test_the_token_never_reaches_the_log_or_users_even_when_an_error_holds_the_url(telegram, bot):
    secret = telegram.token.split(":")[1]
    # a proxy in front of Telegram answers the reply with an error page that echoes the URL
    telegram.fail_next("sendMessage", chat_id=USER, status=502, body="Bad gateway for {url}")
    message = telegram.message(USER, SEED_QUESTION)
    telegram.wait_for(
        lambda: any(m.text == fmt.ERROR for m in telegram.messages(USER)[-2:]),
        what="the error message",
    )
    assert not telegram.replies_to(message)
    assert any(c.status == 502 for c in telegram.calls_of("sendMessage", USER))
    # the file download fails the same way (its URL holds the token too)
    upload = telegram.document(ADMIN, "story.txt", b"Headline\n\nText.", broken=True)
    status = telegram.wait_reply(upload)
    telegram.wait_for(lambda: status.edits, what="the download failure")
    assert status.visible == "I couldn't download story.txt from Telegram; please send it again."

    log = bot.log()
    assert "error while handling an update" in log and "Traceback" in log
    assert "Bad gateway for http://127.0.0.1" in log  # the error is logged, redacted
    assert "/bot<token>/getUpdates" in log and "/file/bot<token>/documents/" in log
    assert secret not in log and telegram.token not in log
    for sent in telegram.sent:
        assert secret not in sent.text and all(secret not in old for old in sent.edits)


def test_a_token_telegram_rejects_stops_the_bot_with_exit_2(telegram, seed_index, tmp_path):
    env = bot_env(telegram, seed_index[0], TELEGRAM_BOT_TOKEN="987654321:" + "Q" * 35)
    result = subprocess.run(
        [*newsdesk_command(), "telegram"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "newsdesk: error: Telegram refused the bot token" in result.stderr
    assert "Q" * 35 not in result.stderr + result.stdout


def test_load_20_chats_5_questions_each(telegram, bot, local):
    questions = [SEED_QUESTION, "when was the crossing with Jordan reopened?",
                 "who won the 2022 world cup?"]  # fmt: skip
    expected = {}
    for question in questions:
        answer = local.ask(question)
        expected[question] = answer.text if answer.found else (answer.note or fmt.NOT_FOUND)
    numbers = run_load(
        telegram, bot, questions, expected, chats=20, per_chat=5, help_from=OTHER_USER
    )
    print(f"\nload: {json.dumps(numbers)}")
    # /help is not queued behind the questions: it comes back no slower than a typical question
    # does (relative, so a busy machine slows both alike)
    assert numbers["help_reply_s"] < max(1.0, numbers["p50_s"])
    assert numbers["rss_after_mb"] < numbers["rss_before_mb"] * 1.15 + 20


def test_conversations_and_sources_survive_a_restart(telegram, bot, bot_factory, seed_index):
    data_dir = seed_index[0]
    ask(telegram, USER, SEED_QUESTION)
    sources = ask(telegram, USER, "/sources").text
    ask(telegram, OTHER_USER, SEED_QUESTION)
    assert bot.stop() == 0  # SIGTERM: a clean shutdown that saves the chat state
    saved = json.loads((data_dir / "telegram-chats.json").read_text())
    assert {str(USER), str(OTHER_USER)} <= set(saved["chats"])

    again = bot_factory(data_dir)
    assert ask(telegram, USER, "/sources").text == sources
    assert "(read as: " in ask(telegram, OTHER_USER, FOLLOW_UP).visible
    assert again.stop() == 0


def test_a_bot_started_before_anything_is_indexed(telegram, bot_factory, tmp_path):
    # (after the module's bot has stopped: one bot polls the fake server at a time)
    empty = bot_factory(tmp_path / "empty-data")
    assert "Nothing is indexed yet" in ask(telegram, USER, "/help").visible
    assert ask(telegram, USER, SEED_QUESTION).visible == fmt.NOTHING_INDEXED
    assert ask(telegram, ADMIN, "/reindex").visible.startswith("Nothing to re-read")
    upload = telegram.document(ADMIN, "moon.txt", MOON.encode())
    status = telegram.wait_reply(upload)
    telegram.wait_for(lambda: status.edits, timeout=180, what="the upload report")
    assert "1 added" in status.visible
    reply = ask(telegram, USER, "Which lander touched down near the Moon's south pole?")
    assert "Lander touches down near the lunar south pole" in reply.visible
    assert empty.stop() == 0
