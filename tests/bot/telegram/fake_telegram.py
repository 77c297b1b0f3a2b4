"""A fake Telegram Bot API server on 127.0.0.1 for the bot's end-to-end tests.

It speaks the Bot API over real HTTP (aiohttp, in a thread with its own event loop), so the real
python-telegram-bot Application talks to it through `TELEGRAM_API_BASE_URL`. Tests inject
updates (`message`, `document`, `press`, ...) and read what the bot did (`sent`, `calls`,
`wait_for`). It checks what Telegram would check: the token, the 4096-character limit, that
HTML parses with Telegram's tags and entities, callback data of at most 64 bytes. Faults can
be injected per method and chat (`fail_next`).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAHfakeTokenForTests_0123456789abcdefXYZ"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Newsdesk",
    "username": "newsdesk_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "blockquote", "span", "tg-spoiler", "tg-emoji",
}  # fmt: skip
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
NOT_MODIFIED = (  # what Telegram answers to an edit that changes nothing
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class TelegramHTMLError(ValueError):
    pass


class _Checker(HTMLParser):
    """Parses Telegram HTML the way the Bot API does (strictly enough for tests)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            raise TelegramHTMLError(f'unsupported start tag "{tag}"')
        if tag == "a" and not any(k == "href" and v for k, v in attrs):
            raise TelegramHTMLError("a link without href")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise TelegramHTMLError(f'unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise TelegramHTMLError("unescaped angle bracket")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise TelegramHTMLError(f"unsupported entity &{name};")
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def parse_telegram_html(text: str) -> str:
    """The visible text of a Telegram HTML message; TelegramHTMLError when Telegram would refuse
    it ("can't parse entities")."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        raise TelegramHTMLError(f'unclosed tag "{checker.stack[-1]}"')
    raw = checker.rawdata if hasattr(checker, "rawdata") else ""
    if raw.strip():
        raise TelegramHTMLError("unterminated markup")
    return "".join(checker.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class Sent:
    """A message the bot sent (and its later edits)."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    reply_markup: dict | None
    at: float
    edits: list[str] = field(default_factory=list)
    link_preview_disabled: bool = False

    @property
    def visible(self) -> str:
        return parse_telegram_html(self.text) if self.parse_mode == "HTML" else self.text

    @property
    def buttons(self) -> list[dict]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class Fault:
    method: str
    chat_id: int | None
    status: int
    body: str | None  # raw body; None: a JSON error with `description`
    description: str
    retry_after: int | None


class FakeTelegram:
    """The fake Bot API. `start()` it, point the bot at `api_url`, then inject and observe."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot = dict(BOT_USER, id=int(token.split(":")[0]))
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.commands: dict[str, list[dict]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.downloads: list[str] = []
        self.pages: dict[str, tuple[bytes, str]] = {}
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._faults: list[Fault] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.max_poll_wait = 1.0  # long polls end early, so a stopping bot is not kept waiting

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeTelegram:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Telegram server did not start")
        return self

    async def _start(self) -> None:
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_get("/pages/{path:.+}", self._page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # --- injecting updates -------------------------------------------------------------------
    @staticmethod
    def user(user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    @staticmethod
    def chat(chat_id: int) -> dict:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def _push(self, update: dict) -> dict:
        update = {"update_id": next(self._update_ids), **update}
        with self._cond:
            self._updates.append(update)
        assert self._loop is not None and self._new_update is not None
        self._loop.call_soon_threadsafe(self._new_update.set)
        return update

    def new_message(
        self, user_id: int, text: str | None = None, *, chat_id: int | None = None, **fields: Any
    ) -> dict:
        """A message from a user (in their private chat unless `chat_id` is given)."""
        chat_id = user_id if chat_id is None else chat_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.user(user_id),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0] if text.split() else text
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
        message.update(fields)
        return message

    def message(self, user_id: int, text: str | None = None, **kwargs: Any) -> dict:
        """Inject a new message; returns it (its `message_id` is what the bot replies to)."""
        message = self.new_message(user_id, text, **kwargs)
        self._push({"message": message})
        return message

    def edited(self, message: dict, text: str) -> None:
        """Inject an edit of an earlier message."""
        edited = dict(message, text=text, edit_date=int(time.time()))
        self._push({"edited_message": edited})

    def press(self, user_id: int, sent: Sent, data: str | None = None) -> str:
        """Inject a press of an inline button under a message the bot sent."""
        if data is None:
            data = sent.buttons[0]["callback_data"]
        query_id = str(next(self._message_ids))
        message = {
            "message_id": sent.message_id,
            "date": int(sent.at),
            "chat": self.chat(sent.chat_id),
            "from": self.bot,
            "text": sent.visible,
        }
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user(user_id),
                    "message": message,
                    "chat_instance": str(sent.chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    def add_file(
        self, content: bytes, *, declared_size: int | None = None, broken: bool = False
    ) -> str:
        """Make a file downloadable; returns its file_id."""
        file_id = f"file{next(self._message_ids)}"
        self.files[file_id] = {
            "content": content,
            "size": len(content) if declared_size is None else declared_size,
            "path": f"documents/{file_id}.bin",
            "broken": broken,
        }
        return file_id

    def document(
        self,
        user_id: int,
        file_name: str | None,
        content: bytes,
        *,
        declared_size: int | None = None,
        broken: bool = False,
        **kwargs: Any,
    ) -> dict:
        """Inject a message carrying a document."""
        file_id = self.add_file(content, declared_size=declared_size, broken=broken)
        document: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": self.files[file_id]["size"],
            "mime_type": "application/octet-stream",
        }
        if file_name is not None:
            document["file_name"] = file_name
        return self.message(user_id, None, document=document, **kwargs)

    def serve(self, path: str, body: str, content_type: str = "text/html") -> str:
        """Serve a web page or feed (for the bot's feed polling); returns its URL."""
        self.pages[path.lstrip("/")] = (body.encode(), content_type)
        return f"http://127.0.0.1:{self.port}/pages/{path.lstrip('/')}"

    async def _page(self, request: web.Request) -> web.Response:
        page = self.pages.get(request.match_info["path"])
        if page is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=page[0], content_type=page[1])

    # --- faults ------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        status: int = 500,
        description: str = "Internal Server Error",
        body: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next call of `method` (for this chat) with an error. In `body`, `{url}` is
        replaced by the full request URL (as some proxies echo it)."""
        with self._cond:
            self._faults.append(Fault(method, chat_id, status, body, description, retry_after))

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.method == method and fault.chat_id in (None, chat_id):
                    self._faults.remove(fault)
                    return fault
        return None

    # --- observing ---------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
        """Wait until `predicate()` is truthy (checked whenever the bot calls the server)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what or predicate}"
                    )
                self._cond.wait(min(left, 0.5))

    def messages(self, chat_id: int) -> list[Sent]:
        with self._cond:
            return [m for m in self.sent if m.chat_id == chat_id]

    def replies_to(self, message: dict) -> list[Sent]:
        """What the bot sent in reply to this message (its first part carries the reply)."""
        with self._cond:
            return [
                m
                for m in self.sent
                if m.chat_id == message["chat"]["id"] and m.reply_to == message["message_id"]
            ]

    def wait_reply(self, message: dict, timeout: float = 30.0) -> Sent:
        """The bot's reply to this message (once it has sent one)."""
        found = self.wait_for(
            lambda: self.replies_to(message), timeout, f"a reply to {message.get('text')!r}"
        )
        return found[0]

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
            ]

    def pending_updates(self) -> int:
        with self._cond:
            return len(self._updates)

    # --- the Bot API -------------------------------------------------------------------------
    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        params: dict[str, Any] = {}
        if request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = _decode(value)
                else:  # an uploaded file part
                    params[key] = value.file.read()
        for key, value in request.query.items():
            params.setdefault(key, _decode(value))
        if "chat_id" in params:
            with_int = params["chat_id"]
            params["chat_id"] = int(with_int) if str(with_int).lstrip("-").isdigit() else with_int
        return params

    def _record(self, method: str, params: dict[str, Any], status: int = 200) -> None:
        with self._cond:
            self.calls.append(Call(method, params, time.time(), status))
            self._cond.notify_all()

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, method: str, params: dict, status: int, description: str, **extra: Any):
        self._record(method, params, status)
        body = {"ok": False, "error_code": status, "description": description}
        if extra:
            body["parameters"] = extra
        return web.json_response(body, status=status)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            return self._error(method, params, 401, "Unauthorized")
        fault = self._take_fault(method, params.get("chat_id"))
        if fault is not None:
            if fault.body is not None:
                self._record(method, params, fault.status)
                text = fault.body.replace("{url}", str(request.url))
                return web.Response(status=fault.status, text=text, content_type="text/plain")
            extra = {"retry_after": fault.retry_after} if fault.retry_after else {}
            return self._error(method, params, fault.status, fault.description, **extra)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return self._error(method, params, 400, f"Bad Request: {method} is not faked")
        try:
            result = await handler(params)
        except _ApiError as exc:
            return self._error(method, params, exc.status, exc.description)
        if method.lower() != "getupdates" or result:
            self._record(method, params)
        return self._ok(result)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        with self._cond:
            self.downloads.append(path)
            self._cond.notify_all()
        for record in self.files.values():
            if record["path"] == path:
                if record["broken"]:
                    return web.Response(status=502, text=f"upstream failed: GET {request.url}")
                return web.Response(body=record["content"])
        return web.Response(status=404, text="Not Found")

    async def _m_getme(self, params: dict) -> dict:
        return self.bot

    async def _m_deletewebhook(self, params: dict) -> bool:
        return True

    async def _m_getwebhookinfo(self, params: dict) -> dict:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    async def _m_setmycommands(self, params: dict) -> bool:
        scope = params.get("scope") or {"type": "default"}
        key = json.dumps(scope, sort_keys=True)
        with self._cond:
            self.commands[key] = params.get("commands") or []
        return True

    async def _m_getupdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_wait)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._cond:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
                if ready or time.monotonic() >= deadline:
                    self._cond.notify_all()
                    return ready
                self._new_update.clear()
            with _suppress_timeout():
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())

    def _message_result(self, sent: Sent) -> dict:
        result: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(sent.at),
            "chat": self.chat(sent.chat_id),
            "from": self.bot,
            "text": sent.visible,
        }
        if sent.reply_markup:
            result["reply_markup"] = sent.reply_markup
        return result

    @staticmethod
    def _check_text(params: dict) -> str:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        visible = text
        if params.get("parse_mode") == "HTML":
            try:
                visible = parse_telegram_html(text)
            except TelegramHTMLError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif params.get("parse_mode"):
            raise _ApiError(400, f"Bad Request: unsupported parse_mode {params['parse_mode']}")
        if not visible.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return text

    async def _m_sendmessage(self, params: dict) -> dict:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise _ApiError(400, "Bad Request: chat not found")
        text = self._check_text(params)
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is None and params.get("reply_to_message_id"):
            reply_to = int(params["reply_to_message_id"])
        preview = params.get("link_preview_options") or {}
        sent = Sent(
            message_id=next(self._message_ids),
            chat_id=chat_id,
            text=text,
            parse_mode=params.get("parse_mode"),
            reply_to=reply_to,
            reply_markup=params.get("reply_markup"),
            at=time.time(),
            link_preview_disabled=bool(preview.get("is_disabled"))
            or bool(params.get("disable_web_page_preview")),
        )
        with self._cond:
            self.sent.append(sent)
        return self._message_result(sent)

    async def _m_editmessagetext(self, params: dict) -> dict:
        text = self._check_text(params)
        with self._cond:
            for sent in self.sent:
                if sent.chat_id == params.get("chat_id") and sent.message_id == int(
                    params.get("message_id") or 0
                ):
                    if sent.text == text and sent.reply_markup == params.get("reply_markup"):
                        raise _ApiError(400, NOT_MODIFIED)
                    sent.edits.append(sent.text)
                    sent.text = text
                    sent.parse_mode = params.get("parse_mode")
                    sent.reply_markup = params.get("reply_markup")
                    return self._message_result(sent)
        raise _ApiError(400, "Bad Request: message to edit not found")

    async def _m_sendchataction(self, params: dict) -> bool:
        return True

    async def _m_answercallbackquery(self, params: dict) -> bool:
        return True

    async def _m_getfile(self, params: dict) -> dict:
        record = self.files.get(str(params.get("file_id")))
        if record is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if record["size"] > 20 * 2**20:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": params["file_id"],
            "file_unique_id": f"u{params['file_id']}",
            "file_size": record["size"],
            "file_path": record["path"],
        }


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        return exc_type is TimeoutError


def _decode(value: str) -> Any:
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
