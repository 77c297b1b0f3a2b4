"""Fixtures for the answering tests: one index of the seed and QuAIL news articles per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering.service import Newsdesk
from index.settings import Settings


@pytest.fixture(scope="session")
def seed_and_quail(shared_data, embedder, tmp_path_factory) -> Path:
    """A data directory holding the seed article and the 30 QuAIL news articles (only read)."""
    data_dir = tmp_path_factory.mktemp("seed-quail")
    desk = Newsdesk(Settings(data_dir=data_dir), embedder=embedder, answerer=None)
    files = [shared_data / "seed" / "articles.jsonl", shared_data / "quail_news" / "articles.jsonl"]
    assert desk.index_paths([str(f) for f in files]).ok
    return data_dir


@pytest.fixture(scope="session")
def sample_data(embedder, tmp_path_factory) -> Path:
    """A data directory holding the bundled sample corpus, what `make chat` opens (only read)."""
    data_dir = tmp_path_factory.mktemp("samples")
    desk = Newsdesk(Settings(data_dir=data_dir), embedder=embedder, answerer=None)
    assert desk.index_paths([str(Path(__file__).resolve().parents[2] / "samples" / "articles")]).ok
    return data_dir
