"""Candidate answer spans in a passage: names, numbers, dates and noun phrases, with coarse types.

Rule-based and dependency-free (about a millisecond per passage). Offsets are local to the passage
text. The types are those of `qtype`; a candidate carries a weight per type it may be, because a
capitalised name without context ("Jordan") may be a place, a person or an organisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.tokenize import STOPWORDS, tokenize

_TOKEN = re.compile(
    r"""[$£€¥]?\d+(?:[.,:/]\d+)*(?:%|s\b|st\b|nd\b|rd\b|th\b)?   # numbers, money, %, 1990s, 19th
    |[A-Za-z](?:\.[A-Za-z])+\.?                                # U.S., U.N., a.m.
    |\w+(?:[-&]\w+)*                                           # words, hyphenated words
    |['’]s\b                                                   # possessive
    |[^\w\s]                                                   # punctuation""",
    re.VERBOSE,
)
ABBREVIATIONS = frozenset(
    """mr mrs ms dr gen col lt sgt capt cpl maj adm cmdr sen rep gov prof rev st jr sr inc corp co
    ltd vs no nos jan feb mar apr jun jul aug sep sept oct nov dec mt ft fig approx dept est univ
    pres gens sens reps""".split()
)
TITLES = frozenset(
    """mr mrs ms dr gen col lt sgt capt cpl maj adm cmdr sen rep gov prof rev sir dame lord lady
    king queen prince princess president pope minister judge justice chancellor secretary senator
    governor general chairman chairwoman director commissioner ambassador premier emperor sheikh
    archbishop bishop cardinal father saint coach speaker""".split()
)
PERSON_CUES = frozenset(
    """president minister chief leader spokesman spokeswoman spokesperson secretary director
    chairman chairwoman ceo founder head commander general officer senator governor mayor coach
    author writer singer actor actress judge lawyer attorney analyst professor economist
    correspondent editor manager player striker captain champion son daughter wife husband
    brother sister father mother""".split()
)
ORG_WORDS = frozenset(
    """inc corp corporation co company companies ltd llc plc group bank university college school
    institute institution association council committee commission agency department ministry
    office party union federation league club team foundation society organization
    organisation board court senate congress parliament house assembly army navy force forces
    police service services news times post journal network airlines airways motors systems
    technologies partners fund church museum hospital administration government reserve
    exchange""".split()
)
PLACE_WORDS = frozenset(
    """river mountain mountains mount lake ocean sea island islands street avenue road city county
    province state valley bay park republic kingdom desert peninsula gulf strait coast region
    district square bridge airport station harbor harbour canal basin""".split()
)
DEMONYMS = frozenset(
    """german thai french dutch greek swiss irish welsh scottish british english turkish arab
    kurdish jewish muslim christian catholic protestant democrat democrats democratic republican
    republicans iraqi israeli saudi pakistani kuwaiti qatari yemeni afghan european asian african
    palestinian american americans""".split()
)
_DEMONYM_END = re.compile(r"(?:ian|ean|ican|ese|ish|ani|eli|aqi)s?$")
MONTHS = frozenset(
    """january february march april may june july august september october november december jan
    feb mar apr jun jul aug sep sept oct nov dec""".split()
)
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred thousand million billion trillion dozen dozens hundreds thousands millions""".split()
)
MULTIPLIERS = frozenset("hundred thousand million billion trillion bn m mln k".split())
CURRENCIES = frozenset(
    """dollar dollars usd pound pounds sterling euro euros yen yuan rupee rupees cent cents
    franc francs""".split()
)
PERCENT_WORDS = frozenset({"percent", "per", "%", "percentage"})
TIME_UNITS = frozenset(
    """second seconds minute minutes hour hours day days week weeks month months year years
    decade decades century centuries""".split()
)
CONNECTORS = frozenset({"of", "de", "del", "la", "von", "van", "da", "for", "&", "-", "the"})
# Capitalised words that start sentences without being names.
COMMON_STARTS = frozenset(
    """however after before during although though while since despite according earlier later
    meanwhile today yesterday last many some several most one two three this that these those
    there here when where what who why how if as but and also even still yet instead thus so
    then now such each every both other another all no not only under over in on at by for from
    with without within about into through between among against toward towards while""".split()
)
_SENT_END = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+[\"“‘(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    sentence: int


@dataclass(slots=True)
class Candidate:
    """A possible answer: `text == passage[start:end]`, tokens `first..last` (inclusive)."""

    start: int
    end: int
    text: str
    first: int
    last: int
    sentence: int
    types: dict[str, float] = field(default_factory=dict)
    # For an answer resolved from a pronoun or a description ("the kingdom" -> "Jordan"): the token
    # range of that mention, which stands for the candidate when measuring closeness.
    mention: tuple[int, int] | None = None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: a fast rule splitter that knows common abbreviations."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENT_END.finditer(text):
        if match.group().startswith((".",)) and match.group().rstrip("\"”’')]") == ".":
            before = re.search(r"([A-Za-z][A-Za-z.]*)$", text[start : match.start()])
            word = before.group(1).casefold() if before else ""
            if word.rstrip(".") in ABBREVIATIONS or len(word) == 1 or "." in word:
                continue
        end = match.end() if not match.group().startswith("\n") else match.start()
        _add(text, spans, start, end)
        start = match.end()
    _add(text, spans, start, len(text))
    return spans


def _add(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def tokenize_passage(text: str) -> tuple[list[Token], list[tuple[int, int]]]:
    """The passage's tokens (with their sentence numbers) and its sentence spans."""
    sentences = split_sentences(text)
    tokens: list[Token] = []
    for number, (start, end) in enumerate(sentences):
        for m in _TOKEN.finditer(text, start, end):
            tokens.append(Token(m.group(), m.start(), m.end(), number))
    return tokens, sentences


