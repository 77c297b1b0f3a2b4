"""Shared fixtures: the embedding model loads once per test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = SHARED / "seed" / "articles.jsonl"


@pytest.fixture(scope="session")
def embedder():
    """The default sentence-transformers model, shared by every test."""
    from index.embedding import Embedder

    model = Embedder()
    model.encode(["warm up"])
    return model


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SEED.is_file():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
