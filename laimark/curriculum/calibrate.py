"""Calibration: how often does the current policy solve a problem? Keep those it sometimes solves.

Shared by `laimark-calibrate` and `generate_and_calibrate_hf.py`. Each problem is sampled
`n_samples` times with exactly the solve prompt that training and evaluation use
(`core.solve.SolveFormat`) and judged by its task type through the one harness, so the
pass rate measured here is the one the GRPO reward will see. Sample j of a problem draws from
`item_seed(item_seed(seed, "calibrate", problem.key()), j)`, and the samples of one problem form
their own batches, so a measurement never depends on which other problems are in the run.

Every measurement goes to a side file (`MeasuredStore`) as soon as it is made; a resumed run
looks problems up there and samples nothing twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

from laimark.core.config import arg, check, nested
from laimark.core.records import CalibratedProblem, JsonlAppender, Problem
from laimark.core.seeds import item_seed
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.curriculum.checks import Deduper
from laimark.curriculum.decontam import humaneval_overlap
from laimark.tasks import task_type

log = logging.getLogger(__name__)

SCHEDULES = ("sequential", "fixed")
WINDOW_RULES = ("posterior", "point")
CREDIBLE_MASS = 0.9  # of the interval recorded with each pass rate


def add_window_args(parser, prefix: str = "") -> None:
    """Calibration flags. The pipeline passes prefix "calib_" for the sampling flags, whose plain
    names belong to generation there. The solve format's flags come from `add_solve_args`."""
    g = parser.add_argument_group("calibration")
    g.add_argument(
        "--n_samples",
        "--samples",
        dest="n_samples",
        type=int,
        default=8,
        help="completions per problem (default 8)",
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="sequential",
        help="sequential (default): half of --n_samples first, stop at none or all passed, else "
        "the rest; fixed: all --n_samples for every problem (the paper's K=8)",
    )
    g.add_argument(
        "--window_rule",
        choices=WINDOW_RULES,
        default="posterior",
        help="posterior (default): keep a problem if its pass rate is more likely inside [lo, hi] "
        "than outside (Beta(1+passed, 1+failed)); point: keep if passed/samples is inside (the "
        "paper's rule)",
    )
    g.add_argument(
        "--heldout_share",
        type=float,
        default=0.15,
        help="share of in-window problems set aside (by a stable hash of each problem) in "
        "<output>.heldout.jsonl for training diagnostics and lr selection, never trained on "
        "(default %(default)s; 0 for none)",
    )
    g.add_argument("--lo", type=float, default=0.2, help="lowest pass rate kept (default 0.2)")
    g.add_argument("--hi", type=float, default=0.8, help="highest pass rate kept (default 0.8)")
    g.add_argument(
        f"--{prefix}temperature",
        dest="calib_temperature",
        type=float,
        default=0.7,
        help="sampling temperature of the policy (default 0.7)",
    )
    g.add_argument(
        f"--{prefix}top_p",
        dest="calib_top_p",
        type=float,
        default=0.95,
        help="nucleus sampling of the policy (default 0.95, the original's HF scripts')",
    )
    # With a prefix (the pipeline) the plain --max_new_tokens is calibration's too: the name the
    # original's generate_and_calibrate_hf.py gave its calibration budget.
    g.add_argument(
        *dict.fromkeys((f"--{prefix}max_new_tokens", "--max_new_tokens")),
        dest="calib_max_new_tokens",
        type=int,
        default=512,
        help="token budget per completion (default 512)",
    )


@dataclass(frozen=True)
class CalibrationConfig:
    """How a pass rate is measured and which are kept: the flags of `add_window_args` and the
    solve format, which must be the one training and evaluation use."""

    n_samples: int = 8
    schedule: str = "sequential"
    window_rule: str = "posterior"
    heldout_share: float = 0.15
    lo: float = 0.2
    hi: float = 0.8
    temperature: float = arg("calib_temperature", default=0.7)
    top_p: float = arg("calib_top_p", default=0.95)
    max_new_tokens: int = arg("calib_max_new_tokens", default=512)
    solve: SolveFormat = nested(solve_format_of, SolveFormat)

    def __post_init__(self) -> None:
        check(self.n_samples >= 1, "--n_samples must be >= 1")
        check(self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}")
        check(
            self.window_rule in WINDOW_RULES,
            f"--window_rule must be one of {', '.join(WINDOW_RULES)}",
        )
        check(0 <= self.heldout_share < 1, "--heldout_share must be in [0, 1)")
        check(
            0 <= self.lo <= self.hi <= 1,
            f"need 0 <= --lo <= --hi <= 1, got lo={self.lo} hi={self.hi}",
        )
        check(
            self.temperature >= 0 and 0 < self.top_p <= 1,
            "the calibration temperature must be >= 0 and its top_p in (0, 1]",
        )
        check(self.max_new_tokens >= 1, "the calibration max_new_tokens must be >= 1")