def term_of(word: str) -> str | None:
    """The BM25 term of one token, or None for stopwords and punctuation."""
    terms = tokenize(word)
    return terms[0] if terms else None


def _is_word(tok: Token) -> bool:
    return tok.text[0].isalpha()


def _is_cap(tokens: list[Token], i: int, lower_forms: set[str]) -> bool:
    tok = tokens[i]
    if not _is_word(tok) or not tok.text[0].isupper():
        return False
    folded = tok.text.casefold().rstrip(".")
    if folded in MONTHS or folded in WEEKDAYS:
        return False
    sentence_start = (
        i == 0 or tokens[i - 1].sentence != tok.sentence or tokens[i - 1].text in '"“‘('
    )
    if sentence_start:
        return folded not in STOPWORDS and folded not in COMMON_STARTS and folded not in lower_forms
    return True


def _is_demonym(word: str) -> bool:
    folded = word.casefold()
    return folded in DEMONYMS or bool(_DEMONYM_END.search(folded)) and len(folded) > 4


def _name_types(tokens: list[Token], first: int, last: int, titled: bool) -> dict[str, float]:
    words = [t.text.casefold().rstrip(".") for t in tokens[first : last + 1] if _is_word(t)]
    names = [w for w in words if w not in CONNECTORS]
    prev = tokens[first - 1].text.casefold().rstrip(".") if first > 0 else ""
    nxt = tokens[last + 1].text.casefold() if last + 1 < len(tokens) else ""
    if titled or prev in PERSON_CUES:
        return {"PERSON": 1.0, "ENTITY": 0.5}
    if any(w in ORG_WORDS for w in names):
        return {"ORG": 1.0, "ENTITY": 0.6, "PLACE": 0.3}
    if any(w in PLACE_WORDS for w in names):
        return {"PLACE": 1.0, "ENTITY": 0.6, "ORG": 0.3}
    if len(names) == 1 and _is_demonym(tokens[first].text):
        return {"NORP": 1.0, "ENTITY": 0.3}
    single = len(names) == 1
    text = tokens[first].text
    if single and (text.isupper() and len(text) > 1 or "." in text):
        return {"ORG": 0.8, "PLACE": 0.5, "ENTITY": 0.7}
    types = {"ENTITY": 0.8, "PERSON": 0.5 if single else 0.7, "ORG": 0.5, "PLACE": 0.5}
    if nxt in {"said", "says", "told", "added", "wrote", "argued", "explained", "who"}:
        types["PERSON"] = 0.9
    if prev in {"in", "at", "near", "from", "to", "into", "across", "throughout", "outside"}:
        types["PLACE"] = 0.8
        types["PERSON"] = min(types["PERSON"], 0.4)
    return types


