"""Reading articles from files: .txt/.md, .html, .json, .jsonl, folders and globs."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.models import Article
from index.text import normalize, one_line, without_title_line

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".json", ".jsonl"}
MAX_FILE_BYTES = 50 * 1024 * 1024  # one document (.txt/.md/.html/.json)
MAX_LINE_BYTES = 10 * 1024 * 1024  # one JSONL line
MAX_TEXT_CHARS = 1_000_000  # one article body
# HTML extraction (trafilatura over lxml) takes time quadratic in the number of elements: 32,000
# `<p>x</p>` (250 KB) take ~9 s on a busy 2-core machine, 130,000 (1 MB) ~100 s. A long news page
# has a few thousand elements; beyond this many the page is refused before it is parsed.
MAX_HTML_ELEMENTS = 50_000
_META_KEYS = {"date": "published", "published": "published", "url": "url", "link": "url"}
_META_KEYS |= {"source": "source"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # cannot be encoded as UTF-8 (nor stored, nor hashed)


@dataclass(frozen=True, slots=True)
class IngestError:
    """Why one file or one record could not be read; `location` is `path` or `path:line`."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


def expand(paths: Iterable[str], *, follow_links: bool = False) -> Iterator[Path | IngestError]:
    """Files named by the arguments: files, folders (recursively) and glob patterns, in order.

    A path named on the command line is read even if it is a symbolic link; links met while
    walking a folder are skipped unless `follow_links` (a link to /etc/passwd inside an article
    folder is not an article)."""
    for raw in paths:
        matches = sorted(glob.glob(raw, recursive=True)) if glob.has_magic(raw) else [raw]
        if not matches:
            yield IngestError(raw, "no file matches this pattern")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                yield from _walk(path, follow_links)
            elif path.is_file():
                yield path
            elif path.exists():
                yield IngestError(str(path), "not a regular file")
            else:
                yield IngestError(str(path), "no such file or folder")


def _walk(folder: Path, follow_links: bool) -> Iterator[Path]:
    """The visible files under `folder`, sorted; links only when `follow_links` (never in a loop)."""
    seen: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=follow_links):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (follow_links or not _is_link(root, d))
        )
        for name in sorted(names):
            child = Path(root) / name
            if name.startswith(".") or (child.is_symlink() and not follow_links):
                continue
            if child.is_file():
                yield child


def _is_link(root: str, name: str) -> bool:
    return os.path.islink(os.path.join(root, name))


def read_paths(
    paths: Iterable[str], *, follow_links: bool = False
) -> Iterator[Article | IngestError]:
    """Every article in the given files, folders and globs; problems come out as IngestErrors."""
    for item in expand(paths, follow_links=follow_links):
        if isinstance(item, IngestError):
            yield item
        else:
            yield from read_file(item)