def in_window(pass_rate: float, lo: float, hi: float) -> bool:
    """The window is closed: lo <= pass_rate <= hi."""
    return lo <= pass_rate <= hi


# ---------------------------------------------------------------- the pass rate's uncertainty
# With a uniform prior, after s passes in n samples the pass rate is Beta(1+s, 1+n-s). For integer
# parameters its CDF is a binomial tail: P(p <= x) = P(Binomial(n+1, x) >= s+1).
def beta_cdf(x: float, passed: int, samples: int) -> float:
    """P(pass rate <= x) after `passed` of `samples`, uniform prior."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    m = samples + 1
    return sum(math.comb(m, j) * x**j * (1 - x) ** (m - j) for j in range(passed + 1, m + 1))


def credible_interval(passed: int, samples: int, mass: float = CREDIBLE_MASS) -> list[float]:
    """The equal-tailed interval holding `mass` of the posterior, by bisection."""

    def quantile(q: float) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if beta_cdf(mid, passed, samples) < q else (lo, mid)
        return round((lo + hi) / 2, 4)

    tail = (1 - mass) / 2
    return [quantile(tail), quantile(1 - tail)]


def window_probability(passed: int, samples: int, lo: float, hi: float) -> float:
    """P(lo <= pass rate <= hi) after `passed` of `samples`."""
    return beta_cdf(hi, passed, samples) - beta_cdf(lo, passed, samples)


def decide(m: dict, config: CalibrationConfig) -> bool:
    """Is a measured problem in the learnability window, by the config's rule?"""
    if config.window_rule == "point":
        return in_window(m["pass_rate"], config.lo, config.hi)
    # All failures or all passes is outside a window that excludes 0 or 1, however few samples
    # were drawn: such a group gives GRPO no advantage, and the sequential schedule stops on it
    # precisely to reject it (with 1 or 2 samples the posterior alone would still straddle lo).
    if not in_window(m["pass_rate"], config.lo, config.hi) and m["n_passed"] in (0, m["samples"]):
        return False
    return window_probability(m["n_passed"], m["samples"], config.lo, config.hi) > 0.5


# ---------------------------------------------------------------- measuring
def measure(problem: Problem, sampler, sandbox, config: CalibrationConfig, seed: int) -> dict:
    """Sample and judge one problem; returns the measurement written to the side file."""
    return measure_many([problem], sampler, sandbox, config, seed)[0]


