"""Averaging checkpoints of one run: the mean of their weights, as a checkpoint export takes."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from training.average import COMPACT, average, main


def test_the_average_is_the_element_wise_mean(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"w": torch.tensor([1.0, 2.0], dtype=torch.float16)}, str(a))
    save_file({"w": torch.tensor([3.0, 6.0], dtype=torch.float16)}, str(b))
    assert average([a, b])["w"].tolist() == [2.0, 4.0]


def test_checkpoints_of_another_model_are_refused(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"w": torch.zeros(2)}, str(a))
    save_file({"v": torch.zeros(2)}, str(b))
    with pytest.raises(SystemExit, match="not a checkpoint of the same model"):
        average([a, b])


def test_a_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere.safetensors"), "--out", str(tmp_path / "out")]) == 2
    assert "no weights in" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_output_is_a_checkpoint_the_reader_loads(tmp_path):
    from transformers import BertForQuestionAnswering

    out = tmp_path / "avg"
    twice = tmp_path / "step-7.safetensors"
    twice.write_bytes((COMPACT / "model.safetensors").read_bytes())
    assert main([str(COMPACT), str(twice), "--out", str(out), "--like", str(COMPACT)]) == 0
    model = BertForQuestionAnswering.from_pretrained(str(out), dtype=torch.float32)
    original = load_file(str(COMPACT / "model.safetensors"))
    name = "qa_outputs.weight"
    assert torch.equal(model.state_dict()[name], original[name].float())  # mean of one twice
    assert json.loads((out / "averaged.json").read_text())["sources"][0] == str(COMPACT)
    # the export's model card reads the run's plan and the steps averaged from state.json
    run = json.loads((COMPACT / "state.json").read_text())
    state = json.loads((out / "state.json").read_text())
    assert state["averaged_steps"] == sorted([run["step"], 7])
    assert state["step"] == max(run["step"], 7) and state["args"] == run["args"]
