"""What the feed updates remember between runs (the feed state file) and the lock that lets one
update run at a time per data directory."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from index.atomic import write_atomic
from index.indexer import IndexReport
from index.ingest.files import IngestError
from index.store.lock import LockedError

STATE_FILE = "feeds-state.json"
LOCK_FILE = "feeds.lock"
STATE_VERSION = 1


@contextlib.contextmanager
def feeds_lock(data_dir: Path) -> Iterator[None]:
    """One feed update at a time per data directory (an flock the OS drops if we die)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockedError(
            f"another feed update is running on {data_dir}; try again when it has finished"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class FeedState:
    """What was seen in each feed. Changes made by `read_feeds` are staged and only written
    by `commit()`, so entries count as seen only once the index run that took them returned."""

    def __init__(self, path: Path | None = None, data: dict | None = None) -> None:
        self.path = path
        self.feeds: dict[str, dict] = dict((data or {}).get("feeds", {}))
        self.data_dir: Path | None = path.parent if path is not None else None
        self.warning: str | None = None
        self.duplicates: list[tuple[str, str]] = []  # (id, id with the same text) this run
        self._staged: dict[str, dict] = {}

    @classmethod
    def load(cls, data_dir: Path) -> FeedState:
        path = Path(data_dir) / STATE_FILE
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unknown state format")
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            state = cls(path)
            state.warning = f"{path}: unreadable feed state ({exc}); every entry is checked again"
            return state
        return cls(path, data)

    @classmethod
    @contextlib.contextmanager
    def locked(cls, data_dir: Path) -> Iterator[FeedState]:
        """The saved state of `data_dir` for one run, under the feed lock; end with `finish`."""
        with feeds_lock(data_dir):
            yield cls.load(data_dir)

    def finish(self, report: IndexReport) -> None:
        """`commit(report)`, and an unreadable saved state reported first among the failures."""
        self.commit(report)
        if self.warning:
            report.failed.insert(0, IngestError(str(self.path), self.warning))

    @classmethod
    def in_memory(cls, data_dir: Path | None = None) -> FeedState:
        """A state that is never saved: every entry of every feed is read. With `data_dir`, copies
        of the stories indexed there are still recognised (their signatures are in its index)."""
        state = cls(None)
        state.data_dir = Path(data_dir) if data_dir is not None else None
        return state

    def feed(self, url: str) -> dict:
        return self._staged.get(url) or self.feeds.get(url) or {}

    def links(self) -> dict[str, str]:
        """Link -> article id of every entry that was indexed (or found to be a duplicate)."""
        found: dict[str, str] = {}
        for source in (self.feeds, self._staged):
            for record in source.values():
                for entry in record.get("entries", {}).values():
                    if entry.get("status") in ("indexed", "duplicate") and entry.get("link"):
                        found[entry["link"]] = (
                            entry.get("duplicate_of") or entry.get("article_id") or ""
                        )
        return found

    def texts(self) -> dict[str, str]:
        """Normalised-text hash -> article id of every indexed entry."""
        found: dict[str, str] = {}
        for record in self.feeds.values():
            for entry in record.get("entries", {}).values():
                if entry.get("status") == "indexed" and entry.get("text_hash"):
                    found[entry["text_hash"]] = entry["article_id"]
        return found

    def stage(self, url: str, record: dict) -> None:
        self._staged[url] = record

    def commit(self, report: IndexReport | None = None) -> None:
        """Apply what the last `read_feeds` saw and save it atomically. Entries whose article
        the index run reports as failed are not marked seen. Adds this run's text duplicates
        to `report.duplicates`."""
        failed = {e.location for e in report.failed} if report is not None else set()
        for url, record in self._staged.items():
            old_entries = self.feeds.get(url, {}).get("entries", {})
            for key, entry in list(record.get("entries", {}).items()):
                origin = entry.pop("_origin", None)
                if origin and origin in failed and entry.get("status") == "indexed":
                    record["validators_kept"] = True
                    if key in old_entries:
                        record["entries"][key] = old_entries[key]
                    else:
                        del record["entries"][key]
            if record.pop("validators_kept", False):
                old = self.feeds.get(url, {})
                record["etag"], record["last_modified"] = old.get("etag"), old.get("last_modified")
            self.feeds[url] = record
        self._staged.clear()
        if report is not None:
            report.duplicates.extend(self.duplicates)
        self.duplicates = []
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        # (states saved before the signatures moved into the index also held "near": dropped)
        data = {"version": STATE_VERSION, "feeds": self.feeds}
        text = json.dumps(data, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda tmp: tmp.write_text(text))
