"""The reader training script runs, checkpoints, stops and resumes where it left off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "train_reader.py"
TINY = ["--max-examples", "24", "--max-length", "96", "--stride", "32", "--batch-size", "4"]
TINY += ["--dev-size", "6", "--threads", "1"]


def _train(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--run-dir", str(run_dir), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_a_stopped_run_resumes_from_its_checkpoint_and_finishes(tmp_path, shared_data):
    run_dir = tmp_path / "run"
    first = _train(run_dir, *TINY, "--stop-at-step", "2")
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoint = run_dir / "checkpoint"
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["step"] == 2 and state["batch_in_block"] == 2
    assert (checkpoint / "model.safetensors").is_file() and (
        checkpoint / "tokenizer.json"
    ).is_file()
    assert [d["step"] for d in state["dev"]] == [0, 2]  # scored before training and at the stop
    assert all(0 <= d["f1"] <= 100 and d["n"] == 6 for d in state["dev"])

    refused = _train(run_dir, *TINY)
    assert refused.returncode == 2 and "--resume" in refused.stderr

    second = _train(run_dir, "--resume")
    assert second.returncode == 0, second.stderr[-2000:]
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["step"] > 2 and state["block"] == 1 and state["windows_seen"] >= 24
    assert state["args"]["max_examples"] == 24  # the saved plan, not the defaults
    assert not (run_dir / "checkpoint.tmp").exists()
