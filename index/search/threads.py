"""FAISS's OpenMP threads around a single query."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import faiss


@contextlib.contextmanager
def one_omp_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread in this thread (the setting is per thread), for one query.

    A single query has nothing to split between threads, and on a small shared machine OpenMP's
    idle threads spin against the rest of the work: on 2 busy cores a flat search over 10k vectors
    took ~80 ms with 2 threads and ~0.4 ms with one (BENCHMARKS.md). Index building keeps them all.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