def _names(tokens: list[Token], lower_forms: set[str]) -> list[Candidate]:
    """Runs of capitalised words, split at titles ("Gen. Yousef Huneiti" -> PERSON)."""
    out: list[Candidate] = []
    i = 0
    while i < len(tokens):
        if not _is_cap(tokens, i, lower_forms):
            i += 1
            continue
        j = i
        while True:
            k = j + 1
            if k < len(tokens) and tokens[k].text == "." and _abbrev(tokens[j]):
                k += 1  # "Gen." stays in the run
            if k < len(tokens) and tokens[k].sentence == tokens[i].sentence:
                if _is_cap(tokens, k, lower_forms):
                    j = k
                    continue
                link = tokens[k].text.casefold()
                if (
                    link in CONNECTORS
                    and k + 1 < len(tokens)
                    and tokens[k + 1].sentence == tokens[i].sentence
                    and _is_cap(tokens, k + 1, lower_forms)
                    and link != "the"
                ):
                    j = k + 1
                    continue
            break
        out.extend(_split_run(tokens, i, j))
        i = j + 1
    return out


def _abbrev(tok: Token) -> bool:
    return tok.text.casefold() in ABBREVIATIONS or tok.text.casefold() in TITLES


def _split_run(tokens: list[Token], first: int, last: int) -> list[Candidate]:
    out: list[Candidate] = []
    titled = tokens[first - 1].text.casefold().rstrip(".") in TITLES if first > 0 else False
    start = first
    for k in range(first, last + 1):
        word = tokens[k].text.casefold()
        if word in TITLES and k < last:
            if start < k:
                out.extend(_piece(tokens, start, k - 1, titled))
            start, titled = k + 1, True
    while start <= last and not _is_word(tokens[start]):
        start += 1
    if start <= last:
        out.extend(_piece(tokens, start, last, titled))
    return out


def _piece(tokens: list[Token], first: int, last: int, titled: bool) -> list[Candidate]:
    while last > first and (tokens[last].text == "." or tokens[last].text.casefold() in CONNECTORS):
        last -= 1
    if first > last:
        return []
    # "Jordanian Gen." / "Syrian President": the demonym alone is its own candidate
    if not titled and last > first and _is_demonym(tokens[first].text):
        rest_titled = tokens[first + 1].text.casefold() in TITLES
        if rest_titled:
            return [_cand(tokens, first, first, {"NORP": 1.0, "ENTITY": 0.3})]
    return [_cand(tokens, first, last, _name_types(tokens, first, last, titled))]


def _cand(tokens: list[Token], first: int, last: int, types: dict[str, float]) -> Candidate:
    a, b = tokens[first], tokens[last]
    return Candidate(a.start, b.end, "", first, last, a.sentence, types)


def _is_number(tok: Token) -> bool:
    return tok.text[0].isdigit() or tok.text[0] in "$£€¥" or tok.text.casefold() in NUMBER_WORDS


