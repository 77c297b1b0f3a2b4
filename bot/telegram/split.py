"""Long replies cut into Telegram messages: at most 4096 characters (as Telegram counts them,
in UTF-16 units) each, cut on paragraph, line, sentence or word boundaries, with the HTML tags
open at a cut closed there and reopened in the next message."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

MAX_MESSAGE = 4096  # Telegram's limit for one text message


_ATOM = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|\s+|[^<&\s]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
_MAX_WORD = 64  # longer words are cut into pieces so a hard cut can land inside them


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _atoms(text: str) -> list[str]:
    atoms: list[str] = []
    for atom in _ATOM.findall(text):
        if len(atom) > _MAX_WORD and not atom.startswith("<") and not atom[0].isspace():
            atoms += [atom[i : i + _MAX_WORD] for i in range(0, len(atom), _MAX_WORD)]
        else:
            atoms.append(atom)
    return atoms


def _balanced(atoms: list[str]) -> list[str]:
    """The atoms with stray closing tags dropped and unclosed tags closed at the end."""
    out: list[str] = []
    stack: list[str] = []
    for atom in atoms:
        tag = _TAG.match(atom) if atom.startswith("<") else None
        if tag and tag.group(1):
            name = tag.group(2).lower()
            if name not in stack:
                continue
            while stack[-1] != name:
                out.append(f"</{stack.pop()}>")
            stack.pop()
        elif tag:
            stack.append(tag.group(2).lower())
        out.append(atom)
    out += [f"</{name}>" for name in reversed(stack)]
    return out


def _closing(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _priority(whitespace: str, previous: str) -> int:
    if "\n\n" in whitespace:
        return 3
    if "\n" in whitespace:
        return 2
    if re.search(r"[.!?…][\"'”’)\]]*$", previous):
        return 1
    return 0


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Telegram HTML cut into messages of at most `limit` characters (UTF-16 units, tags
    included), each with balanced tags. Cuts prefer paragraph, then line, then sentence, then
    word boundaries, and only break inside a word when a word alone is too long. Formatting
    that cannot fit at all (tags nested deeper than a message allows) is dropped, never text."""
    if limit < 16:
        raise ValueError("a message must allow at least 16 characters")
    text = text.strip()
    if tg_len(text) <= limit:
        return [text] if text else []
    atoms = _balanced(_atoms(text))
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # tags open where the next message starts
    i = 0
    rounds = 0
    while i < len(atoms):
        rounds += 1
        if rounds > 4 * len(atoms) + 100:  # every round makes progress; never hang if not
            raise RuntimeError("split_html made no progress")
        while i < len(atoms) and atoms[i].isspace():
            i += 1
        if i == len(atoms):
            break
        prefix = "".join(tag for _, tag in stack)
        size = tg_len(prefix)
        cur_stack = list(stack)
        opened_at: list[int | None] = [None] * len(stack)  # atom index of each open tag
        candidates: list[tuple[int, int, list[tuple[str, str]]]] = []  # (priority, atom, stack)
        last_fit: tuple[int, list[tuple[str, str]]] | None = None  # just after a text atom
        has_text = False
        j = i
        while j < len(atoms):
            atom = atoms[j]
            tag = _TAG.match(atom) if atom.startswith("<") else None
            new_stack = cur_stack
            if tag:
                new_stack = list(cur_stack)
                if tag.group(1):
                    new_stack.pop()  # balanced: it closes the innermost open tag
                else:
                    new_stack.append((tag.group(2).lower(), atom))
            if size + tg_len(atom) + tg_len(_closing(new_stack)) > limit:
                break
            size += tg_len(atom)
            if tag and tag.group(1):
                opened_at.pop()
            elif tag:
                opened_at.append(j)
            cur_stack = new_stack
            if not tag:
                if atom.isspace():
                    if has_text:
                        candidates.append((_priority(atom, atoms[j - 1]), j, list(cur_stack)))
                else:
                    has_text = True
                    last_fit = (j + 1, list(cur_stack))
            j += 1
        if j == len(atoms):
            parts.append(prefix + "".join(atoms[i:]) + _closing(cur_stack))
            break
        cut: tuple[int, list[tuple[str, str]]] | None = None
        for wanted in (3, 2, 1, 0):
            good = [c for c in candidates if c[0] >= wanted and c[1] - i > (j - i) // 3]
            if good:
                cut = (good[-1][1], good[-1][2])
                break
        if cut is None and candidates:
            cut = (candidates[-1][1], candidates[-1][2])
        if cut is None:
            cut = last_fit
        if cut is None:  # no text fits in this message: make room, then try again
            atom = atoms[j]
            room = limit - size - tg_len(_closing(cur_stack))
            piece = ""
            if not atom.startswith(("<", "&")):
                piece = atom[: max(0, room)]
                while piece and tg_len(piece) > room:
                    piece = piece[:-1]
            if piece:  # cut a word by characters
                atoms[j : j + 1] = [piece, atom[len(piece) :]]
            elif cur_stack:  # drop the innermost formatting (its text stays)
                name, _ = cur_stack[-1]
                position = opened_at[-1]
                if position is None:  # reopened here: stack[k], deeper ones closed since
                    k = len(cur_stack) - 1
                    del stack[k]
                    _drop_closing(atoms, i, name, skip=sum(n == name for n, _ in stack[k:]))
                else:
                    del atoms[position]
                    _drop_closing(atoms, position, name)
            elif atom.startswith("<"):  # a lone tag longer than a message (a huge link)
                del atoms[j]
                _drop_closing(atoms, j, _TAG.match(atom).group(2).lower())  # type: ignore[union-attr]
            else:  # only empty elements so far: skip them, they show nothing
                stack, i = [], j
            continue
        end, end_stack = cut
        body = "".join(atoms[i:end]).rstrip()
        parts.append(prefix + body + _closing(end_stack))
        stack = end_stack
        i = end
    return [p for p in parts if plain_text(p).strip()]


def _drop_closing(atoms: list[str], start: int, name: str, skip: int = 0) -> None:
    """Delete the closing tag that matches an opening `name` tag before `start` (after `skip`
    closing tags of deeper `name` elements that were open at `start` too)."""
    depth = skip
    for k in range(start, len(atoms)):
        tag = _TAG.match(atoms[k]) if atoms[k].startswith("<") else None
        if tag and tag.group(2).lower() == name:
            if not tag.group(1):
                depth += 1
            elif depth == 0:
                del atoms[k]
                return
            else:
                depth -= 1


def plain_text(part: str) -> str:
    """What Telegram shows of some Telegram HTML: the text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", "", part))


def paragraphs_fit(texts: Iterable[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join messages with blank lines, then split the whole at `limit`."""
    return split_html("\n\n".join(t for t in texts if t), limit)
