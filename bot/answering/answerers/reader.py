"""The trained extractive reader: question + best passages -> answer span, with ONNX Runtime.

`models/reader/` holds an int8 ONNX export of a MiniLM span-extraction model trained by
`training/train_reader.py`, its `tokenizer.json`, and `reader.json` (window sizes and the
confidence calibration fitted on held-out dev data). No torch import on this path: ONNX Runtime
loads in a fraction of a second and runs the int8 model 2-3x faster than torch fp32 on CPU.

For each of the best `passages` hits the reader scores every span of up to `max_answer_tokens`
tokens against the window's "no answer" score ([CLS]); the confidence of a span is a logistic
function of that margin, fitted on dev data, so "not found" below the service's threshold is an
honest refusal rather than a guess.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.chunking import split_sentences
from index.models import Hit

from .aggregate import combine, logsumexp
from .answer_type import TypeFit
from .base import Span
from .headlines import headline_sources, place
from .qtype import asks_latest
from .reading import Candidate, question_terms, resolved
from .recency import newest_near_best
from .spans import best_spans
from .units import whole_units

MODEL_FILE = "model.int8.onnx"
LATEST_EXTRA_PASSAGES = 2  # "latest" questions also read a little further down the ranking
LATEST_SLACK = 0.15  # how much less confident an answer from a newer article may be and still win
# inference switches (issue #13 section 3); reader.json may set them per model
SPANS_PER_WINDOW = 1
AGGREGATE = False
WHOLE_UNITS = True  # never cut a number or name; its score effect is within one dev question
HEADLINES = True  # read each article's headline too (headlines.py): measured neutral off news
SHORT_WINDOW = 64  # windows up to this many tokens (headlines) run as their own batch
_EDGE_PUNCT = re.compile(r"^[\s\"'“‘(\[,;:]+|[\s\"'”’)\],;:.]+$")


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    max_length: int = 256
    stride: int = 64
    max_answer_tokens: int = 30
    # confidence = sigmoid(a * margin + b + c * log_p + d * log rank + e * type fit + f * cover),
    # see Candidate; older calibrations with two to five numbers leave the rest at 0
    calibration: tuple[float, ...] = (1.0, 0.0)
    spans_per_window: int = SPANS_PER_WINDOW  # the best few spans of each window are candidates
    aggregate: bool = AGGREGATE  # one answer's readings add up their evidence (aggregate.py)
    whole_units: bool = WHOLE_UNITS  # spans widened to the numbers and names they cut (units.py)
    headlines: bool = HEADLINES  # each article's headline is read as one more context

    @classmethod
    def load(cls, path: Path) -> ReaderConfig:
        raw = json.loads(path.read_text())
        return cls(
            max_length=int(raw.get("max_length", 256)),
            stride=int(raw.get("stride", 64)),
            max_answer_tokens=int(raw.get("max_answer_tokens", 30)),
            calibration=tuple(raw.get("calibration", (1.0, 0.0))),
            spans_per_window=int(raw.get("spans_per_window", SPANS_PER_WINDOW)),
            aggregate=bool(raw.get("aggregate", AGGREGATE)),
            whole_units=bool(raw.get("whole_units", WHOLE_UNITS)),
            headlines=bool(raw.get("headlines", HEADLINES)),
        )


def load_reader(
    model_dir: str | Path, passages: int = 3, threads: int = 2
) -> ReaderAnswerer | None:
    """The reader in `model_dir`, or None when no model is shipped there."""
    folder = Path(model_dir)
    if not all((folder / f).is_file() for f in (MODEL_FILE, "tokenizer.json", "reader.json")):
        return None
    return ReaderAnswerer(folder, passages=passages, threads=threads)


@dataclass(slots=True)
class _Window:
    hit_index: int
    ids: list[int]
    types: list[int]
    offsets: list[tuple[int, int] | None]  # context character offsets; None outside the context


class ReaderAnswerer:
    """Extractive reader over the top passages. Thread-safe; the model loads on first use."""

    name = "reader"

    def __init__(
        self,
        folder: Path,
        *,
        passages: int = 3,
        threads: int = 2,
        config: ReaderConfig | None = None,
    ) -> None:
        self.folder = folder
        self.passages = max(1, passages)
        self.threads = threads
        self.config = config or ReaderConfig.load(folder / "reader.json")
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(
            self.config.max_length, stride=self.config.stride, strategy="only_second"
        )
        self._tokenizer = tokenizer

    def answer(self, question: str, hits: Sequence[Hit]) -> Span | None:
        latest = asks_latest(question)
        passages = hits[: self.passages + (LATEST_EXTRA_PASSAGES if latest else 0)]
        found = self.read_hits(question, passages)
        calibration = self.config.calibration
        if latest:  # "the latest figure": a near-best span from a newer article wins
            best = newest_near_best(
                found,
                lambda c: c.confidence(calibration),
                lambda c: passages[c.hit_index].published,
                LATEST_SLACK,
            )
        else:
            best = max(found, key=lambda c: c.confidence(calibration), default=None)
        if best is None:
            return None
        hit = hits[best.hit_index]
        read_start, read_end = best.mention
        sentence = next(
            ((s, e) for s, e in split_sentences(hit.text) if s <= read_start < e),
            (0, len(hit.text)),
        )
        evidence_start, evidence_end = sentence[0], max(sentence[1], read_end)
        if best.referent_sentence >= 0:  # "the kingdom" -> "Jordan", named just before
            evidence_start = min(evidence_start, best.referent_sentence)
        start, end = hit.start + best.start, hit.start + best.end
        text = best.answer(hit.text)
        if best.sentence_before > 0:  # named in the article before the passage: quote from there
            evidence_start = -best.sentence_before
            start = hit.start - best.name_before
            end = start + len(text)
        return Span(
            text=text,
            hit_index=best.hit_index,
            start=start,
            end=end,
            confidence=best.confidence(calibration),
            evidence_start=hit.start + evidence_start,
            evidence_end=hit.start + evidence_end,
        )

    def read_hits(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        """The candidates in the hits' passages and, with `headlines`, in their articles'
        headlines, each of those moved to where a passage of its article says it."""
        ranks = article_ranks(hits)
        heads = headline_sources(hits) if self.config.headlines else []
        found = self.candidates(
            question,
            [h.text for h in hits] + [hits[i].title for i in heads],
            ranks + [ranks[i] for i in heads],
            [h.before for h in hits] + [""] * len(heads),
        )
        out = []
        for candidate in found:
            if candidate.hit_index < len(hits):
                out.append(candidate)
                continue
            title = hits[heads[candidate.hit_index - len(hits)]]
            placed = place(candidate.answer(title.title), hits, title.article_id)
            if placed is not None:  # shown in the passage that says it, not in the headline
                index, start, end = placed
                out.append(
                    replace(
                        candidate, hit_index=index, start=start, end=end, text=None,
                        read_start=-1, read_end=-1, referent_sentence=-1,
                    )
                )  # fmt: skip
        return out

    def read(
        self, question: str, contexts: Sequence[str], ranks: Sequence[int] | None = None
    ) -> tuple[int, int, int, float] | None:
        """(context index, start, end, confidence) of the best span over all contexts.

        `ranks` are the contexts' article ranks (1-based; default: each context its own article,
        in order)."""
        found = self.read_features(question, contexts, self.config.calibration, ranks)
        if found is None:
            return None
        hit_index, start, end, confidence, _ = found
        return hit_index, start, end, confidence

    def read_features(
        self,
        question: str,
        contexts: Sequence[str],
        calibration: Sequence[float],
        ranks: Sequence[int] | None = None,
    ) -> tuple[int, int, int, float, tuple[float, float]] | None:
        """The best span under `calibration`, with its raw (margin, log_p) features."""
        best = None
        for found in self.candidates(question, contexts, ranks):
            confidence = found.confidence(calibration)
            if best is None or confidence > best[3]:
                best = (found.hit_index, found.start, found.end, confidence, found.features[:2])
        return best

    def candidates(
        self,
        question: str,
        contexts: Sequence[str],
        ranks: Sequence[int] | None = None,
        befores: Sequence[str] | None = None,
    ) -> list[Candidate]:
        """The answers the reader finds in the contexts (contexts in retrieval order): the best
        `spans_per_window` spans of every window, references resolved to names, typed against
        the question, and with `aggregate` one candidate per distinct answer.

        `befores[i]` is the article text before context i (for references at its start)."""
        readings = self.readings(question, contexts, ranks)
        if not readings:
            return []
        typer, terms = TypeFit.of(question), question_terms(question)
        found = [resolved(r, contexts, befores, typer, terms) for r in readings]
        if self.config.aggregate:
            calibration = self.config.calibration
            found = combine(
                found,
                lambda c: c.answer(contexts[c.hit_index]),
                lambda c: c.confidence(calibration),
            )
        return found

    def readings(
        self, question: str, contexts: Sequence[str], ranks: Sequence[int] | None = None
    ) -> list[Candidate]:
        """The best `spans_per_window` spans of every window over the contexts, each span once
        (at the best score any window gave it), trimmed and, with `whole_units`, widened."""
        if not contexts:
            return []
        ranks = list(ranks) if ranks is not None else list(range(1, len(contexts) + 1))
        with self._lock:
            if self._session is None:
                self._load()
            windows = self._windows(question, contexts)
        if not windows:
            return []
        start_logits, end_logits = self._run(windows)
        best: dict[tuple[int, int, int], Candidate] = {}
        keep = max(1, self.config.spans_per_window)
        for row, window in enumerate(windows):
            context = contexts[window.hit_index]
            kept: dict[tuple[int, int, int], Candidate] = {}
            for span in best_spans(
                start_logits[row],
                end_logits[row],
                window.offsets,
                max_answer_tokens=self.config.max_answer_tokens,
                top_n=keep + 4,
            ):
                start, end = _trim(context, span.start_char, span.end_char)
                if self.config.whole_units and start < end:
                    start, end = _trim(context, *whole_units(context, start, end))
                if start >= end:
                    continue
                key = (window.hit_index, start, end)
                found = Candidate(
                    window.hit_index,
                    start,
                    end,
                    span.score - span.null_score,
                    span.score - span.log_partition,
                    ranks[window.hit_index],
                )
                if key in kept:  # two spans of this window widened to one unit: one reading
                    if self.config.aggregate:
                        kept[key] = replace(
                            kept[key],
                            margin=logsumexp([kept[key].margin, found.margin]),
                            log_p=min(0.0, logsumexp([kept[key].log_p, found.log_p])),
                        )
                    continue
                if len(kept) == keep:
                    break
                kept[key] = found
            for key, found in kept.items():  # overlapping windows read one span twice: the best
                if key not in best or found.margin > best[key].margin:
                    best[key] = found
        return list(best.values())

    def _windows(self, question: str, contexts: Sequence[str]) -> list[_Window]:
        windows = []
        for index, context in enumerate(contexts):
            if not context.strip():
                continue
            encoding = self._tokenizer.encode(question, context)
            for part in [encoding, *encoding.overflowing]:
                offsets = [
                    tuple(o) if seq == 1 else None
                    for o, seq in zip(part.offsets, part.sequence_ids, strict=True)
                ]
                if any(o is not None for o in offsets):
                    windows.append(_Window(index, part.ids, part.type_ids, offsets))
        return windows

    def _run(self, windows: list[_Window]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Start and end logits of each window; short windows (headlines) run as their own
        batch, so they are not padded to a passage's length."""
        starts: list[np.ndarray] = [np.empty(0)] * len(windows)
        ends: list[np.ndarray] = [np.empty(0)] * len(windows)
        short = [i for i, w in enumerate(windows) if len(w.ids) <= SHORT_WINDOW]
        long = [i for i, w in enumerate(windows) if len(w.ids) > SHORT_WINDOW]
        for batch in (short, long):
            if not batch:
                continue
            width = max(len(windows[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                n = len(windows[i].ids)
                ids[row, :n], types[row, :n], mask[row, :n] = windows[i].ids, windows[i].types, 1
            start, end = self._session.run(
                ["start_logits", "end_logits"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
            )
            for row, i in enumerate(batch):
                starts[i], ends[i] = start[row].astype(np.float32), end[row].astype(np.float32)
        return starts, ends


def article_ranks(hits: Sequence[Hit]) -> list[int]:
    """Each hit's article's place among the hits' distinct articles: passages of one article share
    its rank, so the reader does not distrust the third passage of the best article."""
    order: dict[str, int] = {}
    return [order.setdefault(h.article_id, len(order) + 1) for h in hits]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop quotes, brackets and punctuation hanging off the ends of a span."""
    piece = text[start:end]
    lead = _EDGE_PUNCT.match(piece)
    if lead and lead.end() < len(piece):
        start += lead.end()
    tail = _EDGE_PUNCT.search(text[start:end])
    if tail and tail.start() > 0:
        end = start + tail.start()
    return start, end
