"""The reader training script runs, checkpoints, stops and resumes where it left off: from its
full checkpoint on the same machine, and from the compact committed copy on a fresh one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "train_reader.py"
TINY = ["--max-examples", "24", "--max-length", "96", "--stride", "32", "--batch-size", "4"]
TINY += ["--epochs", "1", "--negatives", "0.25"]
SESSION = ["--dev-size", "6", "--dev-negatives", "6", "--threads", "1"]


ENV = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _command(run_dir: Path, publish: Path, *extra: str) -> list[str]:
    command = [sys.executable, str(SCRIPT), "--run-dir", str(run_dir), "--publish", str(publish)]
    return command + SESSION + list(extra)


def _train(run_dir: Path, publish: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(run_dir, publish, *extra), capture_output=True, text=True, timeout=600, env=ENV
    )


def test_a_stopped_run_resumes_from_its_checkpoint_and_finishes(tmp_path, shared_data):
    run_dir, publish = tmp_path / "run", tmp_path / "resume"
    first = _train(run_dir, publish, "--new", *TINY, "--stop-at-step", "2")
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoint = run_dir / "checkpoint"
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["step"] == 2 and state["batch_in_block"] == 2 and state["epoch"] == 0
    assert (checkpoint / "model.safetensors").is_file() and (
        checkpoint / "tokenizer.json"
    ).is_file()
    assert [d["step"] for d in state["dev"]] == [0, 2]  # scored before training and at the stop
    assert all(0 <= d["f1"] <= 100 and d["n"] == 6 for d in state["dev"])
    assert all(0 <= d["refused_unanswerable"] <= 100 for d in state["dev"])
    # 24 answerable + 8 unanswerable (a quarter of 32), planned over the whole plan
    assert state["planned_steps"] == 9
    best = json.loads((run_dir / "best" / "state.json").read_text())  # the only score so far
    assert best["step"] == 2 and (run_dir / "best" / "model.safetensors").is_file()
    assert [f.name for f in (run_dir / "snapshots").iterdir()] == ["step-2.safetensors"]

    refused = _train(run_dir, publish, "--new", *TINY)
    assert refused.returncode == 2 and "--resume" in refused.stderr

    second = _train(run_dir, publish)  # no flags: carries on with the saved plan
    assert second.returncode == 0, second.stderr[-2000:]
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["step"] > 2 and state["epoch"] == 1 and state["windows_seen"] >= 32
    assert state["args"]["max_examples"] == 24  # the saved plan, not the defaults
    assert state["examples_seen"] == 32
    assert not (run_dir / "checkpoint.tmp").exists()


def test_a_fresh_machine_resumes_from_the_compact_copy(tmp_path, shared_data):
    publish = tmp_path / "resume"
    first = _train(tmp_path / "run-a", publish, "--new", *TINY, "--stop-at-step", "3")
    assert first.returncode == 0, first.stderr[-2000:]
    with safe_open(str(publish / "model.safetensors"), "pt") as weights:
        assert {str(weights.get_tensor(k).dtype) for k in weights.keys()} == {"torch.float16"}  # noqa: SIM118
    assert not (publish / "optim.pt").exists()
    assert json.loads((publish / "state.json").read_text())["step"] == 3

    # another machine: no full checkpoint, only what was committed
    second = _train(tmp_path / "run-b", publish, "--resume", "--stop-at-step", "5")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "compact copy" in second.stdout
    state = json.loads((tmp_path / "run-b" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 5 and state["rewarm_from"] == 3
    assert state["args"]["max_examples"] == 24


def test_resume_with_nothing_to_resume_is_refused(tmp_path, shared_data):
    result = _train(tmp_path / "run", tmp_path / "resume", "--resume", *TINY)
    assert result.returncode == 2 and "nothing to resume" in result.stderr


def test_the_best_checkpoint_is_the_one_no_later_dev_score_beat():
    from training.train_reader import is_best

    before = {"step": 0, "f1": 11.0}  # the untrained model's score does not count
    assert is_best([before, {"step": 10, "f1": 70.0}])
    assert is_best([before, {"step": 10, "f1": 70.0}, {"step": 20, "f1": 71.5}])
    assert not is_best([before, {"step": 10, "f1": 70.0}, {"step": 20, "f1": 69.9}])
    assert not is_best([before])


def test_kill_ends_a_background_run_with_a_checkpoint(tmp_path, shared_data):
    """`kill PID` (SIGTERM) stops the run like Ctrl-C does, even when it was started in the
    background with SIGINT ignored, and leaves its checkpoint and compact copy at that step."""
    import signal
    import time

    run_dir, publish, log = tmp_path / "run", tmp_path / "resume", tmp_path / "stderr.log"
    long_plan = ["--new", *TINY[:-4], "--epochs", "200", "--negatives", "0.25"]
    with log.open("w") as stderr:
        run = subprocess.Popen(
            _command(run_dir, publish, *long_plan),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=ENV,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `nohup &` does
        )
        deadline = time.monotonic() + 300
        while "loss=" not in log.read_text() and run.poll() is None:  # a first step is done
            assert time.monotonic() < deadline, "the run never started training"
            time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        stdout, _ = run.communicate(timeout=300)
    assert run.returncode == 130, log.read_text()[-2000:]
    assert "interrupted" in stdout
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert 0 < state["step"] < state["planned_steps"]
    assert json.loads((publish / "state.json").read_text())["step"] == state["step"]
