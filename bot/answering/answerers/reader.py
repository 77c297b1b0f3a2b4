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
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunking import split_sentences
from index.models import Hit

from .base import Span
from .coref import implied_types, resolve
from .qtype import asks_latest
from .recency import newest_near_best
from .spans import best_spans

MODEL_FILE = "model.int8.onnx"
LATEST_EXTRA_PASSAGES = 2  # "latest" questions also read a little further down the ranking
LATEST_SLACK = 0.15  # how much less confident an answer from a newer article may be and still win
_EDGE_PUNCT = re.compile(r"^[\s\"'“‘(\[,;:]+|[\s\"'”’)\],;:.]+$")


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    max_length: int = 256
    stride: int = 64
    max_answer_tokens: int = 30
    # confidence = sigmoid(a * margin + b + c * log_p + d * log rank), see Candidate; older
    # calibrations with two or three numbers leave the rest at 0
    calibration: tuple[float, ...] = (1.0, 0.0)

    @classmethod
    def load(cls, path: Path) -> ReaderConfig:
        raw = json.loads(path.read_text())
        return cls(
            max_length=int(raw.get("max_length", 256)),
            stride=int(raw.get("stride", 64)),
            max_answer_tokens=int(raw.get("max_answer_tokens", 30)),
            calibration=tuple(raw.get("calibration", (1.0, 0.0))),
        )


def load_reader(
    model_dir: str | Path, passages: int = 3, threads: int = 2
) -> ReaderAnswerer | None:
    """The reader in `model_dir`, or None when no model is shipped there."""
    folder = Path(model_dir)
    if not all((folder / f).is_file() for f in (MODEL_FILE, "tokenizer.json", "reader.json")):
        return None
    return ReaderAnswerer(folder, passages=passages, threads=threads)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One window's best span: where it is and the raw features its confidence is fitted on."""

    hit_index: int  # which of the contexts it is in
    start: int
    end: int
    margin: float  # span score - the window's "no answer" score
    log_p: float  # the span's log-probability among the window's spans
    rank: int = 1  # its article's place among the retrieved articles (1 = the best)

    @property
    def features(self) -> tuple[float, float, float]:
        """(margin, log_p, log article rank): what the calibration's weights multiply."""
        return self.margin, self.log_p, math.log(self.rank)

    def confidence(self, calibration: Sequence[float]) -> float:
        """sigmoid(a * margin + b + c * log_p + d * log rank); missing weights count as 0."""
        a, b, c, d = (*calibration, 0.0, 0.0)[:4]
        margin, log_p, log_rank = self.features
        z = max(-30.0, min(30.0, a * margin + b + c * log_p + d * log_rank))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(slots=True)
class _Window:
    hit_index: int
    ids: list[int]
    types: list[int]
    offsets: list[tuple[int, int] | None]  # context character offsets; None outside the context


class ReaderAnswerer:
    """Extractive reader over the top passages. Thread-safe; the model loads on first use."""

    name = "reader"

    def __init__(self, folder: Path, *, passages: int = 3, threads: int = 2) -> None:
        self.folder = folder
        self.passages = max(1, passages)
        self.threads = threads
        self.config = ReaderConfig.load(folder / "reader.json")
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
        found = self.candidates(question, [h.text for h in passages], article_ranks(passages))
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
        hit_index, start, end = best.hit_index, best.start, best.end
        confidence = best.confidence(calibration)
        hit = hits[hit_index]
        sentence = next(
            ((s, e) for s, e in split_sentences(hit.text) if s <= start < e), (0, len(hit.text))
        )
        evidence_start, evidence_end = sentence[0], max(sentence[1], end)
        referent = resolve(hit.text, start, end)  # "the kingdom" -> "Jordan", named just before
        text = None
        if referent is not None:
            start, end, evidence_start = referent.start, referent.end, referent.sentence_start
        else:  # named in the article before this passage: answer the name, show the mention
            text = _named_before(hit, start, end)
        return Span(
            text=text or hit.text[start:end],
            hit_index=hit_index,
            start=hit.start + start,
            end=hit.start + end,
            confidence=confidence,
            evidence_start=hit.start + evidence_start,
            evidence_end=hit.start + evidence_end,
        )

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
        self, question: str, contexts: Sequence[str], ranks: Sequence[int] | None = None
    ) -> list[Candidate]:
        """The best span of every window over the contexts (contexts in retrieval order)."""
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
        found = []
        for row, window in enumerate(windows):
            for span in best_spans(
                start_logits[row],
                end_logits[row],
                window.offsets,
                max_answer_tokens=self.config.max_answer_tokens,
                top_n=3,
            ):
                start, end = _trim(contexts[window.hit_index], span.start_char, span.end_char)
                if start < end:
                    margin = span.score - span.null_score
                    log_p = span.score - span.log_partition
                    rank = ranks[window.hit_index]
                    found.append(Candidate(window.hit_index, start, end, margin, log_p, rank))
                    break
        return found

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

    def _run(self, windows: list[_Window]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(w.ids) for w in windows)
        ids = np.zeros((len(windows), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, window in enumerate(windows):
            n = len(window.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = window.ids, window.types, 1
        start, end = self._session.run(
            ["start_logits", "end_logits"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
        )
        return start.astype(np.float32), end.astype(np.float32)


def article_ranks(hits: Sequence[Hit]) -> list[int]:
    """Each hit's article's place among the hits' distinct articles: passages of one article share
    its rank, so the reader does not distrust the third passage of the best article."""
    order: dict[str, int] = {}
    return [order.setdefault(h.article_id, len(order) + 1) for h in hits]


def _named_before(hit: Hit, start: int, end: int) -> str | None:
    """The name a reference at the start of a passage ("The kingdom hosts ...") points back to
    in the article text just before the passage, or None."""
    if not hit.before or implied_types(hit.text[start:end]) is None:
        return None
    shift = len(hit.before)
    referent = resolve(hit.before + hit.text, start + shift, end + shift)
    if referent is None or referent.end > shift:
        return None
    return hit.before[referent.start : referent.end]


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
