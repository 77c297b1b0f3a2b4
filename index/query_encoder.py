"""Query embeddings without torch: the same fp32 BERT weights, run forward in numpy.

Importing torch and sentence-transformers takes ~7 s on a small machine, which is most of a cold
start, while a query is one short sequence: a numpy forward pass over the model's own safetensors
weights costs a few milliseconds and gives the vectors the torch model gives (cosine > 0.99999; see
BENCHMARKS.md). Only the architecture sentence-transformers calls "BertModel + mean pooling +
Normalize" is supported (all-MiniLM-L6-v2, the default, and its BERT relatives); `load()` returns
None for anything else, and callers fall back to the torch model.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

_MAX_TOKENS = 512


def load(model_dir: str | Path) -> QueryEncoder | None:
    """A numpy encoder for the sentence-transformers model in `model_dir`, or None if unsupported."""
    folder = Path(model_dir)
    try:
        config = json.loads((folder / "config.json").read_text())
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pooling_dir / "config.json").read_text())
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    supported = (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and kinds == ["Transformer", "Pooling", "Normalize"]
        and pooling.get("pooling_mode_mean_tokens")
        and not any(
            pooling.get(k)
            for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
            + ("pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens")
            + ("pooling_mode_lasttoken",)
        )
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )
    if not supported:
        return None
    max_len = int(st_config.get("max_seq_length") or _MAX_TOKENS)
    return QueryEncoder(folder, config, min(max_len, int(config["max_position_embeddings"])))


class QueryEncoder:
    """`encode(text) -> float32 unit vector`, thread-safe; weights load on the first call."""

    def __init__(self, folder: Path, config: dict, max_tokens: int) -> None:
        self.folder, self.config, self.max_tokens = folder, config, max_tokens
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self._lock = threading.Lock()
        self._weights: dict[str, np.ndarray] | None = None
        self._tokenizer = None
        self._one_thread: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext

    def _load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights = {k.removeprefix("bert."): v for k, v in load_file(self.folder / "model.safetensors").items()}  # fmt: skip
        for key, value in list(weights.items()):
            if key.endswith(".weight") and value.ndim == 2 and "embeddings" not in key:
                weights[key] = np.ascontiguousarray(value.T)  # (in, out): x @ W
        for i in range(self.layers):  # one matmul for query, key and value
            p = f"encoder.layer.{i}.attention.self."
            names = ("query", "key", "value")
            weights[p + "qkv.weight"] = np.concatenate([weights.pop(f"{p}{n}.weight") for n in names], 1)  # fmt: skip
            weights[p + "qkv.bias"] = np.concatenate([weights.pop(f"{p}{n}.bias") for n in names])
        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()
        self._weights, self._tokenizer = weights, tokenizer
        self._one_thread = _blas_single_thread()

    @property
    def dim(self) -> int:
        return int(self.config["hidden_size"])

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            if self._weights is None:
                self._load()
            ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        with self._one_thread():
            return self._forward(ids)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        w = self._weights
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        n, d = x.shape
        h = self.heads
        scale = np.float32(1.0 / np.sqrt(d // h))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = x @ w[f"{p}attention.self.qkv.weight"] + w[f"{p}attention.self.qkv.bias"]
            q, k, v = np.ascontiguousarray(qkv.reshape(n, 3, h, d // h).transpose(1, 2, 0, 3))
            scores = np.matmul(q, k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = np.matmul(scores, v).transpose(1, 0, 2).reshape(n, d)
            attn = context @ w[f"{p}attention.output.dense.weight"]
            x = self._norm(x + attn + w[f"{p}attention.output.dense.bias"], f"{p}attention.output.LayerNorm")  # fmt: skip
            inner = _gelu(x @ w[f"{p}intermediate.dense.weight"] + w[f"{p}intermediate.dense.bias"])
            out = inner @ w[f"{p}output.dense.weight"] + w[f"{p}output.dense.bias"]
            x = self._norm(x + out, f"{p}output.LayerNorm")
        pooled = x.mean(axis=0)  # one sequence, no padding: every token counts
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        w = self._weights
        return (x - mean) / np.sqrt(var + self.eps) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU BERT uses; erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))  # fmt: skip
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


def _blas_single_thread() -> Callable[[], contextlib.AbstractContextManager]:
    """A context that keeps BLAS on one thread: for matrices this small, OpenBLAS's threads only
    spin against each other (and against other work on a busy machine), 3-10x slower here."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")
