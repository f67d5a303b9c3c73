"""Benchmark GRPO training steps: seconds per step, how a step splits, peak memory, per dtype.

Each configuration is a real `laimark-train` run of `--steps` steps on the embedded model, in its
own process (so its peak RSS is its own), on the shipped curriculum. From its train_log.jsonl:
seconds per step, and per step the time in generation (`generate_seconds`), in the reward
(`reward_seconds`, sandbox judging) and the rest (log-probabilities, backward, optimiser). The
CPU model and whether it has native bf16 are recorded with the figures, since bf16 is emulated
(and slow) on CPUs without it.

Run (about 25 minutes on 2 CPU cores at the defaults), under the lock that keeps heavy jobs apart:
    nohup flock /tmp/laimark-heavy.lock .venv/bin/python scripts/bench_train.py \
        --out runs/bench_train > /tmp/bench_train.log 2>&1 &
Extra arguments after `--` go to laimark-train (e.g. `-- --max_completion_length 384`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from laimark.core.runs import cpu_model  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    p.add_argument("--recipe", default="small")
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--per_device_train_batch_size", type=int, default=8)
    p.add_argument("--max_completion_length", type=int, default=128)
    p.add_argument("--curriculum", default=str(ROOT / "data" / "calibrated_selfgen.jsonl"))
    p.add_argument("--out", type=Path, required=True, help="a folder for the runs and summary")
    p.add_argument("extra", nargs="*", help="more laimark-train flags, after --")
    return p.parse_args(argv)


def run_one(args, dtype: str) -> dict:
    out = args.out / dtype
    shutil.rmtree(out, ignore_errors=True)
    command = [
        str(Path(sys.executable).with_name("laimark-train")),
        "--selfgen_only",
        "--model", args.model,
        "--curriculum", args.curriculum,
        "--recipe", args.recipe,
        "--dtype", dtype,
        "--per_device_train_batch_size", str(args.per_device_train_batch_size),
        "--max_completion_length", str(args.max_completion_length),
        "--max_steps", str(args.steps),
        "--save_steps", str(args.steps),
        "--seed", "42",
        "--output_dir", str(out),
        *args.extra,
    ]  # fmt: skip
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    meta = json.loads((out / "adapter.meta.json").read_text())
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x]

    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(sum(values) / len(values), 1) if values else None

    seconds, generate, reward = mean("seconds"), mean("generate_seconds"), mean("reward_seconds")
    return {
        "dtype": dtype,
        "steps": len(rows),
        "seconds_per_step": seconds,
        "generate_seconds": generate,
        "reward_seconds": reward,
        "rest_seconds": round(seconds - generate - reward, 1)
        if None not in (seconds, generate, reward)
        else None,
        "completion_tokens_mean": mean("completions/mean_length"),
        "peak_rss_mib": meta["counts"]["peak_rss_mib"],
        "config": {
            k: meta["config"][k]
            for k in (
                "per_device_train_batch_size",
                "num_generations",
                "max_completion_length",
                "lora_target_modules",
            )
        },
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from laimark.models.loading import cpu_has_native_bf16

    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "cpu": cpu_model(),
        "native_bf16": cpu_has_native_bf16(),
        "recipe": args.recipe,
        "runs": [run_one(args, d) for d in args.dtypes],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nCPU: {summary['cpu']} (native bf16: {summary['native_bf16']}), recipe {args.recipe}")
    print("| dtype | s/step | generation | reward | rest (log-probs, backward) | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in summary["runs"]:
        print(
            f"| {r['dtype']} | {r['seconds_per_step']} | {r['generate_seconds']} | "
            f"{r['reward_seconds']} | {r['rest_seconds']} | {r['peak_rss_mib']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
