"""Per-chat state of the Telegram bot, kept across restarts in one small JSON file.

For each chat: the conversation (`Conversation.to_dict()`) and the sources of its last few
answers, each under a short key that the answer's "Sources" button carries. Records are
plain JSON-safe dicts, replaced whole (never mutated), so `snapshot()` on the event loop and
`save()` in a thread never see a half-changed record. The file is written atomically; the
least recently used chats are dropped beyond `max_chats`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from index.atomic import write_atomic

FILE_NAME = "telegram-chats.json"
VERSION = 1
ANSWERS_KEPT = 10  # per chat: the Sources buttons of older answers say the list is gone
MAX_CHATS = 5000

log = logging.getLogger(__name__)


class ChatStore:
    """`get(chat_id) -> dict`, `put(chat_id, record)`; `save()` writes the file if changed."""

    def __init__(self, path: Path, *, max_chats: int = MAX_CHATS) -> None:
        self.path = Path(path)
        self.max_chats = max_chats
        self._chats: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._dirty = False
        self._save_lock = threading.Lock()
        self._load()

    @classmethod
    def in_data_dir(cls, data_dir: Path, **kwargs: Any) -> ChatStore:
        return cls(Path(data_dir) / FILE_NAME, **kwargs)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable chat state %s: %s", self.path, exc)
            return
        chats = data.get("chats") if isinstance(data, dict) else None
        if not isinstance(chats, dict):
            log.warning("ignoring chat state %s: not a chat store file", self.path)
            return
        items = [(k, v) for k, v in chats.items() if isinstance(v, dict)]
        items.sort(key=lambda kv: kv[1].get("updated", 0))
        self._chats = OrderedDict(items[-self.max_chats :])

    def __len__(self) -> int:
        return len(self._chats)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def get(self, chat_id: int) -> dict[str, Any]:
        """The chat's record ({} when new): `conversation`, `answers` [{key, sources}], `next`."""
        return self._chats.get(str(chat_id), {})

    def put(self, chat_id: int, record: dict[str, Any]) -> None:
        """Replace the chat's record (call from one thread: the bot's event loop)."""
        key = str(chat_id)
        self._chats[key] = {**record, "updated": time.time()}
        self._chats.move_to_end(key)
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)
        self._dirty = True

    def forget(self, chat_id: int) -> None:
        if self._chats.pop(str(chat_id), None) is not None:
            self._dirty = True

    def snapshot(self) -> dict[str, Any] | None:
        """What `save` writes, taken now (on the event loop); None when nothing changed."""
        if not self._dirty:
            return None
        self._dirty = False
        return {"version": VERSION, "chats": dict(self._chats)}

    def save(self, snapshot: dict[str, Any] | None = None) -> bool:
        """Write the snapshot (default: take one now) atomically; False when nothing changed."""
        snapshot = snapshot if snapshot is not None else self.snapshot()
        if snapshot is None:
            return False
        text = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"))
        with self._save_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return True

    def mark_dirty(self) -> None:
        """Ask for the next `snapshot` again (after a save failed)."""
        self._dirty = True


# --- records -----------------------------------------------------------------------------------
def add_answer(record: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[dict, str]:
    """A new record with this answer's sources under a fresh short key, and the key."""
    number = int(record.get("next", 0))
    key = _base36(number)
    answers = [a for a in record.get("answers", []) if isinstance(a, dict)]
    answers = (answers + [{"key": key, "sources": sources}])[-ANSWERS_KEPT:]
    return {**record, "answers": answers, "next": number + 1}, key


def answer_sources(record: dict[str, Any], key: str | None = None) -> list[dict] | None:
    """The sources of the answer with this key (default: the last answer); None when gone."""
    answers = [a for a in record.get("answers", []) if isinstance(a, dict)]
    if not answers:
        return None
    if key is None:
        return list(answers[-1].get("sources", []))
    for answer in answers:
        if answer.get("key") == key:
            return list(answer.get("sources", []))
    return None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