def file_id(path: Path | str) -> str:
    """The stable id of an article read from a one-article file: its name and a digest of its
    absolute path (`file:moon.txt#3f9c0a1b2d4e`), so re-indexing the same file finds the same
    article, two folders' `a.txt` stay apart, and citations never show where the files live."""
    resolved = str(Path(path).resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"file:{Path(resolved).name}#{digest}"


def read_file(path: Path) -> Iterator[Article | IngestError]:
    """The articles in one file (a .jsonl or .json file may hold many)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield IngestError(
            str(path),
            f"unknown file type {suffix or '(none)'!r}; expected one of "
            + ", ".join(sorted(SUFFIXES)),
        )
        return
    try:
        if suffix == ".jsonl":
            yield from _read_jsonl(path)
            return
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            yield IngestError(
                str(path),
                f"file too large ({size // 2**20} MB; limit {MAX_FILE_BYTES // 2**20} MB)",
            )
            return
        data = path.read_bytes()
    except OSError as exc:
        yield IngestError(str(path), f"cannot read: {exc.strerror or exc}")
        return
    text = _decode(path, data)
    if isinstance(text, IngestError):
        yield text
    elif suffix in TEXT_SUFFIXES:
        yield _from_text_file(path, text)
    elif suffix in HTML_SUFFIXES:
        yield _from_html(path, text)
    else:
        yield from _read_json(path, text)


def _decode(location: Path | str, data: bytes) -> str | IngestError:
    if b"\x00" in data[:8192]:
        return IngestError(str(location), "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return IngestError(str(location), f"not UTF-8 text (bad byte at offset {exc.start})")
    return text if text.strip() else IngestError(str(location), "empty file")


def _from_text_file(path: Path, text: str) -> Article | IngestError:
    """First non-empty line is the headline; `Key: value` lines right after it are metadata."""
    lines = normalize(text).split("\n")
    title = lines[0].lstrip("#").strip()
    meta: dict[str, str] = {}
    body_start = 1
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        field = _META_KEYS.get(key.strip().lower())
        if not sep or field is None or field in meta:
            break
        meta[field] = value.strip()
        body_start += 1
    body = "\n".join(lines[body_start:])
    return make_article(
        str(path), {"id": file_id(path), "title": title, "text": body, **meta}, origin=str(path)
    )


def html_problem(where: str, html: str | bytes) -> IngestError | None:
    """An IngestError when the page has more elements than extraction can afford, else None.
    Counts start tags (every `<` that is not `</`) without parsing: linear time, no memory."""
    lt, close = ("<", "</") if isinstance(html, str) else (b"<", b"</")
    elements = html.count(lt) - html.count(close)
    if elements > MAX_HTML_ELEMENTS:
        return IngestError(
            where, f"too many HTML elements ({elements:,}; limit {MAX_HTML_ELEMENTS:,})"
        )
    return None


def _from_html(path: Path, html: str) -> Article | IngestError:
    import trafilatura

    problem = html_problem(str(path), html)
    if problem is not None:
        return problem
    try:
        doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    except Exception as exc:  # trafilatura raises many kinds on broken markup
        return IngestError(str(path), f"cannot parse HTML ({type(exc).__name__})")
    if doc is None:
        return IngestError(str(path), "no article text found in the HTML")
    record = doc if isinstance(doc, dict) else doc.as_dict()
    title = record.get("title") or ""
    fields = {
        "id": file_id(path),
        "title": title,
        "text": without_title_line(title, record.get("text") or ""),
        "url": record.get("url"),
        "published": record.get("date"),
        "source": record.get("sitename"),
    }
    return make_article(str(path), fields, origin=str(path))


def _read_json(path: Path, text: str) -> Iterator[Article | IngestError]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        yield IngestError(where, _json_problem(exc))
        return
    if data == []:
        yield IngestError(str(path), "no articles in the file (an empty list)")
        return
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records):
        where = f"{path}[{i}]" if isinstance(data, list) else str(path)
        default_id = f"{file_id(path)}#{i}" if isinstance(data, list) else file_id(path)
        yield make_article(where, record, origin=str(path), default_id=default_id)


def _read_jsonl(path: Path) -> Iterator[Article | IngestError]:
    seen_any = False
    with path.open("rb") as handle:
        number = 0
        # readline with a limit: a line longer than that (a 100 MB file without a newline) is
        # skipped a piece at a time instead of being read into memory whole
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{path}:{number}"
            if len(raw) > MAX_LINE_BYTES:
                seen_any, size = True, len(raw)
                while not raw.endswith(b"\n") and (raw := handle.readline(2**20)):
                    size += len(raw)
                yield IngestError(
                    where,
                    f"line too long ({size // 2**20} MB; limit {MAX_LINE_BYTES // 2**20} MB)",
                )
                continue
            seen_any = seen_any or bool(raw.strip())
            if not raw.strip():
                continue
            line = _decode(where, raw)
            if isinstance(line, IngestError):
                yield line
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                yield IngestError(where, _json_problem(exc))
                continue
            yield make_article(
                where, record, origin=str(path), default_id=f"{file_id(path)}#{number}"
            )
    if not seen_any:
        yield IngestError(str(path), "empty file")


def _json_problem(exc: Exception) -> str:
    """Why `json.loads` refused a document, in a few words."""
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON ({exc.msg})"
    if isinstance(exc, RecursionError):
        return "malformed JSON (nested too deeply)"
    # Python refuses integers of more than sys.get_int_max_str_digits() digits (a ValueError)
    return "malformed JSON (a number too long to read)"


def make_article(
    where: str, record: Any, *, origin: str | None = None, default_id: str | None = None
) -> Article | IngestError:
    """An Article from a JSON-like record, or an IngestError saying what is wrong with it."""
    if not isinstance(record, dict):
        return IngestError(
            where, f"expected an object with 'title' and 'text', got {type(record).__name__}"
        )
    for key in ("id", "title", "text", "url", "published", "date", "source"):
        value = record.get(key)
        if value is not None and not isinstance(value, str | int) or isinstance(value, bool):
            return IngestError(where, f"field {key!r} must be a string, got {type(value).__name__}")
        if isinstance(value, str) and _SURROGATE.search(value):  # a JSON escape like "\ud800"
            return IngestError(where, f"field {key!r} is not valid Unicode (a lone surrogate)")
    text = normalize(str(record.get("text") or ""))
    if not text:
        return IngestError(where, "article has no text")
    if len(text) > MAX_TEXT_CHARS:
        return IngestError(where, f"article text too long ({len(text):,} characters)")
    title = one_line(normalize(str(record.get("title") or "")))
    if not title:
        title = one_line(text.split("\n", 1)[0])[:120]
    article_id = record.get("id")
    article_id = str(article_id).strip() if article_id is not None else default_id
    if not article_id:
        return IngestError(where, "article has no id")
    published = record.get("published") or record.get("date")

    def clean(value: Any) -> str | None:
        return one_line(str(value)) or None if value is not None else None

    return Article(
        id=article_id,
        title=title,
        text=text,
        url=clean(record.get("url")),
        published=clean(published),
        source=clean(record.get("source")),
        origin=origin,
    )
