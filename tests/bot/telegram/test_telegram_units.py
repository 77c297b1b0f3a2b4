"""The bot's gates and guards without Telegram: allow-list and admins, token checks and
redaction, upload names, the chat state file, and `newsdesk telegram` refusing to start."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fake_telegram import TOKEN

from bot.cli.main import main
from bot.telegram.access import Gate, RedactSecrets, TokenError, check_token
from bot.telegram.admin import upload_name
from bot.telegram.bot import file_base_url
from bot.telegram.chats import ANSWERS_KEPT, ChatStore, add_answer, answer_sources


def test_allow_list_and_admin_gates():
    gate = Gate(allowed={1, 2}, admins={9})
    assert [gate.may_ask(u) for u in (1, 2, 9, 3, None)] == [True, True, True, False, False]
    assert [gate.is_admin(u) for u in (1, 9, None)] == [False, True, False]
    public = Gate(allowed=set(), admins={9}, public=True)
    assert public.may_ask(12345) and not public.is_admin(12345) and public.is_admin(9)
    nobody = Gate(allowed=set(), admins=set())
    assert not nobody.may_ask(1) and not nobody.is_admin(1)


@pytest.mark.parametrize(
    ("token", "ok"),
    [(TOKEN, True), (f"  {TOKEN}\n", True), ("", False), ("   ", False), ("123456789", False),
     ("abc:" + "x" * 35, False), ("123456789:short", False), (TOKEN + " extra", False),
     ("123456789:" + "é" * 35, False)],
)  # fmt: skip
def test_token_is_checked_and_never_repeated_in_the_error(token, ok):
    if ok:
        assert check_token(token) == TOKEN
        return
    with pytest.raises(TokenError) as error:
        check_token(token)
    assert "TELEGRAM_BOT_TOKEN" in str(error.value)
    secret = token.strip().partition(":")[2]
    assert not secret or secret not in str(error.value)


def test_file_url_follows_the_api_url():
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
    assert file_base_url("http://local:8081/api") == "http://local:8081/api/file/bot"


def test_redaction_covers_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([TOKEN]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.warning(f"encoded {TOKEN.replace(':', '%3A')} and secret {TOKEN.split(':')[1]}")
        try:
            raise RuntimeError(f"upstream failed: http://x/file/bot{TOKEN}/documents/1")
        except RuntimeError:
            logger.exception("download failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert TOKEN.split(":")[1] not in out
    assert out.count("<token>") == 4 and "RuntimeError: upstream failed" in out


@pytest.mark.parametrize(
    ("name", "saved"),
    [("news.txt", "news.txt"), ("Story.JSONL", "Story.jsonl"), ("../../etc/passwd.md", "passwd.md"),
     ("..\\..\\win.html", "win.html"), ("<script>.html", "script.html"), (".hidden.txt", "hidden.txt"),
     ("a b\x00c.json", "a_bc.json"), ("ünïcödé.htm", "n_c_d.htm"), ("....txt", "upload.txt"),
     ("x" * 500 + ".md", "x" * 80 + ".md")],
)  # fmt: skip
def test_upload_names_are_made_safe(name, saved):
    assert upload_name(name) == (saved, "")


@pytest.mark.parametrize(
    "name", [None, "", "   ", "noext", "evil.exe", "archive.tar.gz", "page.php", "x.txt.sh", "dir/"]
)
def test_upload_names_with_other_types_are_refused(name):
    saved, reason = upload_name(name)
    assert saved is None and (".txt" in reason and ".jsonl" in reason)


def test_chat_store_survives_a_restart_and_keeps_recent_answers(tmp_path):
    store = ChatStore.in_data_dir(tmp_path)
    record: dict = {"conversation": {"turns": [["q", "q", "Jordan"]]}}
    for n in range(ANSWERS_KEPT + 3):
        record, key = add_answer(record, [{"article_id": f"a{n}", "title": "T"}])
    store.put(42, record)
    store.put(-100123, {"next": 5})
    assert store.save() and not store.save()  # nothing changed the second time
    again = ChatStore.in_data_dir(tmp_path)
    restored = again.get(42)
    assert restored["conversation"] == {"turns": [["q", "q", "Jordan"]]}
    assert answer_sources(restored) == [{"article_id": f"a{ANSWERS_KEPT + 2}", "title": "T"}]
    assert answer_sources(restored, key) == answer_sources(restored)
    assert answer_sources(restored, "0") is None  # too old
    assert again.get(-100123)["next"] == 5 and again.get(7) == {}
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left nothing behind


def test_chat_store_drops_the_least_recent_chats_and_ignores_a_damaged_file(tmp_path):
    store = ChatStore.in_data_dir(tmp_path, max_chats=3)
    for chat in range(5):
        store.put(chat, {"next": chat})
    store.get(2)
    assert len(store) == 3 and store.get(0) == {} and store.get(4)["next"] == 4
    store.save()
    (tmp_path / "telegram-chats.json").write_text("{not json")
    assert len(ChatStore.in_data_dir(tmp_path)) == 0
    (tmp_path / "telegram-chats.json").write_text(json.dumps([1, 2]))
    assert len(ChatStore.in_data_dir(tmp_path)) == 0


# --- `newsdesk telegram` refusing to start -----------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ALLOWED_USER_IDS",
        "ADMIN_USER_IDS",
        "TELEGRAM_API_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def test_missing_token_is_a_clear_error_with_exit_2(clean_env, capsys):
    assert main(["telegram"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsdesk: error: TELEGRAM_BOT_TOKEN is not set") and "@BotFather" in err


def test_malformed_token_is_refused_without_echoing_it(clean_env, capsys):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "12345:my-secret-but-wrong")
    assert main(["telegram", "--public"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is malformed" in err and "my-secret" not in err


def test_no_allow_list_and_no_public_refuses_to_start(clean_env, capsys):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert main(["telegram"]) == 2
    err = capsys.readouterr().err
    assert "no ALLOWED_USER_IDS" in err and "--public" in err and TOKEN not in err