def measure_many(
    problems: list[Problem], sampler, sandbox, config: CalibrationConfig, seed: int
) -> list[dict]:
    """Sample and judge several problems together, one generate call per stage of the schedule.

    An engine (openvino, vllm) keeps every sample of the call in flight, so measuring the problems
    of a round together is several times faster than one at a time. Each problem draws the
    samples it would draw alone: its seeds come from its key. `seconds` and `tokens` of a
    measurement are its even share of the calls that measured it.
    """
    if not problems:
        return []
    start, tokens = time.perf_counter(), getattr(sampler, "tokens_generated", None)
    types = [task_type(p.problem_type) for p in problems]
    bases = [item_seed(seed, "calibrate", p.key()) for p in problems]
    # Sequential: the first half, and the rest only if it was neither all failures nor all
    # passes (a 0/4 or 4/4 problem is outside any useful window with high probability).
    # Stage 1 draws the same samples as the first half of a fixed run.
    # With fewer than 4 samples a first stage of 1 is always all-or-nothing: no early stop then.
    sequential = config.schedule == "sequential" and config.n_samples >= 4
    first = config.n_samples // 2 if sequential else config.n_samples
    completions: list[list[str]] = [[] for _ in problems]
    verdicts: list[list] = [[] for _ in problems]
    for stage, n in enumerate((first, config.n_samples - first)):
        todo = [
            i
            for i, v in enumerate(verdicts)
            if n and not (v and sum(x.passed for x in v) in (0, len(v)))
        ]
        if not todo:
            break
        outs = sampler.generate(
            [types[i].prompt(problems[i], config.solve) for i in todo],
            n=n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_new_tokens=config.max_new_tokens,
            stop=config.solve.stop,
            seeds=[bases[i] if stage == 0 else item_seed(bases[i], "stage", 2) for i in todo],
        )
        for i, more in zip(todo, outs, strict=True):
            completions[i] += more
            verdicts[i] += types[i].judge(sandbox, [(problems[i], c) for c in more], config.solve)
    seconds = round((time.perf_counter() - start) / len(problems), 3)
    used = sampler.tokens_generated - tokens if tokens is not None else None
    out = []
    for k, (problem, v) in enumerate(zip(problems, verdicts, strict=True)):
        n_passed = sum(x.passed for x in v)
        share = None if used is None else used // len(problems) + (k < used % len(problems))
        out.append(
            {
                "key": problem.key(),
                "entry_point": problem.entry_point,
                "samples": len(v),
                "n_passed": n_passed,
                "pass_rate": n_passed / len(v),
                "interval": credible_interval(n_passed, len(v)),
                "reasons": [x.reason for x in v],
                "fractions": [round(x.fraction, 4) for x in v],
                "completions": completions[k],
                "seconds": seconds,
                "tokens": share,
            }
        )
    return out


class MeasuredStore:
    """The side file of measurements, keyed by problem key. Whether it may be reused under the
    given settings is decided by the stage's `core.runs.Run`."""

    def __init__(self, path, resume: bool, config: CalibrationConfig, seed: int):
        self.config, self.seed = config, seed
        self._sink = JsonlAppender(path, resume)
        self.path = self._sink.path
        self._by_key: dict[str, dict] = {m["key"]: m for m in self._sink.existing}

    def get(self, key: str) -> dict | None:
        return self._by_key.get(key)

    def measure(self, problem: Problem, sampler, sandbox) -> dict:
        """The stored measurement of `problem`, or a new one (stored before it is returned)."""
        return self.measure_many([problem], sampler, sandbox)[0]

    def measure_many(self, problems: list[Problem], sampler, sandbox) -> list[dict]:
        """Stored measurements where there are some; the other problems measured together."""
        new = list({p.key(): p for p in problems if self.get(p.key()) is None}.values())
        if new:
            for found in measure_many(new, sampler, sandbox, self.config, self.seed):
                self._sink.write(found)
                self._by_key[found["key"]] = found
        return [self._by_key[p.key()] for p in problems]

    def close(self) -> None:
        self._sink.close()


def calibrated(
    problem: Problem, m: dict, config: CalibrationConfig, identity: dict, seed: int
) -> CalibratedProblem:
    """The output record: the problem with its pass rate and calibration provenance."""
    d = problem.to_dict()
    d.update(
        pass_rate=m["pass_rate"],
        samples=m["samples"],
        n_passed=m["n_passed"],
        learnability_zone=decide(m, config),
    )
    d["calibration"] = {
        "model": identity["name"],
        "model_sha256": identity.get("sha256"),
        "adapters": [a.get("sha256") for a in identity.get("adapters", [])],
        "seed": seed,
        "temperature": config.temperature,
        "schedule": config.schedule,
        "window_rule": config.window_rule,
        "window": [config.lo, config.hi],
        "interval": m.get("interval") or credible_interval(m["n_passed"], m["samples"]),
        "interval_mass": CREDIBLE_MASS,
        "chat": config.solve.chat,
        "prompt_version": config.solve.version,
    }
    return CalibratedProblem.from_dict(d)


# ---------------------------------------------------------------- the held-out split
def is_heldout(problem: Problem, share: float) -> bool:
    """Whether a problem belongs to the held-out split: a stable hash of its key, so the same
    problem lands on the same side in every run, whatever else the curriculum holds."""
    return item_seed(0, "heldout", problem.key()) < share * 2**63


