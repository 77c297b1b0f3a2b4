"""Import the repository's `benchmarks` package, not the one pysbd installs under the same name."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[0] != ROOT:
    sys.path.insert(0, ROOT)
loaded = sys.modules.get("benchmarks")
if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(ROOT):
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        del sys.modules[name]