def _numbers(tokens: list[Token]) -> list[Candidate]:
    """Numbers with their multiplier, currency, percent sign or unit; years and dates."""
    out: list[Candidate] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        folded = tok.text.casefold().rstrip(".")
        if folded in MONTHS and tok.text[0].isupper():
            j = i
            if j + 1 < n and tokens[j + 1].text.isdigit() and len(tokens[j + 1].text) <= 2:
                j += 1
            if j + 2 < n and tokens[j + 1].text == "," and _year(tokens[j + 2].text):
                j += 2
            elif j + 1 < n and _year(tokens[j + 1].text):
                j += 1
            if i > 0 and tokens[i - 1].text.isdigit() and len(tokens[i - 1].text) <= 2:
                out.append(_cand(tokens, i - 1, j, {"DATE": 1.0}))
            out.append(_cand(tokens, i, j, {"DATE": 1.0 if j > i else 0.8}))
            i = j + 1
            continue
        if folded in WEEKDAYS and tok.text[0].isupper():
            out.append(_cand(tokens, i, i, {"DATE": 0.7}))
            i += 1
            continue
        if not _is_number(tok):
            i += 1
            continue
        j = i
        while j + 1 < n and (
            tokens[j + 1].text.casefold() in MULTIPLIERS
            or tokens[j + 1].text.casefold() in NUMBER_WORDS
            and tokens[j].text.casefold() in NUMBER_WORDS
        ):
            j += 1
        text = tok.text
        nxt = tokens[j + 1].text.casefold() if j + 1 < n else ""
        if text.endswith("%") or nxt in PERCENT_WORDS:
            end = j + 1 if nxt in ("percent", "%") else j + 2 if nxt == "per" else j
            out.append(_cand(tokens, i, min(end, n - 1), {"PERCENT": 1.0, "NUMBER": 0.5}))
        elif text[0] in "$£€¥":
            out.append(_cand(tokens, i, j, {"MONEY": 1.0, "NUMBER": 0.5, "QUANTITY": 0.5}))
        elif nxt in CURRENCIES:
            out.append(_cand(tokens, i, j + 1, {"MONEY": 1.0, "QUANTITY": 0.6}))
            out.append(_cand(tokens, i, j, {"NUMBER": 0.7}))
        elif j == i and _year(text):
            out.append(_cand(tokens, i, i, {"DATE": 0.9, "NUMBER": 0.3}))
        elif re.fullmatch(r"\d{2,4}s", text):
            out.append(_cand(tokens, i, i, {"DATE": 0.9}))
        elif re.fullmatch(r"\d+(st|nd|rd|th)", text) and nxt in ("century", "centuries"):
            out.append(_cand(tokens, i, j + 1, {"DATE": 1.0}))
        elif nxt in TIME_UNITS:
            out.append(_cand(tokens, i, j + 1, {"DURATION": 1.0, "QUANTITY": 0.6}))
            out.append(_cand(tokens, i, j, {"NUMBER": 0.8}))
        else:
            out.append(_cand(tokens, i, j, {"NUMBER": 1.0, "QUANTITY": 0.5}))
            if nxt.isalpha() and nxt not in STOPWORDS and j + 1 < n:
                out.append(_cand(tokens, i, j + 1, {"QUANTITY": 1.0, "NUMBER": 0.3}))
        i = j + 1
    return out


def _year(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1000 <= int(text) <= 2100


def _noun_phrases(tokens: list[Token], max_len: int = 6) -> list[Candidate]:
    """Runs of content words between stopwords and punctuation (a cheap noun-phrase proxy)."""
    out: list[Candidate] = []
    run: list[int] = []
    for i, tok in enumerate(tokens + [Token(".", 0, 0, -1)]):
        folded = tok.text.casefold()
        content = tok.sentence >= 0 and (
            _is_word(tok) and folded not in STOPWORDS or tok.text[0].isdigit()
        )
        joins = folded in ("of", "-") and run and i + 1 < len(tokens)
        if content and (not run or tokens[run[-1]].sentence == tok.sentence):
            run.append(i)
            continue
        if joins:
            run.append(i)
            continue
        while run and tokens[run[-1]].text.casefold() in ("of", "-"):
            run.pop()
        if run and len(run) <= max_len:
            out.append(_cand(tokens, run[0], run[-1], {"NP": 1.0}))
        run = [i] if content else []
    return out


def extract(text: str, tokens: list[Token]) -> list[Candidate]:
    """Every candidate span in the passage, each span once (its types merged)."""
    lower_forms = {t.text for t in tokens if _is_word(t) and t.text.islower()}
    found: dict[tuple[int, int], Candidate] = {}
    for cand in _names(tokens, lower_forms) + _numbers(tokens) + _noun_phrases(tokens):
        cand.text = text[cand.start : cand.end]
        seen = found.get((cand.start, cand.end))
        if seen is None:
            found[(cand.start, cand.end)] = cand
        else:
            for kind, weight in cand.types.items():
                seen.types[kind] = max(weight, seen.types.get(kind, 0.0))
    _spread_person_names(found.values())
    return sorted(found.values(), key=lambda c: (c.start, c.end))


def _spread_person_names(cands) -> None:
    """A surname seen in a titled name ("Gen. Yousef Huneiti") is a person elsewhere too."""
    cands = list(cands)
    people = {
        c.text.split()[-1] for c in cands if c.types.get("PERSON", 0) >= 1.0 and c.text.split()
    }
    for c in cands:
        words = c.text.split()
        if words and words[-1] in people and c.text[0].isupper():
            c.types["PERSON"] = max(c.types.get("PERSON", 0.0), 0.9)