def heldout_path(output) -> str:
    """Where a curriculum's held-out split goes: `x.jsonl` -> `x.heldout.jsonl`."""
    text = str(output)
    return (text[: -len(".jsonl")] if text.endswith(".jsonl") else text) + ".heldout.jsonl"


def split_heldout(records: list, share: float) -> tuple[list, list]:
    """(to train on, held out): in-window records whose hash falls in `share` are held out."""
    held = [r for r in records if r.learnability_zone and is_heldout(r, share)]
    ids = {id(r) for r in held}
    return [r for r in records if id(r) not in ids], held


# ---------------------------------------------------------------- input filters and report
def prefilter(
    problems: list[tuple[int, Problem]], jaccard_threshold: float, keep_humaneval_overlap: bool
) -> tuple[list[tuple[int, Problem]], list[dict]]:
    """Drop duplicates (of an earlier line) and HumanEval overlaps. Returns (kept, dropped)."""
    deduper, kept, dropped, keys = Deduper(jaccard_threshold), [], [], {}
    for line, p in problems:
        if p.problem_type != "code":
            # Items about a program (deduction, abduction) share its function name and code by
            # design: only the same item twice is a duplicate; the program's own check was its
            # code problem's.
            why = f"the same item as line {keys[p.key()]}" if p.key() in keys else None
            keys.setdefault(p.key(), line)
            if why:
                dropped.append(
                    {"line": line, "entry_point": p.entry_point, "reason": "duplicate", "note": why}
                )
            else:
                kept.append((line, p))
            continue
        why = deduper.seen(p)
        overlap = humaneval_overlap(p)
        if why:
            dropped.append(
                {"line": line, "entry_point": p.entry_point, "reason": "duplicate", "note": why}
            )
            continue
        deduper.add(p, f"line {line}")
        if overlap and not keep_humaneval_overlap:
            dropped.append(
                {
                    "line": line,
                    "entry_point": p.entry_point,
                    "reason": "humaneval_overlap",
                    "note": overlap,
                }
            )
            continue
        kept.append((line, p))
    return kept, dropped


def window_counts(measurements: list[dict], config: CalibrationConfig) -> dict:
    """How many problems fell below, inside and above the window, and the per-k histogram."""
    rates = [m["pass_rate"] for m in measurements]
    kept = [decide(m, config) for m in measurements]
    return {
        "measured": len(rates),
        "in_window": sum(kept),
        "too_hard": sum(not k and r < (config.lo + config.hi) / 2 for k, r in zip(kept, rates)),
        "too_easy": sum(not k and r >= (config.lo + config.hi) / 2 for k, r in zip(kept, rates)),
        "samples_drawn": sum(m["samples"] for m in measurements),
        "mean_pass_rate": round(sum(rates) / len(rates), 4) if rates else None,
        "work_seconds": round(sum(m.get("seconds", 0) for m in measurements), 2),
        "tokens_generated": sum(m.get("tokens") or 0 for m in measurements),
        "n_passed_histogram": dict(
            sorted(Counter(f"{m['n_passed']}/{m['samples']}" for m in measurements).items())
        ),
        "sample_reasons": dict(
            Counter(r for m in measurements for r in m.get("reasons", [])).most_common()
        ),
    }


def plot_histogram(measurements: list[dict], lo: float, hi: float, path, title: str) -> None:
    """A PNG bar chart of pass rates (one bar per possible n_passed) with the window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = max((m["samples"] for m in measurements), default=1)
    # On the grid of the largest sample count: a sequential 0/4 or 4/4 lands on 0 or 1.
    counts = Counter(round(m["pass_rate"] * samples) for m in measurements)
    xs = [k / samples for k in range(samples + 1)]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axvspan(lo, hi, color="tab:green", alpha=0.15, label=f"kept window [{lo:g}, {hi:g}]")
    ax.bar(
        xs,
        [counts.get(k, 0) for k in range(samples + 1)],
        width=0.8 / samples,
        color=["tab:green" if in_window(x, lo, hi) else "tab:gray" for x in xs],
    )
    ax.set_xlabel(f"pass rate ({samples} samples per problem)")
    ax.set_ylabel("problems")
    ax.set_title(title)
    ax.set_xlim(-0.6 / samples, 1 + 0.6 / samples)
    ax.legend(loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
